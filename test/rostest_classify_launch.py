#!/usr/bin/env python3
"""rostest: launch/classify.launch as users start it, with its default model, fed real frames.

Arguments: ``--topic`` where the launch file must listen, ``--size WxH`` of
the frames sent (the real sim frames are scaled to the car camera's size for
``site:=true``).
"""

import argparse
import unittest

import cv2
import rospy
import rostest
from sensor_msgs.msg import Image

from tl_classifier.ros.convert import rgb_to_image
from tl_classifier.states import State
from tl_classifier.testing.realdata import sim_frames
from tl_classifier.testing.rostest import StateListener, send, wait_for_subscriber

PARSER = argparse.ArgumentParser()
PARSER.add_argument("--topic", default="/image_color")
PARSER.add_argument("--size", default="800x600")
ARGS = PARSER.parse_args([])


class TestClassifyLaunch(unittest.TestCase):
    def test_states_follow_the_light(self):
        rospy.init_node("test_classify_launch")
        width, height = (int(v) for v in ARGS.size.split("x"))
        frames = sim_frames()
        listener = StateListener()
        pub = rospy.Publisher(ARGS.topic, Image, queue_size=1)
        wait_for_subscriber(pub)
        published = []
        for colour in ("unknown", "red", "green", "yellow", "red"):
            for rgb in frames[colour][:4]:
                msg = rgb_to_image(cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA), "bgr8")
                out = send(pub, msg, listener)
                self.assertEqual(State(out.raw_state), State[colour.upper()])
                published.append(State(out.state))
        # default filter: 3 frames for a new state, RED at once, UNKNOWN never first
        U, R, G, Y = State.UNKNOWN, State.RED, State.GREEN, State.YELLOW
        self.assertEqual(published, [U] * 4 + [R] * 4 + [R, R, G, G] + [G, G, Y, Y] + [R] * 4)


if __name__ == "__main__":
    ARGS, _ = PARSER.parse_known_args(rospy.myargv()[1:])
    rostest.rosrun("tl_classifier", "classify_launch", TestClassifyLaunch)
