"""The documentation says what the code does: launch arguments, parameters, generated pages, links."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from defusedxml import ElementTree

from tl_classifier.params import NodeParams

ROOT = Path(__file__).resolve().parent.parent
NODE_DOC = (ROOT / "docs/node.md").read_text()


def documented_arguments() -> set[str]:
    """The names in the first column of docs/node.md's launch-argument table."""
    table = NODE_DOC.split("## Launch arguments", 1)[1].split("\n## ", 1)[0]
    names = set()
    for line in table.splitlines():
        if line.startswith("| `"):
            names |= set(re.findall(r"`([a-z_]+)`", line.split("|")[1]))
    return names


def test_documented_launch_arguments_are_classify_launchs():
    launch = ElementTree.parse(ROOT / "launch/classify.launch").getroot()
    arguments = {a.get("name") for a in launch.iter("arg")}
    assert documented_arguments() == arguments


def test_every_node_parameter_is_set_by_the_launch_file_or_documented():
    launch = ElementTree.parse(ROOT / "launch/classify.launch").getroot()
    params = {p.get("name") for p in launch.iter("param")}
    fields = {f.name for f in dataclasses.fields(NodeParams)}
    assert params <= fields, f"classify.launch sets parameters the node does not read: {params - fields}"
    for name in fields - params:  # read by the node but not set by the launch file: said in the text
        assert f"`~{name}`" in NODE_DOC, f"~{name} is not documented in docs/node.md"


def test_readme_is_short_and_its_links_exist():
    text = (ROOT / "README.md").read_text()
    assert len(text.encode()) < 10_000
    links = re.findall(r"\]\(([^)#]+)\)", text)
    assert links and all((ROOT / link).exists() for link in links), [x for x in links if not (ROOT / x).exists()]


def test_doc_pages_link_to_what_exists():
    for page in (ROOT / "docs").glob("*.md"):
        for link in re.findall(r"\]\(([^)#:]+)\)", page.read_text()):
            assert (page.parent / link).exists(), f"{page.name} links to {link}, which does not exist"


def test_benchmarks_page_is_generated_from_the_results():
    from tl_classifier.evaluate.benchmarks import build

    assert (ROOT / "docs/BENCHMARKS.md").read_text() == build(), "docs/BENCHMARKS.md is out of date: make benchmarks"


def test_every_make_target_of_make_help_resolves_on_a_fresh_clone():
    """``make -n -B`` plans every documented target: no prerequisite names a file that is gone.

    (``demo/sample.bag`` once depended on ``tl_classifier/synth.py`` after the module moved: a
    checkout with the bag already built never noticed, a fresh clone's ``make demo`` stopped.)
    """
    import subprocess

    targets = re.findall(r"^([a-z-]+):.*## ", (ROOT / "Makefile").read_text(), flags=re.M)
    assert "demo" in targets and "test" in targets
    for target in targets:
        run = subprocess.run(["make", "-n", "-B", target], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, f"make -n {target}: {run.stderr.strip().splitlines()[-1:]}"


def test_every_executable_of_the_package_has_a_name_of_its_own():
    """rosrun finds a command by its file name in the whole package: two of one name make it ask which, and fail.

    (``bench/classify_bag``, a benchmark, once hid ``scripts/classify_bag`` from ``rosrun tl_classifier classify_bag``,
    and so broke ``make demo``.)
    """
    import collections
    import os

    names = collections.defaultdict(list)
    for part in ("scripts", "bench", "test", "tl_classifier", "launch", "msg", "models"):
        for path in (ROOT / part).rglob("*"):
            if path.is_file() and os.access(path, os.X_OK):
                names[path.name].append(str(path.relative_to(ROOT)))
    assert "classify_bag" in names
    assert not {n: p for n, p in names.items() if len(p) > 1}


def test_rosrun_finds_the_documented_commands():
    """Every ``rosrun tl_classifier NAME`` of README.md and docs/ runs (``--help``), with no one at the keyboard."""
    import subprocess

    pages = [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]
    names = sorted({n for page in pages for n in re.findall(r"rosrun tl_classifier ([a-z_]+)", page.read_text())})
    assert "classify_bag" in names and "extract_images" in names
    for name in names:
        run = subprocess.run([str(ROOT / "env.sh"), "rosrun", "tl_classifier", name, "--help"], capture_output=True,
                             text=True, stdin=subprocess.DEVNULL, timeout=120)  # fmt: skip
        assert run.returncode == 0 and "usage" in run.stdout, (name, run.stdout[-300:], run.stderr[-300:])
