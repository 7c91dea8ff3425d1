#!/usr/bin/env python3
"""rostest (test/odapi/node.test): the node runs an OD API model as a frozen graph and as a SavedModel.

The model is trained for a few hundred steps from scratch by test_odapi.py: what it says about a frame is not
checked, only that each real frame gets its state, with the frame's stamp and boxes inside the frame.
"""

import unittest

import rospy
import rostest

from tl_classifier.ros.convert import rgb_to_compressed, rgb_to_image
from tl_classifier.states import State
from tl_classifier.testing.realdata import sim_frames
from tl_classifier.testing.rostest import raw_and_compressed, send


class TestOdApiModel(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        rospy.init_node("test_odapi_node")
        cls.frames = sim_frames()
        cls.pub, cls.cpub, cls.states, cls.compressed_states = raw_and_compressed()

    def check(self, make, pub, listener):
        for colour in ("red", "yellow", "green", "unknown"):
            for rgb in self.frames[colour][:2]:
                msg = make(rgb)
                out = send(pub, msg, listener, frame_id=f"cam_{colour}")
                self.assertEqual(out.header.stamp, msg.header.stamp)
                self.assertIn(State(out.raw_state), set(State))
                for d in out.lights:
                    self.assertTrue(0 <= d.x_min <= d.x_max <= rgb.shape[1] and 0 <= d.y_min <= d.y_max <= rgb.shape[0])

    def test_frozen_graph(self):
        self.check(lambda rgb: rgb_to_image(rgb, "bgr8"), self.pub, self.states)

    def test_saved_model(self):
        self.check(lambda rgb: rgb_to_compressed(rgb, "jpeg"), self.cpub, self.compressed_states)


if __name__ == "__main__":
    rostest.rosrun("tl_classifier", "odapi_node", TestOdApiModel)
