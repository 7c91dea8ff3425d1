"""``rosrun tl_classifier synthesize OUT``: labelled synthetic frames into a bag (OUT.bag) or an image folder."""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from tl_classifier.commands import run_main
from tl_classifier.data.images import FORMATS
from tl_classifier.data.synth import SynthOptions, write_folder
from tl_classifier.errors import ParameterError
from tl_classifier.params import parse_size
from tl_classifier.states import State


def parser() -> argparse.ArgumentParser:
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
    return p


def _main(argv: list[str]) -> int:
    a = parser().parse_args(argv)
    width, height = parse_size(a.size, "--size")
    try:
        states_pool = tuple(State[s.strip().upper()] for s in a.states.split(","))
    except KeyError as err:
        raise ParameterError(f"bad --states ({err})") from err
    options = SynthOptions(width, height, a.count, a.frames_per_state, states_pool, a.lights, a.seed)
    states, frames = options.sequence()
    out = Path(a.out)
    if out.suffix == ".bag":
        from tl_classifier.ros.bags import write_bag

        n = write_bag(out, (rgb for rgb, _ in frames), a.topic, a.encoding, a.rate, overwrite=a.overwrite)
        what = f"{n} frames ({width}x{height} {a.encoding}) on {a.topic}, {out.stat().st_size / 1e6:.0f} MB"
    else:
        n = write_folder(out, frames, FORMATS[a.format], a.voc, a.overwrite)
        what = f"{n} new images ({width}x{height} {a.format}){' with VOC XML' if a.voc else ''}"
    counts = " ".join(f"{s.name}x{c}" for s, c in Counter(states).items())
    print(f"{out}: {what}; states {counts}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``rosrun tl_classifier synthesize OUT``."""
    return run_main(_main, argv, "synthesize")
