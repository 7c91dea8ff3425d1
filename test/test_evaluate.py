"""``evaluate`` on the real frames: every file of the report, metrics that follow from the data, bad input."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from tl_classifier.commands.create_tf_record import main as create_tf_record
from tl_classifier.commands.evaluate import main as evaluate
from tl_classifier.data.annotations import Problems, iter_voc
from tl_classifier.data.frames import load_frames
from tl_classifier.evaluate.scoring import run_models
from tl_classifier.model.load import load_model
from tl_classifier.testing.realdata import REALDATA, ROS_RACERS, read_rgb

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
SIM_VAL = ROS_RACERS / "data/images_sim_val"
SIM_YAML = REALDATA / "alexvogel/data_raw/sim_training_data/sim_data_annotations.yaml"


@pytest.fixture(scope="module")
def report(realdata: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """Two models on four sets of real frames, one of each kind: XML folder, state folders, TFRecord, YAML."""
    tmp = tmp_path_factory.mktemp("evaluate")
    record = tmp / "car_val.record"
    assert create_tf_record([f"--data_dir={ROS_RACERS / 'data/images_real_val'}", f"--output_path={record}",
                             f"--label_map_path={ROS_RACERS / 'data/label_map.pbtxt'}", "--no_progress"]) == 0  # fmt: skip
    out = tmp / "report"
    args = [
        "--model", str(ROOT / "models/default"), "--model", f"baseline={ROOT / 'models/colour_baseline'}",
        "--data", f"sim_val={SIM_VAL}", "--data", f"sim_test={ROS_RACERS / 'test_images_sim'}",
        "--data", f"car_val={record}", "--data", f"sim_yaml={SIM_YAML}", "--out", str(out), "--no_progress",
    ]  # fmt: skip
    assert evaluate(args) == 0
    return out, json.loads((out / "metrics.json").read_text())


def test_every_file_of_the_report(report):
    out, m = report
    text = (out / "report.md").read_text()
    linked = set(re.findall(r"!\[[^]]*\]\(([^)]+)\)", text))
    written = {p.name for p in out.iterdir()} - {"report.md", "metrics.json"}
    assert linked == written, "every figure is linked from report.md, and every link has its figure"
    models, sets = ("default", "baseline"), ("sim_val", "sim_test", "car_val", "sim_yaml")
    assert {f"confusion_{mo}_{s}.png" for mo in models for s in sets} <= written
    assert {"pr_sim_val.png", "pr_car_val.png", "pr_sim_yaml.png"} <= written and "pr_sim_test.png" not in written
    assert "mistakes_baseline_car_val.png" in written  # the colour baseline gets car frames wrong
    for name in written:
        picture = cv2.imread(str(out / name))
        assert picture is not None and picture.shape[0] > 250 and picture.std() > 10, name
    for heading in ("## Summary", "## Data", "## States", "## Boxes: sim_val", "## Speed", "## Worst mistakes"):
        assert heading in text
    assert "| default | sim_test | 35/35 = 100.0 %" in text
    reds = sum(s["truth"]["RED"] for s in m["sets"])
    red_as_green = [sum(m["results"][x][s["name"]]["state"]["red_as_green"] for s in m["sets"]) for x in models]
    line = f"**RED read as GREEN** (the car would drive through a red light), of {reds} RED frames: "
    assert line + f"`default` {red_as_green[0]}, `baseline` {red_as_green[1]}." in text.splitlines()


def test_the_numbers_follow_from_the_data(report):
    _, m = report
    sets = {s["name"]: s for s in m["sets"]}
    assert [sets[s]["frames"] for s in ("sim_val", "sim_test", "car_val", "sim_yaml")] == [15, 35, 32, 3]
    assert sets["sim_test"]["truth"] == {"RED": 10, "YELLOW": 10, "GREEN": 10, "OFF": 0, "UNKNOWN": 5}
    assert sets["sim_test"]["frames_with_boxes"] == 0 and sets["sim_yaml"]["skipped"] == {"missing_image": 274}
    true_boxes = sum(len(e.boxes) for e in iter_voc([SIM_VAL], "labels", Problems()))
    assert sets["sim_val"]["true_boxes"] == true_boxes
    for model in ("default", "baseline"):
        for name, s in sets.items():
            r = m["results"][model][name]
            assert sum(map(sum, r["state"]["confusion"])) == s["frames"] == r["speed"]["frames"]
            assert r["speed"]["median_ms"] > 0
            if s["frames_with_boxes"]:
                any_light = r["detection"]["any_light"]
                assert any_light["true_boxes"] == s["true_boxes"] and any_light["tp"] + any_light["missed"] == s["true_boxes"]
                for v in r["detection"]["per_class"].values():
                    assert v["tp"] + v["missed"] == v["true_boxes"]
            else:
                assert r["detection"] is None
    default = m["results"]["default"]
    assert default["sim_test"]["state"]["accuracy"] == 1.0 and default["car_val"]["state"]["accuracy"] >= 0.9
    assert default["sim_val"]["detection"]["map"] > 0.9 and default["sim_val"]["detection"]["any_light"]["ap"] > 0.9
    # the colour baseline boxes the lit lamp, not the whole light: its states are right in the simulator, its boxes are not
    assert m["results"]["baseline"]["sim_val"]["state"]["accuracy"] == 1.0
    assert m["results"]["baseline"]["sim_val"]["detection"]["map"] < 0.1
    assert m["results"]["baseline"]["car_val"]["mistakes"][0]["truth"] == "RED"  # RED errors are shown first
    assert m["models"][0]["score_threshold"] == json.loads((ROOT / "models/default/model.json").read_text())["score_threshold"]


def test_the_state_is_decided_by_the_nodes_own_code(realdata: Path):
    """evaluate's frame state is exactly what the node gets from DetectionModel.detect, for every frame."""
    model = load_model(ROOT / "models/default")
    frames = load_frames(ROS_RACERS / "test_images_real", Problems())[::3]

    class Bar:
        def update(self, n: int) -> None:
            pass

    evals = run_models({"m": model}, {"m": model.score_threshold}, frames, Problems(), Bar())["m"]
    assert len(evals) == len(frames) > 10
    for e in evals:
        node = model.detect(read_rgb(e.frame.image))
        assert (e.result.state, e.result.confidence) == (node.state, node.confidence)
        assert e.result.detections == node.detections
    source = "".join(p.read_text() for p in (ROOT / "tl_classifier/evaluate").glob("*.py"))
    assert "decide_state(" not in source and "model.result(" in source


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(ROOT / "scripts/evaluate"), *args, "--no_progress"], capture_output=True, text=True)


