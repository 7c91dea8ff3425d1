"""The shipped default model on the real evaluation frames: the accuracy models/README.md reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tl_classifier.evaluate import main as evaluate

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def results(realdata: Path, tmp_path_factory) -> dict:
    r = realdata / "ros-racers/tl_classification"
    out = tmp_path_factory.mktemp("eval")
    args = [
        "--model", str(ROOT / "models/default"), "--out", str(out), "--timing_runs", "1",
        "--set", f"sim={r / 'test_images_sim'},{r / 'data/images_sim_val'}",
        "--set", f"car={r / 'test_images_real'},{r / 'data/images_real_val'}",
    ]  # fmt: skip
    assert evaluate(args) == 0
    return json.loads((out / "results.json").read_text())


def test_simulator_accuracy(results):
    assert results["sets"]["sim"]["frames"] == 50
    assert results["sets"]["sim"]["accuracy"] >= 0.97


def test_car_accuracy(results):
    assert results["sets"]["car"]["frames"] == 71
    assert results["sets"]["car"]["accuracy"] >= 0.90


def test_the_shipped_figures_are_the_measured_ones(results):
    shipped = json.loads((ROOT / "models/default/eval/results.json").read_text())
    for name in ("sim", "car"):
        assert shipped["sets"][name]["right"] == results["sets"][name]["right"]
    assert results["score_threshold"] == json.loads((ROOT / "models/default/model.json").read_text())["score_threshold"]
