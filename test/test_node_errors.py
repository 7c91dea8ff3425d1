"""The node with a broken model or parameter: one clear line and a non-zero exit (real roscore)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from rostest_support import start_master, stop

ROOT = Path(__file__).resolve().parent.parent
NODE = ROOT / "scripts" / "tl_classifier_node"


@pytest.fixture(scope="module")
def master():
    proc, uri = start_master()
    yield {**os.environ, "ROS_MASTER_URI": uri}
    stop(proc)


def run_node(env, *params: str) -> subprocess.CompletedProcess:
    name = f"tl_classifier_{len(params)}_{abs(hash(params))}"  # private params stay on the master: a name per run
    return subprocess.run([str(NODE), f"__name:={name}", *params], env=env, capture_output=True, text=True, timeout=120)


def fatal_lines(done: subprocess.CompletedProcess) -> list[str]:
    return [line for line in (done.stdout + done.stderr).splitlines() if "FATAL" in line]


def test_lfs_pointer_model(master, realdata: Path):
    model = (
        realdata
        / "negative/ananevans-lfs-pointer/ros/src/tl_detector/light_classification/models/model_ssd/frozen_inference_graph.pb"
    )
    done = run_node(master, f"_model:={model}", f"_label_map:={ROOT / 'models/colour_baseline/label_map.pbtxt'}")
    assert done.returncode == 1
    lines = fatal_lines(done)
    assert len(lines) == 1 and str(model) in lines[0] and "Git-LFS pointer" in lines[0], done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def test_html_model_is_named_before_the_missing_label_map(master, realdata: Path):
    model = realdata / "negative/sunshine2050-html-as-pb/ros/src/tl_detector/light_classification/frozen_inference_graph.pb"
    done = run_node(master, f"_model:={model}")
    assert done.returncode == 1
    lines = fatal_lines(done)
    assert len(lines) == 1 and str(model) in lines[0] and "HTML page" in lines[0], done.stderr


def test_bad_parameter(master):
    done = run_node(master, f"_model:={ROOT / 'models/colour_baseline'}", "_score_threshold:=2.0")
    assert done.returncode == 1
    lines = fatal_lines(done)
    assert len(lines) == 1 and "~score_threshold" in lines[0], done.stderr
