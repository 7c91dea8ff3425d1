"""The demo and ``echo_states``: printing published states, and running demo.launch until its bag has played."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from tl_classifier.errors import TLClassifierError
from tl_classifier.states import State, to_styx


class StatePrinter:
    """Prints each ``TrafficLightState`` as one line and counts the published states (echo_states and the demo)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.last = 0.0  #: time.monotonic() of the last message, 0 before the first

    def __call__(self, msg: Any) -> None:  # a TrafficLightState
        self.last = time.monotonic()
        self.counts[State(msg.state).name] += 1
        lights = ", ".join(f"{d.label} {d.score:.2f}" for d in msg.lights[:3])
        print(
            f"{msg.header.stamp.to_sec():.3f} state={State(msg.state).name:<7} (styx {to_styx(msg.state)}) "
            f"frame={State(msg.raw_state).name:<7} conf={msg.confidence:.2f} "
            f"{1e3 * msg.inference_time:5.1f} ms  lights: {lights or '-'}",
            flush=True,
        )

    def summary(self) -> str:
        return "states published: " + (", ".join(f"{k} {v}" for k, v in self.counts.items()) or "none")


def subscribe_states(topic: str, printer: StatePrinter) -> object:
    """Subscribe ``printer`` to the states on ``topic`` (the node must be initialised)."""
    import rospy

    from tl_classifier.msg import TrafficLightState

    return rospy.Subscriber(topic, TrafficLightState, printer, queue_size=100)


class DemoLaunch:
    """demo.launch (classify.launch + rosbag play) as a child process, its output in a log file.

    The terminal shows the states and the summary only (roslaunch's own lines, "killing on exit" and
    the like, are in the log); the log's end is shown if the demo fails.  Use as a context manager:
    leaving it stops roslaunch as Ctrl-C would.
    """

    def __init__(self, bag: Path, site: bool, log: Path, timeout: float) -> None:
        if not bag.is_file():
            raise TLClassifierError("no such bag (make demo writes one with synthesize)", bag)
        self.log = log
        self.deadline = time.monotonic() + timeout
        self.timeout = timeout
        cmd = ["roslaunch", "tl_classifier", "demo.launch", f"bag:={bag.resolve()}", f"site:={'true' if site else 'false'}"]
        with open(log, "w", encoding="utf-8") as out:
            self.process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def failed(self, why: str) -> TLClassifierError:
        """The error to raise, after printing the end of roslaunch's log."""
        tail = self.log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-15:]
        print("\n".join(tail), file=sys.stderr)
        return TLClassifierError(f"{why} (roslaunch's output: {self.log})")

    def wait_for_master(self) -> None:
        import rosgraph

        while not rosgraph.is_master_online():
            if self.process.poll() is not None or time.monotonic() > self.deadline:
                raise self.failed("roslaunch stopped before the ROS master was up")
            time.sleep(0.2)

    def wait_until_played(self, printer: StatePrinter, settle: float = 2.0) -> None:
        """Until the player is done and the last states are in (none for ``settle`` seconds)."""
        played_at = 0.0
        while True:
            now = time.monotonic()
            if self.process.poll() is not None:
                raise self.failed("roslaunch stopped before the bag had played")
            if not played_at and re.search(r"\[player-\d+\] process has finished", self.log.read_text(errors="replace")):
                played_at = now
            if played_at and now - max(printer.last, played_at) > settle:
                return
            if now > self.deadline:
                raise self.failed(f"the demo did not end within {self.timeout:.0f} s")
            time.sleep(0.2)

    def __enter__(self) -> DemoLaunch:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)  # as Ctrl-C would: roslaunch stops its nodes and the master
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
