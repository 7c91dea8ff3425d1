#!/usr/bin/env python3
"""Sum up the JUnit results of `make test` (rostest via catkin, and pytest) in one closing line.

Usage: summary.py DIR_OR_XML...   Exit 1 if any test failed, erred or was skipped
(a skipped test is not a pass), or if no test ran at all.
"""

from __future__ import annotations

import sys
from pathlib import Path

from defusedxml import ElementTree


def count(path: Path) -> tuple[int, int, int]:
    """(passed, failed, skipped) test cases of one JUnit file."""
    root = ElementTree.parse(path).getroot()
    passed = failed = skipped = 0
    for case in root.iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1
        elif case.find("skipped") is not None:
            skipped += 1
        else:
            passed += 1
    return passed, failed, skipped


def main(argv: list[str]) -> int:
    files: list[Path] = []
    for arg in argv:
        p = Path(arg)
        files += sorted(p.rglob("*.xml")) if p.is_dir() else [p] if p.exists() else []
    totals = [0, 0, 0]
    for f in files:
        # rostest writes a wrapper file per .test (rostest-*.xml, one case: did the launch run) and the
        # test node's own cases (rosunit-*.xml); count the cases, but let a failed wrapper count too.
        p, fl, s = count(f)
        if f.name.startswith("rostest-"):
            p = 0
        print(f"  {f.name}: {p} passed, {fl} failed, {s} skipped")
        for i, v in enumerate((p, fl, s)):
            totals[i] += v
    passed, failed, skipped = totals
    print(f"tests: {passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed or skipped or not passed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
