"""train configure on the tutorial's three real pipeline configs; train run without the OD API."""

from __future__ import annotations

import difflib
import os
import subprocess
from pathlib import Path

import pytest

from tl_classifier.commands.train import main as train
from tl_classifier.train.pipeline_config import ConfigError, Settings, configure, meta_architecture

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ["ssd_inception_v2_coco_sim", "ssd_inception_v2_coco_udacity", "faster_rcnn_inception_v2_coco"]


@pytest.fixture(scope="module")
def records(tmp_path_factory, realdata: Path) -> dict[str, Path]:
    from tl_classifier.commands.create_tf_record import main as create_tf_record

    out = tmp_path_factory.mktemp("rec")
    data = realdata / "ros-racers/tl_classification/data"
    lm = realdata / "labelmaps/alex-lechner/data/udacity_label_map.pbtxt"
    (out / "lm.pbtxt").write_text(lm.read_text())
    args = [f"--label_map_path={out / 'lm.pbtxt'}", "--label_mapping=states", "--no_progress"]
    assert create_tf_record([f"--data_dir={data / 'images_real'}", f"--output_path={out / 'train.record'}", *args]) == 0
    assert create_tf_record([f"--data_dir={data / 'images_real_val'}", f"--output_path={out / 'val.record'}", *args]) == 0
    (out / "ckpt").mkdir()
    (out / "ckpt" / "model.ckpt.index").write_bytes(b"")
    return {"train": out / "train.record", "val": out / "val.record", "lm": out / "lm.pbtxt", "ckpt": out / "ckpt" / "model.ckpt"}


def run_configure(sample: Path, records: dict[str, Path], out: Path, *extra: str) -> int:
    return train([
        "configure", f"--sample={sample}", f"--label_map={records['lm']}", f"--train_record={records['train']}",
        f"--eval_record={records['val']}", f"--fine_tune_checkpoint={records['ckpt']}", "--batch_size=2",
        "--num_steps=1234", "--max_detections=5", f"--output={out}", *extra,
    ])  # fmt: skip


@pytest.mark.parametrize("name", CONFIGS)
def test_real_configs_get_exactly_the_edits(tmp_path: Path, realdata: Path, records, name: str):
    sample = realdata / f"labelmaps/alex-lechner/config/{name}.config"
    out = tmp_path / "pipeline.config"
    assert run_configure(sample, records, out) == 0
    before, after = sample.read_text().splitlines(), out.read_text().splitlines()
    assert len(before) == len(after)
    changed = {a.split(":")[0].strip(): a.split(":", 1)[1].strip() for b, a in zip(before, after, strict=True) if a != b}
    ssd = name.startswith("ssd")
    expected = {
        "num_classes": "4",
        "max_detections_per_class": "5",
        "max_total_detections": "5",
        "batch_size": "2",
        "num_steps": "1234",
        "fine_tune_checkpoint": f'"{records["ckpt"]}"',
        "num_examples": "32",
        "input_path": None,
        "label_map_path": f'"{records["lm"]}"',
        **({"height": "600", "width": "800"} if ssd else {"min_dimension": "600", "max_dimension": "800"}),
    }
    for key, value in expected.items():
        if key in changed and value is not None:
            assert changed[key] == value, key
    assert set(changed) <= set(expected)
    paths = [line.split(":", 1)[1].strip() for line in after if line.strip().startswith("input_path")]
    assert paths == [f'"{records["train"]}"', f'"{records["val"]}"']
    # every line that is not one of the fields is kept to the character (comments, spacing)
    diff = [d for d in difflib.ndiff(before, after) if d[:1] in "+-"]
    assert all(any(k in d for k in expected) for d in diff)
    assert meta_architecture(out.read_text()) == ("ssd" if ssd else "faster_rcnn")
    # idempotent: a second pass changes nothing
    again = Settings(num_classes=4)
    assert configure(out.read_text(), again) == out.read_text() and again.changed == []


def test_placeholders_are_filled_or_named(tmp_path: Path, realdata: Path, records):
    text = (realdata / "labelmaps/alex-lechner/config/ssd_inception_v2_coco_sim.config").read_text()
    for path in ("data/sim_data.record", "data/jpg_simulator_train.record", "data/udacity_label_map.pbtxt",
                 "models/ssd_inception_v2_coco_2017_11_17/model.ckpt"):  # fmt: skip
        text = text.replace(path, "PATH_TO_BE_CONFIGURED/x")
    sample = tmp_path / "sample.config"
    sample.write_text(text)
    assert run_configure(sample, records, tmp_path / "p.config") == 0
    code = [line for line in (tmp_path / "p.config").read_text().splitlines() if not line.lstrip().startswith("#")]
    assert not [line for line in code if "PATH_TO_BE_CONFIGURED" in line]
    with pytest.raises(
        ConfigError, match=r"line \d+: eval_input_reader/tf_record_input_reader/input_path is PATH_TO_BE_CONFIGURED"
    ):
        configure(text, Settings(train_record="t", label_map="l", fine_tune_checkpoint="c"))


def test_bad_inputs(tmp_path: Path, realdata: Path, records, capsys):
    sample = realdata / "labelmaps/alex-lechner/config/faster_rcnn_inception_v2_coco.config"
    assert train(["configure", f"--sample={sample}", f"--label_map={records['lm']}", f"--train_record={records['train']}",
                  "--fine_tune_checkpoint=/nowhere/model.ckpt", f"--output={tmp_path / 'x.config'}"]) == 1  # fmt: skip
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "/nowhere/model.ckpt: no such checkpoint" in err
    assert not (tmp_path / "x.config").exists()
    with pytest.raises(ConfigError, match="never closed"):
        configure("model {\n  ssd {\n", Settings())
    out = tmp_path / "p.config"
    out.write_text("keep me")
    assert run_configure(sample, records, out) == 1 and out.read_text() == "keep me"


def test_run_without_the_od_api_says_so_first(tmp_path: Path):
    cmd = [str(ROOT / "scripts/train"), "run", "--pipeline=/missing.config", f"--model_dir={tmp_path / 'm'}",
           "--label_map=/missing.pbtxt", f"--export_dir={tmp_path / 'e'}"]  # fmt: skip
    env = {**os.environ, "TL_CLASSIFIER_ODAPI": str(tmp_path / "no_odapi")}  # as on a machine without `make odapi`
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "Object Detection API's environment is missing" in done.stderr
    assert "make odapi" in done.stderr
    assert not (tmp_path / "m").exists() and not (tmp_path / "e").exists()
