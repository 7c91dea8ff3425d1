"""Small commands: synthetic frames (the demo's sample bag), printing published states, exporting the baseline model."""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from tl_classifier.cli import run_main
from tl_classifier.errors import TLClassifierError
from tl_classifier.states import State, to_styx


def _synthesize(argv: list[str]) -> int:
    import numpy as np

    from tl_classifier.errors import ParameterError
    from tl_classifier.extract import FORMATS, write_image
    from tl_classifier.synth import LABELS, demo_sequence, random_sequence, render_frame
    from tl_classifier.voc import VocObject, voc_xml, write_voc

    p = argparse.ArgumentParser(
        prog="synthesize",
        description="Render labelled synthetic traffic-light frames into a bag (OUT.bag) or an image folder (OUT).",
    )
    p.add_argument("out", help="OUT.bag for a ROS 1 bag; any other name is an image folder")
    p.add_argument("--count", type=int, default=0, help="frames of random states (default: the demo's light cycle)")
    p.add_argument("--frames-per-state", type=int, default=10, help="frames per state of the demo cycle (default: %(default)s)")
    p.add_argument("--states", default="red,yellow,green,off,unknown", help="states drawn by --count (default: %(default)s)")
    p.add_argument(
        "--size", default="800x600", help="WIDTHxHEIGHT (default: %(default)s, the simulator's; the car's is 1368x1096)"
    )
    p.add_argument("--lights", type=int, default=1, help="most lights per frame; each frame has 1 to this many (default: 1)")
    p.add_argument("--topic", default="/image_color", help="bag topic (default: %(default)s, the simulator's)")
    p.add_argument("--encoding", default="rgb8", help="bag encoding: rgb8, bgr8, rgba8, bgra8, mono8, bayer_*8, or jpeg/png")
    p.add_argument("--rate", type=float, default=10.0, help="bag frames per second (default: %(default)s)")
    p.add_argument("--format", choices=sorted(FORMATS), default="jpeg", help="image folder format (default: jpeg)")
    p.add_argument("--voc", action="store_true", help="image folder: write labelImg Pascal VOC XML beside each image")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    a = p.parse_args(argv)
    try:
        width, height = (int(v) for v in a.size.lower().split("x"))
        states_pool = tuple(State[s.strip().upper()] for s in a.states.split(","))
    except (ValueError, KeyError) as err:
        raise ParameterError(f"bad --size or --states ({err})") from err
    if min(width, height) < 64 or a.lights < 1 or a.count < 0 or a.frames_per_state < 1:
        raise ParameterError("--size must be at least 64x64, --lights and --frames-per-state at least 1, --count >= 0")
    rng = np.random.default_rng(a.seed)
    states = random_sequence(a.count, rng, states_pool) if a.count else demo_sequence(a.frames_per_state)
    frames = (render_frame(s, width, height, rng, lights=int(rng.integers(1, a.lights + 1))) for s in states)
    out = Path(a.out)
    if out.suffix == ".bag":
        from tl_classifier.ros.bags import write_bag

        n = write_bag(out, (rgb for rgb, _ in frames), a.topic, a.encoding, a.rate, overwrite=a.overwrite)
        what = f"{n} frames ({width}x{height} {a.encoding}) on {a.topic}, {out.stat().st_size / 1e6:.0f} MB"
    else:
        out.mkdir(parents=True, exist_ok=True)
        n = 0
        for i, (rgb, lights) in enumerate(frames):
            name = f"synth_{i:06d}{FORMATS[a.format]}"
            if write_image(out / name, rgb, overwrite=a.overwrite):
                n += 1
            if a.voc:
                objects = [VocObject(LABELS[lt.state], lt.xmin, lt.ymin, lt.xmax, lt.ymax) for lt in lights]
                xml_path = out / f"synth_{i:06d}.xml"
                if a.overwrite or not xml_path.exists():
                    write_voc(xml_path, voc_xml(name, width, height, objects, out.name), a.overwrite)
        what = f"{n} new images ({width}x{height} {a.format}){' with VOC XML' if a.voc else ''}"
    counts = " ".join(f"{s.name}x{c}" for s, c in Counter(states).items())
    print(f"{out}: {what}; states {counts}")
    return 0


def synthesize(argv: Sequence[str] | None = None) -> int:
    """``rosrun tl_classifier synthesize OUT``."""
    return run_main(_synthesize, argv, "synthesize")


