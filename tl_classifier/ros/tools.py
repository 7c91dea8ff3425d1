"""Small commands: the demo's sample bag, printing published states, exporting the baseline model."""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Sequence

from tl_classifier.cli import run_main
from tl_classifier.states import State, to_styx


def _make_sample_bag(argv: list[str]) -> int:
    import numpy as np

    from tl_classifier.ros.bags import bag_size_mb, write_bag
    from tl_classifier.synth import demo_sequence, render_frame

    p = argparse.ArgumentParser(
        prog="make_sample_bag", description="Write a bag of synthetic traffic-light frames (the demo's input)."
    )
    p.add_argument("bag", help="output .bag")
    p.add_argument("--topic", default="/image_color", help="camera topic (default: %(default)s, the simulator's)")
    p.add_argument(
        "--encoding", default="rgb8", help="rgb8, bgr8, rgba8, bgra8, mono8, bayer_*8, or jpeg/png for CompressedImage"
    )
    p.add_argument("--frames-per-state", type=int, default=10, help="frames per state of the cycle (default: %(default)s)")
    p.add_argument("--size", default="800x600", help="WIDTHxHEIGHT (default: %(default)s; the car's camera is 1368x1096)")
    p.add_argument("--rate", type=float, default=10.0, help="frames per second of bag time (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--overwrite", action="store_true", help="replace an existing bag")
    a = p.parse_args(argv)
    width, height = (int(v) for v in a.size.lower().split("x"))
    rng = np.random.default_rng(a.seed)
    states = demo_sequence(a.frames_per_state)
    n = write_bag(
        a.bag, (render_frame(s, width, height, rng)[0] for s in states), a.topic, a.encoding, a.rate, overwrite=a.overwrite
    )
    print(
        f"{a.bag}: {n} frames ({width}x{height} {a.encoding}) on {a.topic}, {bag_size_mb(a.bag):.0f} MB; "
        f"states {' '.join(f'{s.name}x{c}' for s, c in Counter(states).items())}"
    )
    return 0


def make_sample_bag(argv: Sequence[str] | None = None) -> int:
    """``rosrun tl_classifier make_sample_bag BAG``."""
    return run_main(_make_sample_bag, argv, "make_sample_bag")


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
    counts: Counter[str] = Counter()
    last = [0.0]

    def show(msg: TrafficLightState) -> None:
        last[0] = time.monotonic()
        counts[State(msg.state).name] += 1
        lights = ", ".join(f"{d.label} {d.score:.2f}" for d in msg.lights[:3])
        print(
            f"{msg.header.stamp.to_sec():.3f} state={State(msg.state).name:<7} (styx {to_styx(msg.state)}) "
            f"frame={State(msg.raw_state).name:<7} conf={msg.confidence:.2f} "
            f"{1e3 * msg.inference_time:5.1f} ms  lights: {lights or '-'}",
            flush=True,
        )

    rospy.Subscriber(a.topic, TrafficLightState, show, queue_size=100)
    while not rospy.is_shutdown():
        if a.idle_exit and last[0] and time.monotonic() - last[0] > a.idle_exit:
            break
        time.sleep(0.1)
    print("states published: " + (", ".join(f"{k} {v}" for k, v in counts.items()) or "none"), flush=True)
    return 0


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
