"""``rosrun tl_classifier demo BAG``: what ``make demo`` runs; demo.launch plays BAG, the states are printed."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from tl_classifier.commands import run_main


def _main(argv: list[str]) -> int:
    import rospy

    from tl_classifier.ros.demo import DemoLaunch, StatePrinter, subscribe_states

    p = argparse.ArgumentParser(prog="demo", description="Play a bag into classify.launch and print every state published.")
    p.add_argument("bag", help="the bag to play (make demo writes demo/sample.bag with synthesize)")
    p.add_argument("--site", action="store_true", help="classify.launch site:=true (/image_raw)")
    p.add_argument("--log", help="roslaunch's output (default: roslaunch.log beside the bag)")
    p.add_argument("--timeout", type=float, default=300.0, help="give up after this many seconds (default: 300)")
    a = p.parse_args(argv)
    bag = Path(a.bag).resolve()
    show = StatePrinter()
    with DemoLaunch(bag, a.site, Path(a.log) if a.log else bag.with_name("roslaunch.log"), a.timeout) as launch:
        launch.wait_for_master()
        rospy.init_node("demo", anonymous=True, disable_signals=True)
        try:
            subscribe_states("traffic_light_state", show)
            launch.wait_until_played(show)
        finally:
            rospy.signal_shutdown("demo finished")
        if not show.counts:
            raise launch.failed("no state was published")
    print(show.summary(), flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``rosrun tl_classifier demo BAG [--site]``."""
    return run_main(_main, argv, "demo")
