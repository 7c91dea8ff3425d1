"""``python -m tl_classifier.commands.build_benchmarks``: docs/BENCHMARKS.md from bench/results/*.json (``make benchmarks``)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from tl_classifier.commands import run_main
from tl_classifier.evaluate.benchmarks import RESULTS, ROOT, build
from tl_classifier.files import atomic_output


def _main(argv: list[str]) -> int:
    out = ROOT / "docs" / "BENCHMARKS.md"
    with atomic_output(out, overwrite=True) as tmp:
        tmp.write_text(build(), encoding="utf-8")
    print(f"{out}: written from {RESULTS}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(_main, argv, "build_benchmarks")


if __name__ == "__main__":
    sys.exit(main())
