"""``python -m tl_classifier.commands.build_report``: docs/REPORT.md from evaluate's metrics.json (``make report``)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from tl_classifier.commands import run_main
from tl_classifier.evaluate.project_report import build
from tl_classifier.files import atomic_output


def _main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="build_report", description="Write docs/REPORT.md from evaluate's metrics.json.")
    p.add_argument("--metrics", required=True, help="metrics.json written by evaluate (its figures beside it)")
    p.add_argument("--out", required=True, help="the report to write (replaced)")
    a = p.parse_args(argv)
    metrics_path, out = Path(a.metrics), Path(a.out)
    metrics = json.loads(metrics_path.read_text(encoding="utf-8"))
    text = build(metrics, Path(os.path.relpath(metrics_path.parent.resolve(), out.parent.resolve())).as_posix())
    with atomic_output(out, overwrite=True) as tmp:
        tmp.write_text(text, encoding="utf-8")
    print(f"{out}: written from {metrics_path}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(_main, argv, "build_report")


if __name__ == "__main__":
    sys.exit(main())
