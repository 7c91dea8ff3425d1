#!/usr/bin/env python3
"""rostest: a hostile camera stream.  The node must never go deaf.

Every malformed message is followed by a good red simulator frame, whose state
must come back; then frames of a new size every time (the node's memory must
stay bounded); then a burst of frames that all fail (the watchdog in
/diagnostics must say ERROR, and OK again once good frames flow).  Two nodes
run the colour-threshold model: one on sensor_msgs/Image, one on CompressedImage.
"""

import time
import unittest
from pathlib import Path

import cv2
import numpy as np
import roslaunch
import rospy
import rostest
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from sensor_msgs.msg import CompressedImage, Image

from tl_classifier.ros.convert import rgb_to_compressed, rgb_to_image
from tl_classifier.states import State
from tl_classifier.testing.realdata import sim_frames
from tl_classifier.testing.rostest import raw_and_compressed, send

MODEL = Path(__file__).resolve().parent.parent / "models" / "colour_baseline"


def raw(height, width, encoding="rgb8", step=None, data=b""):
    msg = Image()
    msg.height, msg.width, msg.encoding = height, width, encoding
    msg.step = width * 3 if step is None else step
    msg.data = data
    return msg


def compressed(fmt, data):
    msg = CompressedImage()
    msg.format, msg.data = fmt, data
    return msg


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for process {pid}")


