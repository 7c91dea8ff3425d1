"""``rosrun tl_classifier inspect_record FILE``: what a record holds, and its first images drawn with their boxes."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from tl_classifier.commands import run_main
from tl_classifier.data.records import summarize_record


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="inspect_record", description="Summarise an OD API TFRecord; draw examples with their boxes."
    )
    p.add_argument("record", help="a .record file, or the name of a sharded one")
    p.add_argument("--draw", type=int, default=0, metavar="N", help="draw the first N images with their boxes as PNG")
    p.add_argument("--out", default=".", help="folder for the drawings (default: .)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    return p


def _main(argv: list[str]) -> int:
    a = parser().parse_args(argv)
    summary = summarize_record(Path(a.record))
    drawn = []
    if a.draw > 0:
        from tl_classifier.model.draw import draw_record

        drawn = draw_record(Path(a.record), a.draw, Path(a.out))
    if a.json:
        print(json.dumps(summary, indent=2))
    else:
        for key, value in summary.items():
            print(f"{key}: {value}")
    for d in drawn:
        print(f"drawn: {d}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``rosrun tl_classifier inspect_record FILE [--draw N --out DIR] [--json]``."""
    return run_main(_main, argv, "inspect_record")
