"""Helpers for the rostest nodes in this folder (they run under a real roscore started by rostest)."""

from __future__ import annotations

import queue
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


def send(pub: rospy.Publisher, msg, listener: StateListener, frame_id: str = "camera") -> TrafficLightState:
    """Publish one frame with a fresh stamp and return the state published for it."""
    msg.header.stamp = rospy.Time.now()
    msg.header.frame_id = frame_id
    pub.publish(msg)
    return listener.wait_for_stamp(msg.header.stamp)