class TestHostileStream(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        rospy.init_node("test_hostile")
        cls.launch = roslaunch.scriptapi.ROSLaunch()
        cls.launch.start()
        cls.nodes = {}
        for name, topic, out in (
            ("tl_raw", "/image_color", "/traffic_light_state"),
            ("tl_compressed", "/image_color/compressed", "/traffic_light_state_compressed"),
        ):
            params = {"model": str(MODEL), "camera_topic": topic, "state_count_threshold": 1, "stall_timeout": 1.0}
            for key, value in params.items():
                rospy.set_param(f"/{name}/{key}", value)
            cls.nodes[name] = cls.launch.launch(
                roslaunch.core.Node(
                    "tl_classifier", "tl_classifier_node", name=name, output="screen", remap_args=[("traffic_light_state", out)]
                )
            )
        cls.diagnostics = []
        cls.handled = {}  # camera topic -> (received, frames failed + processed), from /diagnostics
        rospy.Subscriber("/diagnostics", DiagnosticArray, cls._diag, queue_size=100)
        # someone watches the debug image: the odd frames are drawn too, and drawing must not end the node either
        cls.debug = rospy.Subscriber("/tl_raw/debug_image", Image, lambda _: None, queue_size=1)
        cls.pub, cls.cpub, cls.states, cls.cstates = raw_and_compressed(queue_size=10)
        cls.red = sim_frames()["red"][0]
        cls.jpeg = rgb_to_compressed(cls.red, "jpeg").data
        cls.png = rgb_to_compressed(cls.red, "png").data

    @classmethod
    def _diag(cls, array):
        for status in array.status:
            if "Traffic light classifier" in status.name:
                values = {kv.key: kv.value for kv in status.values}
                count = int(values["frames_failed"]) + int(values["frames_processed"])
                cls.handled[values["camera_topic"]] = (time.monotonic(), count)
                if values["camera_topic"] == "/image_color":
                    cls.diagnostics.append((time.monotonic(), status.level, status.message, values))

    @classmethod
    def tearDownClass(cls):
        cls.launch.stop()

    def alive(self, pub, listener, make):
        """A good red frame after a bad one: its state must come back (the node is not deaf)."""
        out = send(pub, make(self.red), listener)
        self.assertEqual(State(out.raw_state), State.RED)

    def feed(self, bad, pub, listener, make):
        """A bad frame, counted by the node (failed or processed), then a good one whose state must come back."""
        topic = pub.resolved_name
        before = self.wait_handled(topic)  # every frame sent so far, counted
        bad.header.stamp = rospy.Time.now()
        pub.publish(bad)
        self.wait_handled(topic, above=before)  # taken alone, so that the good frame cannot replace it unseen
        self.alive(pub, listener, make)

    def wait_handled(self, topic, above=None, timeout=30.0):
        """The node's count of frames handled on ``topic``, from diagnostics published after this call
        (so that it counts every frame handled before it), and above ``above`` if given."""
        since = time.monotonic()
        deadline = since + timeout
        while time.monotonic() < deadline:
            when, count = self.handled.get(topic, (0.0, -1))
            if when > since and (above is None or count > above):
                return count
            time.sleep(0.05)
        raise AssertionError(f"the node on {topic} did not count the frame within {timeout} s")

    def latest(self, key):
        time.sleep(1.2)  # diagnostics come every 0.5 s
        return self.diagnostics[-1][3][key]

    def test_1_hostile_raw_images(self):
        n = 800 * 600 * 3
        bad = {
            "zero size": raw(0, 0, data=b""),
            "short data": raw(600, 800, data=b"\x00" * 1000),
            "step too small": raw(600, 800, step=100, data=b"\x00" * n),
            "step too large": raw(600, 800, step=5000, data=b"\x00" * n),
            "unknown encoding": raw(600, 800, encoding="yuv_weird", data=b"\x00" * n),
            "16UC1": raw(600, 800, encoding="16UC1", step=1600, data=b"\x01" * (1600 * 600)),
            "32FC1": raw(600, 800, encoding="32FC1", step=3200, data=np.ones((600, 800), np.float32).tobytes()),
            "header far larger than data": raw(100000, 100000, step=300000, data=b"\x00" * 12),
        }
        odd = {  # valid, but no camera's: the model may classify them (UNKNOWN) or fail on them; the node goes on
            "1x1": raw(1, 1, data=b"\x80" * 3),
            "1x20000": raw(1, 20000, data=b"\x80" * 60000),
            "20000x1": raw(20000, 1, data=b"\x80" * 60000),
        }
        make = lambda rgb: rgb_to_image(rgb, "rgb8")  # noqa: E731
        before = int(self.latest("frames_failed"))
        for name, msg in {**bad, **odd}.items():
            with self.subTest(name):
                self.feed(msg, self.pub, self.states, make)
        failed = int(self.latest("frames_failed")) - before
        self.assertGreaterEqual(failed, len(bad))
        self.assertLessEqual(failed, len(bad) + len(odd))

    def test_2_hostile_compressed_images(self):
        garbage = np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes()
        bad_png = b"\x89PNX\r\n\x1a\n" + self.png[8:]
        cases = {
            "empty data": (compressed("jpeg", b""), True),
            "random bytes": (compressed("jpeg", garbage), True),
            "PNG with a wrong header": (compressed("png", bad_png), True),
            "truncated JPEG": (compressed("jpeg", self.jpeg[: len(self.jpeg) // 3]), False),  # libjpeg may decode part
            "format that lies (JPEG bytes said to be png)": (compressed("png", self.jpeg), False),
        }
        make = lambda rgb: rgb_to_compressed(rgb, "jpeg")  # noqa: E731
        for name, (msg, _) in cases.items():
            with self.subTest(name):
                self.feed(msg, self.cpub, self.cstates, make)
        # the lying format decodes by content: the right state
        out = send(self.cpub, compressed("png", self.jpeg), self.cstates)
        self.assertEqual(State(out.raw_state), State.RED)

    def test_3_a_new_size_every_frame(self):
        rng = np.random.default_rng(1)
        pid = self.nodes["tl_raw"].get_info()["pid"]
        rss = []
        for i in range(60):
            w, h = int(rng.integers(16, 1700)), int(rng.integers(16, 1300))
            out = send(self.pub, rgb_to_image(cv2.resize(self.red, (w, h)), "rgb8"), self.states)
            self.assertIn(State(out.raw_state), (State.RED, State.UNKNOWN), f"{w}x{h}")
            if i in (19, 59):
                rss.append(rss_mb(pid))
        rospy.loginfo(f"node RSS after 20 sizes {rss[0]:.0f} MB, after 60 sizes {rss[1]:.0f} MB")
        # 40 more new sizes may not cost more than a few frames' worth of memory: nothing is kept per size
        self.assertLess(rss[1] - rss[0], 80.0, f"memory grows with every new frame size: {rss}")
        self.assertEqual(State(send(self.pub, rgb_to_image(self.red, "rgb8"), self.states).raw_state), State.RED)

    def test_4_watchdog_error_then_ok(self):
        start = time.monotonic()
        while time.monotonic() - start < 3.0:  # frames arrive, every one fails: nothing is classified
            msg = raw(0, 0)
            msg.header.stamp = rospy.Time.now()
            self.pub.publish(msg)
            time.sleep(0.05)
        errors = [d for d in self.diagnostics if d[0] > start and d[1] == DiagnosticStatus.ERROR]
        self.assertTrue(errors, f"no ERROR in /diagnostics while nothing was classified: {self.diagnostics[-3:]}")
        self.assertIn("none has been classified", errors[-1][2])
        recovered = time.monotonic()
        for _ in range(200):  # good frames at 10 Hz, as a camera's, push the failures out of the recent window
            self.alive(self.pub, self.states, lambda rgb: rgb_to_image(rgb, "rgb8"))
            time.sleep(0.1)
            if any(d[0] > recovered and d[1] == DiagnosticStatus.OK for d in self.diagnostics):
                break
        after = [d[1] for d in self.diagnostics if d[0] > recovered]
        seen = [(round(d[0] - start, 2), d[1], d[2]) for d in self.diagnostics if d[0] > start]
        self.assertIn(DiagnosticStatus.OK, after, f"not OK again after good frames: {seen}")
        self.assertIn(DiagnosticStatus.WARN, after, f"no WARN while many recent frames had failed: {seen}")
        self.assertTrue(all(p.is_alive() for p in self.nodes.values()))


if __name__ == "__main__":
    rostest.rosrun("tl_classifier", "node_hostile", TestHostileStream)
