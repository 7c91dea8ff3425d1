"""``rosrun tl_classifier echo_states``: the states published on /traffic_light_state, one line each."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from tl_classifier.commands import run_main


def _main(argv: list[str]) -> int:
    import rospy

    from tl_classifier.ros.demo import StatePrinter, subscribe_states

    p = argparse.ArgumentParser(
        prog="echo_states", description="Print the states published on /traffic_light_state, one line each."
    )
    p.add_argument("--topic", default="traffic_light_state")
    p.add_argument(
        "--idle-exit",
        type=float,
        default=0.0,
        metavar="SEC",
        help="exit SEC seconds after the last message, once one has come (0: run until shut down)",
    )
    a = p.parse_args(rospy.myargv([sys.argv[0], *argv])[1:])
    rospy.init_node("echo_states", anonymous=True)
    show = StatePrinter()
    subscribe_states(a.topic, show)
    while not rospy.is_shutdown():
        if a.idle_exit and show.last and time.monotonic() - show.last > a.idle_exit:
            break
        time.sleep(0.1)
    print(show.summary(), flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``rosrun tl_classifier echo_states [--topic T] [--idle-exit SEC]``."""
    return run_main(_main, argv, "echo_states")
