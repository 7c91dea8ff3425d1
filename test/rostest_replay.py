#!/usr/bin/env python3
"""rostest (test/replay/node.test): the live node, fed by ``rosbag play``, publishes what classify_bag wrote.

The bag is played at its recorded rate (2 Hz: the node keeps up, so no frame is dropped) once the node has
subscribed; every state the node publishes is matched to classify_bag's row for the same frame stamp.
"""

import csv
import subprocess
import sys
import time
import unittest

import rosgraph
import rospy
import rostest

from tl_classifier.states import State
from tl_classifier.testing.rostest import StateListener

BAG, CSV = sys.argv[1], sys.argv[2]


class TestReplayAgrees(unittest.TestCase):
    def test_node_publishes_what_classify_bag_wrote(self):
        rospy.init_node("test_replay")
        listener = StateListener("/traffic_light_state")
        master = rosgraph.Master("/test_replay")
        deadline = time.monotonic() + 120
        while not any(t == "/image_color" and subs for t, subs in master.getSystemState()[1]):
            self.assertLess(time.monotonic(), deadline, "the node did not subscribe to /image_color")
            time.sleep(0.2)
        time.sleep(1.0)
        subprocess.run(["rosbag", "play", "--quiet", BAG], check=True)
        time.sleep(3.0)
        got = {round(m.header.stamp.to_sec(), 6): m for m, _ in listener.drain()}
        rows = [r for r in csv.DictReader(open(CSV, encoding="utf-8")) if r["state"]]
        self.assertGreater(len(rows), 20)
        for r in rows:
            msg = got.get(round(float(r["stamp"]), 6))
            self.assertIsNotNone(msg, f"the node published nothing for the frame stamped {r['stamp']}")
            self.assertEqual(State(msg.raw_state).name, r["raw_state"], r["stamp"])
            self.assertEqual(State(msg.state).name, r["state"], r["stamp"])
            self.assertAlmostEqual(msg.confidence, float(r["confidence"]), places=3)
            self.assertEqual(len(msg.lights), int(r["lights"]))
        self.assertEqual(len(got), len(rows), "the node published states for frames classify_bag did not")


if __name__ == "__main__":
    rostest.rosrun("tl_classifier", "replay_agrees", TestReplayAgrees, sysargs=sys.argv[:1])