def test_a_model_or_data_it_cannot_read(tmp_path: Path, realdata: Path):
    html = next((REALDATA / "negative/sunshine2050-html-as-pb").rglob("*.pb"))
    done = _run("--model", str(html), "--label_map", str(ROOT / "models/default/label_map.pbtxt"),
                "--data", str(SIM_VAL), "--out", str(tmp_path / "a"))  # fmt: skip
    assert done.returncode == 1 and done.stderr.count("\n") == 1 and str(html) in done.stderr
    assert "HTML" in done.stderr and not (tmp_path / "a").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    done = _run("--model", str(ROOT / "models/colour_baseline"), "--data", str(empty), "--out", str(tmp_path / "b"))
    assert done.returncode == 1 and done.stderr.count("\n") == 1 and str(empty) in done.stderr
    assert "neither labelImg XML nor state subfolders" in done.stderr and not (tmp_path / "b").exists()
    text = tmp_path / "notes.record"
    text.write_text("not a record\n")
    done = _run("--model", str(ROOT / "models/colour_baseline"), "--data", str(text), "--out", str(tmp_path / "c"))
    assert done.returncode == 1 and str(text) in done.stderr and "not a TFRecord" in done.stderr


def test_an_existing_report_is_kept(tmp_path: Path, realdata: Path):
    out = tmp_path / "r"
    out.mkdir()
    (out / "report.md").write_text("mine\n")
    done = _run("--model", str(ROOT / "models/colour_baseline"), "--data", str(SIM_VAL), "--out", str(out))
    assert done.returncode == 1 and "--overwrite" in done.stderr and (out / "report.md").read_text() == "mine\n"
    done = _run("--model", str(ROOT / "models/colour_baseline"), "--model", str(ROOT / "models/colour_baseline"),
                "--data", str(SIM_VAL), "--out", str(tmp_path / "s"))  # fmt: skip
    assert done.returncode == 1 and "two models are named 'colour_baseline'" in done.stderr


