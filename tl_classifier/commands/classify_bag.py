"""``rosrun tl_classifier classify_bag BAG... -o OUT``: what the node would have published on a recording, offline."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from tl_classifier.commands import run_main
from tl_classifier.params import NodeParams

#: classify.launch's default model, in this package
DEFAULT_MODEL = Path(__file__).resolve().parents[2] / "models" / "default"


def parser() -> argparse.ArgumentParser:
    d = NodeParams()
    p = argparse.ArgumentParser(
        prog="classify_bag",
        description="Run the node's per-frame pipeline and temporal filter over the camera frames of ROS 1 / ROS 2 bags, "
        "in bag time, without a roscore; write states.csv, states.bag, timeline.png (and overlay.mp4).",
    )
    p.add_argument("bags", nargs="+", metavar="BAG", help="ROS 1 .bag files, ROS 2 bag folders (or their .db3/.mcap)")
    p.add_argument("-o", "--out", required=True, help="folder to write into (must not exist, unless --overwrite)")
    p.add_argument("--topic", help="camera topic (default: the bag's only image topic)")
    p.add_argument("--model", default=str(DEFAULT_MODEL), help="as classify.launch's model (default: the default model)")
    p.add_argument("--label_map", default="", help="default: the one beside the model")
    p.add_argument("--score_threshold", type=float, default=d.score_threshold, help="-1: the model's own")
    p.add_argument("--roi", default=d.roi, help="region of interest x_min,y_min,x_max,y_max, as classify.launch's roi")
    p.add_argument(
        "--lamp_proposals", type=int, choices=(0, 1), default=int(d.lamp_proposals),
        help="1: lit lamps propose lights where a two-stage model's detector decides nothing, as classify.launch's",
    )  # fmt: skip
    p.add_argument(
        "--second_look", type=int, choices=(0, 1), default=int(d.second_look),
        help="1: a two-stage model looks again on a larger input where its first look decides nothing, as "
        "classify.launch's",
    )  # fmt: skip
    p.add_argument("--state_count_threshold", type=int, default=d.state_count_threshold)
    p.add_argument("--red_count_threshold", type=int, default=d.red_count_threshold)
    p.add_argument("--unknown_count_threshold", type=int, default=d.unknown_count_threshold)
    p.add_argument(
        "--yellow_after_red", type=int, choices=(0, 1), default=int(d.yellow_after_red), help="1: YELLOW after RED is RED"
    )
    p.add_argument("--unknown_hold", type=float, default=d.unknown_hold, help="seconds without a light before UNKNOWN (0: count)")
    p.add_argument("--state_timeout", type=float, default=d.state_timeout, help="seconds between frames that reset to UNKNOWN")
    p.add_argument("--device", default=d.device, help="auto, cpu, gpu or gpu:N")
    p.add_argument(
        "--realtime", action="store_true", help="frames at their recorded rate: drop those the node would drop on this machine"
    )
    p.add_argument("--video", action="store_true", help="also write overlay.mp4, the node's debug image of every frame")
    p.add_argument("--labels", help="CSV of start,end,state stamp ranges, or an extract_images manifest with a state column")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out folder")
    p.add_argument("--no_progress", action="store_true")
    return p


def _main(argv: list[str]) -> int:
    from tl_classifier.ros.replay import ReplayOptions, classify_bag

    a = parser().parse_args(argv)
    params = NodeParams.read(
        {
            "model": a.model,
            "label_map": a.label_map,
            "score_threshold": a.score_threshold,
            "roi": a.roi,
            "lamp_proposals": bool(a.lamp_proposals),
            "second_look": bool(a.second_look),
            "state_count_threshold": a.state_count_threshold,
            "red_count_threshold": a.red_count_threshold,
            "unknown_count_threshold": a.unknown_count_threshold,
            "yellow_after_red": bool(a.yellow_after_red),
            "unknown_hold": a.unknown_hold,
            "state_timeout": a.state_timeout,
            "device": a.device,
        }.get,
        prefix="",
    )
    result = classify_bag(
        ReplayOptions(
            bags=[Path(b) for b in a.bags],
            out=Path(a.out),
            params=params,
            topic=a.topic,
            realtime=a.realtime,
            video=a.video,
            labels=Path(a.labels) if a.labels else None,
            overwrite=a.overwrite,
            progress=not a.no_progress,
        )
    )
    print("\n".join(result.lines()))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``rosrun tl_classifier classify_bag BAG [BAG...] -o OUT [--realtime] [--video] [--labels CSV]``."""
    return run_main(_main, argv, "classify_bag")
