"""``rosrun tl_classifier export_baseline_model OUT_DIR``: the untrained colour-threshold detector, in the node's formats."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from tl_classifier.commands import run_main


def _main(argv: list[str]) -> int:
    from tl_classifier.model.baseline import LABEL_MAP, colour_detector
    from tl_classifier.model.export import export_detector

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


def main(argv: Sequence[str] | None = None) -> int:
    """``rosrun tl_classifier export_baseline_model OUT_DIR``."""
    return run_main(_main, argv, "export_baseline_model")