class StatePrinter:
    """Prints each ``TrafficLightState`` as one line and counts the published states (echo_states and the demo)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.last = 0.0  #: time.monotonic() of the last message, 0 before the first

    def __call__(self, msg: object) -> None:
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


def _echo_states(argv: list[str]) -> int:
    import rospy

    from tl_classifier.msg import TrafficLightState

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
    rospy.Subscriber(a.topic, TrafficLightState, show, queue_size=100)
    while not rospy.is_shutdown():
        if a.idle_exit and show.last and time.monotonic() - show.last > a.idle_exit:
            break
        time.sleep(0.1)
    print(show.summary(), flush=True)
    return 0


def _demo(argv: list[str]) -> int:
    """Run demo.launch (classify.launch + rosbag play), print the states, stop it all once the bag has played.

    roslaunch runs as a child process with its output in a log file, so that the
    terminal shows the states and the summary only (roslaunch's own lines, "killing
    on exit" and the like, are in the log); the log's end is shown if the demo fails.
    """
    import signal
    import subprocess

    import rosgraph
    import rospy

    from tl_classifier.msg import TrafficLightState

    p = argparse.ArgumentParser(prog="demo", description="Play a bag into classify.launch and print every state published.")
    p.add_argument("bag", help="the bag to play (make demo writes demo/sample.bag with synthesize)")
    p.add_argument("--site", action="store_true", help="classify.launch site:=true (/image_raw)")
    p.add_argument("--log", help="roslaunch's output (default: roslaunch.log beside the bag)")
    p.add_argument("--timeout", type=float, default=300.0, help="give up after this many seconds (default: 300)")
    a = p.parse_args(argv)
    bag = Path(a.bag).resolve()
    if not bag.is_file():
        raise TLClassifierError("no such bag (make demo writes one with synthesize)", bag)
    log_path = Path(a.log) if a.log else bag.with_name("roslaunch.log")
    cmd = ["roslaunch", "tl_classifier", "demo.launch", f"bag:={bag}", f"site:={'true' if a.site else 'false'}"]
    with open(log_path, "w", encoding="utf-8") as log:
        launch = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def failed(why: str) -> TLClassifierError:
        tail = log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-15:]
        print("\n".join(tail), file=sys.stderr)
        return TLClassifierError(f"{why} (roslaunch's output: {log_path})")

    show = StatePrinter()
    deadline = time.monotonic() + a.timeout
    try:
        while not rosgraph.is_master_online():
            if launch.poll() is not None or time.monotonic() > deadline:
                raise failed("roslaunch stopped before the ROS master was up")
            time.sleep(0.2)
        rospy.init_node("demo", anonymous=True, disable_signals=True)
        rospy.Subscriber("traffic_light_state", TrafficLightState, show, queue_size=100)
        played_at = 0.0
        while True:
            now = time.monotonic()
            if launch.poll() is not None:
                raise failed("roslaunch stopped before the bag had played")
            if not played_at and re.search(r"\[player-\d+\] process has finished", log_path.read_text(errors="replace")):
                played_at = now
            # the player is done and the last states are in (or none came for long)
            if played_at and now - max(show.last, played_at) > 2.0:
                break
            if now > deadline:
                raise failed(f"the demo did not end within {a.timeout:.0f} s")
            time.sleep(0.2)
    finally:
        rospy.signal_shutdown("demo finished")
        if launch.poll() is None:
            os.killpg(launch.pid, signal.SIGINT)  # as Ctrl-C would: roslaunch stops its nodes and the master
            try:
                launch.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(launch.pid, signal.SIGKILL)
                launch.wait()
    if not show.counts:
        raise failed("no state was published")
    print(show.summary(), flush=True)
    return 0


def demo(argv: Sequence[str] | None = None) -> int:
    """``rosrun tl_classifier demo BAG``: what ``make demo`` runs."""
    return run_main(_demo, argv, "demo")


def echo_states(argv: Sequence[str] | None = None) -> int:
    """``rosrun tl_classifier echo_states``."""
    return run_main(_echo_states, argv, "echo_states")


def _export_baseline(argv: list[str]) -> int:
    from tl_classifier.baseline import LABEL_MAP, colour_detector
    from tl_classifier.export import export_detector

    p = argparse.ArgumentParser(
        prog="export_baseline_model", description="Export the untrained colour-threshold detector in the OD API's formats."
    )
    p.add_argument("out_dir")
    p.add_argument("--cost", type=int, default=0, help="extra no-op convolutions (a slower model, for tests)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing folder")
    a = p.parse_args(argv)
    out = export_detector(colour_detector(cost=a.cost), a.out_dir, LABEL_MAP, overwrite=a.overwrite)
    print(f"{out}: frozen_inference_graph.pb, saved_model/, label_map.pbtxt")
    return 0


def export_baseline_model(argv: Sequence[str] | None = None) -> int:
    """``rosrun tl_classifier export_baseline_model OUT_DIR``."""
    return run_main(_export_baseline, argv, "export_baseline_model")
