"""Helpers for the rostest nodes in this folder (they run under a real roscore started by rostest)."""

from __future__ import annotations

import os
import queue
import socket
import subprocess
import time

import rospy

from tl_classifier.msg import TrafficLightState


def wait_for_subscriber(pub: rospy.Publisher, timeout: float = 90.0) -> None:
    """Wait until ``pub`` has a subscriber (the classifier subscribes once its model is warm)."""
    deadline = time.monotonic() + timeout
    while pub.get_num_connections() == 0:
        if time.monotonic() > deadline or rospy.is_shutdown():
            raise AssertionError(f"nobody subscribed to {pub.resolved_name} within {timeout} s")
        time.sleep(0.05)
    time.sleep(0.3)  # let the connection settle before the first message


class StateListener:
    """Collects (message, receive time) from a TrafficLightState topic."""

    def __init__(self, topic: str = "/traffic_light_state") -> None:
        self.queue: queue.Queue[tuple[TrafficLightState, float]] = queue.Queue()
        self.sub = rospy.Subscriber(topic, TrafficLightState, self._got, queue_size=1000)

    def _got(self, msg: TrafficLightState) -> None:
        self.queue.put((msg, rospy.get_rostime().to_sec()))

    def drain(self) -> list[tuple[TrafficLightState, float]]:
        out = []
        while True:
            try:
                out.append(self.queue.get_nowait())
            except queue.Empty:
                return out

    def wait_for_stamp(self, stamp: rospy.Time, timeout: float = 20.0) -> TrafficLightState:
        """The state published for the frame stamped ``stamp`` (others are passed over)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                msg, _ = self.queue.get(timeout=0.1)
            except queue.Empty:
                continue
            if msg.header.stamp == stamp:
                return msg
        raise AssertionError(f"no state for the frame stamped {stamp.to_sec():.3f} within {timeout} s")


def raw_and_compressed(queue_size: int = 1) -> tuple[rospy.Publisher, rospy.Publisher, StateListener, StateListener]:
    """Publishers of /image_color and /image_color/compressed, and listeners of the states of the two nodes that read
    them (/traffic_light_state, /traffic_light_state_compressed), returned once both nodes have subscribed."""
    from sensor_msgs.msg import CompressedImage, Image

    states = StateListener("/traffic_light_state")
    compressed_states = StateListener("/traffic_light_state_compressed")
    pub = rospy.Publisher("/image_color", Image, queue_size=queue_size)
    cpub = rospy.Publisher("/image_color/compressed", CompressedImage, queue_size=queue_size)
    wait_for_subscriber(pub)
    wait_for_subscriber(cpub)
    return pub, cpub, states, compressed_states


def send(pub: rospy.Publisher, msg, listener: StateListener, frame_id: str = "camera") -> TrafficLightState:
    """Publish one frame with a fresh stamp and return the state published for it."""
    msg.header.stamp = rospy.Time.now()
    msg.header.frame_id = frame_id
    pub.publish(msg)
    return listener.wait_for_stamp(msg.header.stamp)


def node_command(model: str, camera_topic: str = "/image_raw", width: int = 1368, height: int = 1096) -> list[str]:
    """The command line of tl_classifier_node on ``model``, warmed up at the camera's frame size."""
    from pathlib import Path

    node = Path(__file__).resolve().parents[2] / "scripts" / "tl_classifier_node"
    return [str(node), "__name:=tl_classifier", f"_model:={model}", f"_camera_topic:={camera_topic}",
            f"_warmup_width:={width}", f"_warmup_height:={height}"]  # fmt: skip


def start_master(timeout: float = 30.0) -> tuple[subprocess.Popen, str]:
    """Start a real roscore on a free port; return the process and its URI (not exported)."""
    import rosgraph

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    uri = f"http://127.0.0.1:{port}"
    env = {**os.environ, "ROS_MASTER_URI": uri}
    proc = subprocess.Popen(["roscore", "-p", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    while not rosgraph.is_master_online(uri):
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.terminate()
            raise RuntimeError(f"roscore did not start on port {port}")
        time.sleep(0.1)
    return proc, uri


def stop(proc: subprocess.Popen) -> None:
    """Stop a process started here, politely, then firmly."""
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