def test_groups_add_up_their_sets(tmp_path: Path, realdata: Path, capsys):
    """--group (a recording, a domain): its state metrics are those of its sets' frames together."""
    out = tmp_path / "g"
    args = ["--model", f"baseline={ROOT / 'models/colour_baseline'}", "--data", f"sim_val={SIM_VAL}",
            "--data", f"sim_test={ROS_RACERS / 'test_images_sim'}", "--data", f"car_val={ROS_RACERS / 'data/images_real_val'}",
            "--group", "sim_rosracers=sim_val,sim_test", "--group", "all=sim_val,sim_test,car_val", "--out", str(out),
            "--no_progress"]  # fmt: skip
    assert evaluate(args) == 0
    m = json.loads((out / "metrics.json").read_text())
    sets = m["results"]["baseline"]
    for group, members in (("sim_rosracers", ["sim_val", "sim_test"]), ("all", ["sim_val", "sim_test", "car_val"])):
        g = next(x for x in m["groups"] if x["name"] == group)
        assert g["sets"] == members
        st = g["results"]["baseline"]
        assert st["frames"] == sum(sets[s]["state"]["frames"] for s in members)
        assert st["right"] == sum(sets[s]["state"]["right"] for s in members)
        summed = sum(np.array(sets[s]["state"]["confusion"]) for s in members)
        assert st["confusion"] == summed.tolist()
    report = (out / "report.md").read_text()
    assert "## By group (recording, domain)" in report and "sim_rosracers" in report
    capsys.readouterr()
    bad = ["--model", f"baseline={ROOT / 'models/colour_baseline'}", "--data", f"sim_val={SIM_VAL}", "--group", "x=nope",
           "--out", str(tmp_path / "h"), "--no_progress"]  # fmt: skip
    assert evaluate(bad) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--group" in err[0] and "nope" in err[0]
    assert not (tmp_path / "h").exists()


def test_a_region_of_interest_drops_lights_as_the_node_does(tmp_path: Path, realdata: Path, capsys):
    """--roi (the node's ~roi): lights centred outside it count nowhere; it is recorded; a bad one is one line."""
    base = ["--model", f"baseline={ROOT / 'models/colour_baseline'}", "--data", f"sim_val={SIM_VAL}", "--no_progress"]
    assert evaluate([*base, "--out", str(tmp_path / "all")]) == 0
    assert evaluate([*base, "--out", str(tmp_path / "top"), "--roi", "0,0,1,0.02"]) == 0
    whole, top = (json.loads((tmp_path / d / "metrics.json").read_text()) for d in ("all", "top"))
    assert (whole["roi"], top["roi"]) == ("0,0,1,1", "0,0,1,0.02")
    lit = whole["results"]["baseline"]["sim_val"]["state"]
    dark = top["results"]["baseline"]["sim_val"]["state"]
    said_unknown = sum(row[-1] for row in dark["confusion"])  # rows: truth, columns: said (UNKNOWN last)
    assert lit["right"] > dark["right"] and said_unknown == dark["frames"] == lit["frames"]
    assert "Region of interest `0,0,1,0.02`" in (tmp_path / "top/report.md").read_text()
    assert "Region of interest" not in (tmp_path / "all/report.md").read_text()
    capsys.readouterr()
    assert evaluate([*base, "--out", str(tmp_path / "bad"), "--roi", "0,0,1"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "region of interest" in err[0] and not (tmp_path / "bad").exists()


@pytest.mark.parametrize(
    ("option", "key", "said"),
    [("--no_lamp_proposals", "lamp_proposals", "Lamp proposals off"), ("--no_second_look", "second_look", "Second look off")],
)
def test_the_fallbacks_can_be_turned_off_as_in_the_node(tmp_path: Path, realdata: Path, option: str, key: str, said: str):
    """--no_lamp_proposals and --no_second_look (the node's ~lamp_proposals, ~second_look false): recorded, said in report.md."""
    base = ["--model", f"default={ROOT / 'models/default'}", "--data", f"sim_val={SIM_VAL}", "--no_progress"]
    assert evaluate([*base, "--out", str(tmp_path / "on")]) == 0
    assert evaluate([*base, "--out", str(tmp_path / "off"), option]) == 0
    on, off = (json.loads((tmp_path / d / "metrics.json").read_text()) for d in ("on", "off"))
    assert (on[key], off[key]) == (True, False)
    assert said in (tmp_path / "off/report.md").read_text()
    assert said not in (tmp_path / "on/report.md").read_text()
