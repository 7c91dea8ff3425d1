#!/usr/bin/env python3
"""rostest: launch/classify.launch as users start it, with its default model, fed real frames.

Arguments: ``--topic`` where the launch file must listen, ``--size WxH`` of
the frames sent (the real sim frames are scaled to the car camera's size for
``site:=true``), ``--roi`` the region of interest the launch file must give the node
(the frames are scaled into it, as a camera that sees its car's hood below them).
"""

import argparse
import unittest

import cv2
import numpy as np
import rospy
import rostest
from sensor_msgs.msg import Image

from tl_classifier.params import Roi
from tl_classifier.ros.convert import rgb_to_image
from tl_classifier.states import State
from tl_classifier.testing.realdata import sim_frames
from tl_classifier.testing.rostest import StateListener, send, wait_for_subscriber

PARSER = argparse.ArgumentParser()
PARSER.add_argument("--topic", default="/image_color")
PARSER.add_argument("--size", default="800x600")
PARSER.add_argument("--roi", default=str(Roi()))
ARGS = PARSER.parse_args([])


class TestClassifyLaunch(unittest.TestCase):
    def test_states_follow_the_light(self):
        rospy.init_node("test_classify_launch")
        width, height = (int(v) for v in ARGS.size.split("x"))
        roi = Roi.parse(ARGS.roi)
        self.assertEqual(Roi.parse(rospy.get_param("/tl_classifier/roi")), roi)  # what the launch file gives the node
        top = int(roi.y_max * height)  # the frame above the hood; below it, a dark hood
        frames = sim_frames()
        listener = StateListener()
        pub = rospy.Publisher(ARGS.topic, Image, queue_size=1)
        wait_for_subscriber(pub)
        published = []
        for colour in ("unknown", "red", "green", "yellow", "red"):
            for rgb in frames[colour][:4]:
                frame = np.zeros((height, width, 3), np.uint8)
                frame[:top] = cv2.resize(rgb, (width, top), interpolation=cv2.INTER_AREA)
                msg = rgb_to_image(frame, "bgr8")
                out = send(pub, msg, listener)
                self.assertEqual(State(out.raw_state), State[colour.upper()])
                published.append(State(out.state))
        # default filter: 3 frames for a new state, RED at once, UNKNOWN never first
        U, R, G, Y = State.UNKNOWN, State.RED, State.GREEN, State.YELLOW
        self.assertEqual(published, [U] * 4 + [R] * 4 + [R, R, G, G] + [G, G, Y, Y] + [R] * 4)


if __name__ == "__main__":
    ARGS, _ = PARSER.parse_known_args(rospy.myargv()[1:])
    rostest.rosrun("tl_classifier", "classify_launch", TestClassifyLaunch)
