"""The shipped default model and the project's written report (docs/REPORT.md) against a fresh evaluation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tl_classifier.commands.evaluate import main as evaluate
from tl_classifier.evaluate.project_report import build as build_report
from tl_classifier.testing.realdata import REALDATA, RECORDINGS, ROS_RACERS

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
SETS = {
    "sim_val": ROS_RACERS / "data/images_sim_val",
    "sim_test": ROS_RACERS / "test_images_sim",
    "car_val": ROS_RACERS / "data/images_real_val",
    "car_test": ROS_RACERS / "test_images_real",
}
SHIPPED = json.loads((ROOT / "docs/report/metrics.json").read_text())
#: frames the shipped model gets right on every frame of each real recording (all in its training recordings)
#: (the model of 2026-11-27, far lights pasted into its detector's training, with its second look whose boxes are read
#: again half a cell off, dim lamps proposed (2026-11-28), and far intersections' lights not deciding beside near ones
#: (RELEVANT_HEIGHT, 2026-11-27): 1,565 of 1,584; before that 1,562 (dominikma 468); before the dim lamps 1,545 (sdcnd 272,
#: dominikma 450); before that refine 1,542 (overcast 557, dominikma 448); without
#: the second look 1,521 (overcast 555, dominikma 429); its predecessor's 1,538 were overcast 557, sunny 158, ros-racers
#: 107, sdcnd 272, dominikma 444; models/README.md says why dominikma's fell)
SHIPPED_RIGHT = {"car_overcast": 558, "car_sunny": 159, "sim_rosracers": 106, "sim_sdcnd": 271, "sim_dominikma": 471}


@pytest.fixture(scope="module")
def fresh(realdata: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("eval") / "default"
    args = ["--model", str(ROOT / "models/default"), "--out", str(out), "--no_progress"]
    for name, path in SETS.items():
        args += ["--data", f"{name}={path}"]
    assert evaluate(args) == 0
    return json.loads((out / "metrics.json").read_text())["results"]["default"]


def _right(results: dict, *names: str) -> tuple[int, int]:
    return sum(results[n]["state"]["right"] for n in names), sum(results[n]["state"]["frames"] for n in names)


def test_simulator_accuracy(fresh):
    right, frames = _right(fresh, "sim_val", "sim_test")
    assert frames == 50 and right / frames >= 0.97


def test_car_accuracy(fresh):
    right, frames = _right(fresh, "car_val", "car_test")
    assert frames == 71 and right / frames >= 0.95
    assert sum(fresh[n]["state"]["red_as_green"] for n in SETS) == 0


def test_no_red_read_as_green_on_any_real_recording(realdata: Path, tmp_path: Path):
    """Every frame of every real recording (docs/leave_one_out.py lists them): the shipped model never reads RED as GREEN."""
    args = ["--model", f"default={ROOT / 'models/default'}", "--out", str(tmp_path / "all"), "--no_progress",
            "--include_unlabelled"]  # fmt: skip
    for recording in RECORDINGS.values():
        for name, path in recording["data"].items():
            args += ["--data", f"{name}={path}"]
    for name, recording in RECORDINGS.items():
        args += ["--group", f"{name}={','.join(recording['data'])}"]
    assert evaluate(args) == 0
    groups = json.loads((tmp_path / "all/metrics.json").read_text())["groups"]
    assert len(groups) == 5 and sum(g["results"]["default"]["frames"] for g in groups) == 1584  # every frame present
    for g in groups:
        st = g["results"]["default"]
        assert st["red_as_green"] == 0, g["name"]
        # what the shipped model got right here (x86_64, AVX-512, TensorFlow 2.21 on the CPU); other CPUs run other
        # kernels, so a frame whose score sits at the threshold may fall on the other side: two frames' tolerance
        assert st["right"] >= SHIPPED_RIGHT[g["name"]] - 2, (g["name"], st["right"], SHIPPED_RIGHT[g["name"]])


def test_the_hood_region_holds_no_labelled_car_light(realdata: Path):
    """site:=true's region of interest (SITE_ROI, the Udacity car's hood left out): every labelled light of its recordings
    is centred inside it."""
    from tl_classifier.data.annotations import Problems
    from tl_classifier.data.frames import load_frames
    from tl_classifier.model.detection import Detection
    from tl_classifier.params import SITE_ROI
    from tl_classifier.states import State

    hood = SITE_ROI
    launch = (ROOT / "launch/classify.launch").read_text()
    assert f"'{SITE_ROI}' if str(arg('site'))" in launch  # classify.launch site:=true sets it
    lights = 0
    for name in ("car_overcast", "car_sunny"):
        for path in RECORDINGS[name]["data"].values():
            for f in load_frames(Path(path), Problems(out=lambda _: None)):
                if not f.boxes:
                    continue
                h, w = f.rgb().shape[:2]
                for b in f.boxes:
                    lights += 1
                    d = Detection(State.RED, "Red", 2, 1.0, round(b.xmin), round(b.ymin), round(b.xmax), round(b.ymax))
                    assert hood.contains(d, w, h), (name, f.name, b)
    assert lights > 600


def test_held_out_recordings_never_read_red_as_green():
    """docs/heldout/loro.json (make loro): a model of this recipe, on each recording it was not trained on."""
    loro = json.loads((ROOT / "docs/heldout/loro.json").read_text())
    assert {r["recording"] for r in loro["recordings"]} == set(RECORDINGS)
    for r in loro["recordings"]:
        assert r["state"]["red_as_green"] == 0, r["recording"]


def test_the_report_says_whether_the_held_out_schedule_is_the_shipped_one():
    """The held-out table names its schedule by comparing it with models/default/model.json, not a literal."""
    from tl_classifier.evaluate.project_report import _loro_recipe

    loro = json.loads((ROOT / "docs/heldout/loro.json").read_text())
    assert _loro_recipe(loro).startswith("Recipe and schedule: the shipped model's")
    short = json.loads((ROOT / "docs/heldout/loro_short.json").read_text())
    assert "another schedule" in _loro_recipe(short) and "epochs 40, classifier_epochs 12" in _loro_recipe(short)


def test_the_report_shows_what_the_shipped_model_does(fresh):
    """docs/report/metrics.json was made from the model that is shipped (the same answers on every set)."""
    shipped = SHIPPED["results"]["default"]
    for name in SETS:
        # other CPUs run other kernels (AVX-512 or not, oneDNN): a frame whose score sits at the threshold may fall on
        # the other side there, so one frame per set may move (two cells of the matrix, by one each), no more
        moved = np.abs(np.array(fresh[name]["state"]["confusion"]) - np.array(shipped[name]["state"]["confusion"])).sum()
        assert moved <= 2, (name, fresh[name]["state"]["confusion"], shipped[name]["state"]["confusion"])
        if fresh[name]["detection"]:
            assert fresh[name]["detection"]["map"] == pytest.approx(shipped[name]["detection"]["map"], abs=1e-3)


def test_report_md_is_exactly_what_build_report_writes(realdata: Path, monkeypatch: pytest.MonkeyPatch):
    """Nothing in docs/REPORT.md is typed in by hand: it is build_report's output for the shipped metrics."""
    assert REALDATA.is_dir()
    monkeypatch.chdir(ROOT)  # make report runs there; the paths in metrics.json are relative to it
    text = build_report(SHIPPED, "report")
    assert (ROOT / "docs/REPORT.md").read_text() == text, "docs/REPORT.md is out of date: run make report"


def test_the_report_claims_a_gpu_figure_only_from_a_run_on_a_gpu():
    """A benchmark on the CPU ("CPU (Intel ...)" or an older run's "x86_64, 2 CPU cores, no GPU") is no GPU figure."""
    from tl_classifier.evaluate.project_report import gpu_measured

    cpu = {"machine": "CPU (Intel(R) Xeon(R) Processor, 2 cores), TensorFlow 2.21.0"}
    older = {"machine": "x86_64, 2 CPU cores, no GPU"}
    gpu = {"machine": "GPU (NVIDIA H100 80GB HBM3), TensorFlow 2.21.0"}
    assert not gpu_measured([cpu, older], {"gpu": None})
    assert gpu_measured([cpu, gpu], {"gpu": None}) and gpu_measured([cpu], {"gpu": "NVIDIA H100 80GB HBM3"})
