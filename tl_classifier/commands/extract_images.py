"""``rosrun tl_classifier extract_images BAG... -o OUTDIR``: parse, call :func:`tl_classifier.ros.extract.extract_images`.

Replaces the tutorial's ``rosbag play`` + ``image_view image_saver``: the bag
is read directly (no roscore), every frame is kept unless asked otherwise, files
are named by the header stamp, and a manifest lists what was written.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path

from tl_classifier.commands import run_main
from tl_classifier.data.images import FORMATS, Sampling


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="extract_images",
        description="Write the camera frames of ROS 1 / ROS 2 bags to image files, named by header stamp. No roscore needed.",
    )
    p.add_argument("bags", nargs="+", metavar="BAG", help="ROS 1 .bag files, ROS 2 bag folders (or their .db3/.mcap)")
    p.add_argument("-o", "--output", required=True, metavar="OUTDIR", help="output folder; one subfolder per topic")
    p.add_argument("--topic", action="append", default=[], help="image topic to extract (repeatable; default: every image topic)")
    p.add_argument("--every", type=float, default=0.0, metavar="SEC", help="keep at most one frame per SEC seconds of bag time")
    p.add_argument("--every-n", type=int, default=1, metavar="N", help="keep every N-th frame of each topic")
    p.add_argument("--start", type=float, default=0.0, metavar="SEC", help="skip frames before SEC seconds from the bag's start")
    p.add_argument("--end", type=float, default=None, metavar="SEC", help="skip frames after SEC seconds from the bag's start")
    p.add_argument("--format", choices=sorted(FORMATS), default="jpeg", help="image format (default: jpeg)")
    p.add_argument("--quality", type=int, default=95, help="JPEG quality 1-100 (default: 95)")
    p.add_argument("--overwrite", action="store_true", help="replace existing images (default: keep them, resume)")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="decoding/encoding threads (default: all cores)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def _main(argv: list[str]) -> int:
    from tl_classifier.ros.extract import ExtractOptions, extract_images

    a = parser().parse_args(argv)
    result = extract_images(
        ExtractOptions(
            bags=[Path(b) for b in a.bags],
            output=Path(a.output),
            topics=a.topic,
            sampling=Sampling(a.every, a.every_n, a.start, a.end),
            format=a.format,
            quality=a.quality,
            overwrite=a.overwrite,
            jobs=a.jobs,
            progress=not a.no_progress,
            warn=lambda line: print(line, flush=True),
        )
    )
    print("\n".join(result.lines()))
    return 0 if result.ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    """``rosrun tl_classifier extract_images BAG [BAG...] -o OUTDIR``."""
    return run_main(_main, argv, "extract_images")
