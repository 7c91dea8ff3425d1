#!/usr/bin/env python3
"""rostest: real simulator frames in every encoding; the node must publish their real state.

The node runs the shipped colour-threshold model (a real OD API-format graph),
which needs true colours: a BGR image read as RGB turns a red lamp blue.
"""

import unittest

import rospy
import rostest
from sensor_msgs.msg import Image

from tl_classifier.ros.convert import rgb_to_compressed, rgb_to_image
from tl_classifier.states import State
from tl_classifier.testing.realdata import sim_frames
from tl_classifier.testing.rostest import raw_and_compressed, send

COLOURS = ("red", "yellow", "green")


class TestEncodings(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        rospy.init_node("test_encodings")
        cls.frames = sim_frames()
        cls.pub, cls.cpub, cls.states, cls.compressed_states = raw_and_compressed()

    def run_colours(self, make, pub, listener, expect_colour=True):
        """Three frames of each colour in turn; raw state every frame, filtered state after two."""
        for colour in COLOURS:
            expected = State[colour.upper()] if expect_colour else State.UNKNOWN
            for i, rgb in enumerate(self.frames[colour][:3]):
                msg = make(rgb)
                out = send(pub, msg, listener, frame_id=f"cam_{colour}")
                self.assertEqual(out.header.frame_id, f"cam_{colour}")
                self.assertEqual(out.header.stamp, msg.header.stamp)
                self.assertEqual(State(out.raw_state), expected, f"{colour} frame {i}")
                if expected is not State.UNKNOWN:
                    self.assertGreaterEqual(out.confidence, 0.5)
                    self.assertTrue(out.lights)
                    self.assertTrue(all(State(d.state) is expected for d in out.lights))
                    d = out.lights[0]
                    self.assertTrue(0 <= d.x_min < d.x_max <= rgb.shape[1] and 0 <= d.y_min < d.y_max <= rgb.shape[0])
            if expect_colour:
                self.assertEqual(State(out.state), expected, f"filtered state after three {colour} frames")

    def test_rgb8(self):
        self.run_colours(lambda rgb: rgb_to_image(rgb, "rgb8"), self.pub, self.states)

    def test_bgr8(self):
        self.run_colours(lambda rgb: rgb_to_image(rgb, "bgr8"), self.pub, self.states)

    def test_rgba8(self):
        self.run_colours(lambda rgb: rgb_to_image(rgb, "rgba8"), self.pub, self.states)

    def test_bgra8(self):
        self.run_colours(lambda rgb: rgb_to_image(rgb, "bgra8"), self.pub, self.states)

    def test_bayer(self):
        for pattern in ("rggb", "bggr", "gbrg", "grbg"):
            self.run_colours(lambda rgb, p=pattern: rgb_to_image(rgb, f"bayer_{p}8"), self.pub, self.states)

    def test_mono8_has_no_colour(self):
        self.run_colours(lambda rgb: rgb_to_image(rgb, "mono8"), self.pub, self.states, expect_colour=False)

    def test_compressed_jpeg_and_png(self):
        self.run_colours(lambda rgb: rgb_to_compressed(rgb, "jpeg"), self.cpub, self.compressed_states)
        self.run_colours(lambda rgb: rgb_to_compressed(rgb, "png"), self.cpub, self.compressed_states)

    def test_bgr_data_labelled_rgb8_is_not_red(self):
        """The mix-up itself, made by a sender: BGR bytes called rgb8. The red light is lost."""
        for rgb in self.frames["red"][:3]:
            msg = rgb_to_image(rgb, "bgr8")
            msg.encoding = "rgb8"
            out = send(self.pub, msg, self.states)
            self.assertNotEqual(State(out.raw_state), State.RED)

    def test_debug_image_when_watched(self):
        self.assertEqual(rospy.get_published_topics().count(["/tl_classifier/debug_image", "sensor_msgs/Image"]), 1)
        got = []
        sub = rospy.Subscriber("/tl_classifier/debug_image", Image, got.append, queue_size=5)
        deadline = rospy.Time.now() + rospy.Duration(10)
        while sub.get_num_connections() == 0 and rospy.Time.now() < deadline:
            rospy.sleep(0.05)
        rgb = self.frames["red"][0]
        out = send(self.pub, rgb_to_image(rgb, "rgb8"), self.states)
        deadline = rospy.Time.now() + rospy.Duration(5)
        while not got and rospy.Time.now() < deadline:
            rospy.sleep(0.05)
        sub.unregister()
        self.assertTrue(got, "no debug image while subscribed")
        self.assertEqual((got[0].height, got[0].width, got[0].encoding), (rgb.shape[0], rgb.shape[1], "rgb8"))
        self.assertEqual(got[0].header.stamp, out.header.stamp)


if __name__ == "__main__":
    rostest.rosrun("tl_classifier", "node_encodings", TestEncodings)
