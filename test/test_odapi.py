"""The real Object Detection API, in its own environment (.odapi/, `make odapi`): configure, train, resume, export,
and the node loading the result under rostest.  Nothing is mocked; without the environment these tests fail.

The training is the shipped SSD MobileNet v2 FPN-lite sample shrunk for CI's two cores: 128x128 input, a 0.35
depth multiplier, batch 2, 200 steps from scratch (no pretrained weights can be downloaded here).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tl_classifier.commands.train import main as train
from tl_classifier.data.records import RecordOptions, create_records
from tl_classifier.train.odapi import (
    SAMPLES,
    ConfigureOptions,
    checkpoint_every,
    checkpoint_step,
    configure_pipeline,
    loop_steps,
    odapi_python,
)

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def odapi() -> Path:
    python = odapi_python()
    if python is None:
        pytest.fail("the OD API environment is missing: run `make odapi` (make test does it first)")
    return python


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory, realdata: Path) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("odapi_records")
    lm = out / "label_map.pbtxt"
    lm.write_text((realdata / "labelmaps/alex-lechner/data/udacity_label_map.pbtxt").read_text())
    sim = realdata / "ros-racers/tl_classification/data"
    for name, folder in (("train", "images_sim"), ("val", "images_sim_val")):
        create_records(RecordOptions([sim / folder], out / f"{name}.record", lm, label_mapping="states", progress=False, jobs=2))
    return {"train": out / "train.record", "val": out / "val.record", "lm": lm}


def test_checkpoints_fall_on_the_last_step():
    assert [loop_steps(n) for n in (1, 100, 101, 1234)] == [100, 100, 200, 1300]
    assert [checkpoint_every(n) for n in (100, 200, 1300, 2000, 25000)] == [100, 100, 100, 1000, 1000]
    for n in (100, 300, 700, 1300, 2500, 25000):
        assert loop_steps(n) % checkpoint_every(n) == 0


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_shipped_samples_are_accepted_by_the_od_api(odapi: Path, records, tmp_path: Path, name: str):
    """Each sample, filled in by train configure, is read by the OD API's loader and its model built."""
    result = configure_pipeline(
        ConfigureOptions(name, records["lm"], records["train"], tmp_path / "p.config", eval_record=records["val"])
    )
    assert result.checked_by_od_api and result.tf1_only is None
    text = (tmp_path / "p.config").read_text()
    assert "PATH_TO_BE_CONFIGURED" not in text and str(records["train"]) in text


def _configure_small(records: dict[str, Path], out: Path, steps: int) -> None:
    assert train(["configure", "--model", "ssd_mobilenet_v2_fpnlite_320", f"--label_map={records['lm']}",
                  f"--train_record={records['train']}", f"--eval_record={records['val']}", "--image_size=128x128",
                  "--batch_size=2", f"--num_steps={steps}", f"--output={out}", "--overwrite"]) == 0  # fmt: skip
    out.write_text(out.read_text().replace("depth_multiplier: 1.0", "depth_multiplier: 0.35"))


def _run_command(pipeline: Path, model_dir: Path, export: Path) -> list[str]:
    return [str(ROOT / "scripts/train"), "run", f"--pipeline={pipeline}", f"--model_dir={model_dir}",
            f"--export_dir={export}", "--no_progress"]  # fmt: skip


@pytest.fixture(scope="module")
def trained(odapi: Path, records, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """An interrupted training (stopped after its first checkpoint, at step 100), resumed to step 200 and exported."""
    work = tmp_path_factory.mktemp("odapi_train")
    pipeline, model_dir, export = work / "pipeline.config", work / "training", work / "exported"
    _configure_small(records, pipeline, 200)
    first = subprocess.Popen(_run_command(pipeline, model_dir, export), start_new_session=True,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    deadline = time.monotonic() + 400
    while not list(model_dir.glob("ckpt-*.index")) or checkpoint_step(model_dir) < 100:
        assert first.poll() is None, first.stdout.read()
        assert time.monotonic() < deadline, "no checkpoint within 400 s"
        time.sleep(2)
    os.killpg(first.pid, signal.SIGINT)  # as Ctrl-C would
    first.wait(timeout=60)
    interrupted_at = checkpoint_step(model_dir)
    assert first.returncode != 0 and 100 <= interrupted_at < 200 and not export.exists()
    started = time.monotonic()
    second = subprocess.run(_run_command(pipeline, model_dir, export), capture_output=True, text=True)
    assert second.returncode == 0, second.stdout + second.stderr
    return {"export": export, "model_dir": model_dir, "stdout": second.stdout, "interrupted_at": interrupted_at,
            "seconds": time.monotonic() - started, "records": records}  # fmt: skip


def test_an_interrupted_training_resumes_and_exports(trained: dict):
    assert f"resumed at step {trained['interrupted_at']}" in trained["stdout"]
    assert checkpoint_step(trained["model_dir"]) == 200
    assert (trained["model_dir"] / "train").is_dir(), "TensorBoard logs in the model dir"
    export = trained["export"]
    for name in ("frozen_inference_graph.pb", "saved_model/saved_model.pb", "label_map.pbtxt", "model.json", "pipeline.config"):
        assert (export / name).exists(), name
    info = json.loads((export / "model.json").read_text())
    assert info["kind"] == "odapi" and info["training"]["num_steps"] == 200 and info["score_threshold"] == 0.5


def test_the_export_loads_in_the_nodes_tensorflow(trained: dict, realdata: Path):
    from tl_classifier.model.load import load_model
    from tl_classifier.testing.realdata import sim_frames

    rgb = sim_frames()["red"][0]
    for path in (trained["export"], trained["export"] / "frozen_inference_graph.pb", trained["export"] / "saved_model"):
        model = load_model(path)
        result = model.detect(rgb)
        assert model.score_threshold == 0.5 and result.state is not None
        raw = model.raw(rgb)
        assert raw[0].shape[-1] == 4  # boxes [1, N, 4]


def test_the_node_runs_the_export_under_rostest(trained: dict):
    done = subprocess.run(
        ["rostest", str(ROOT / "test/odapi/node.test"), f"model:={trained['export']}", "--text"],
        capture_output=True, text=True, timeout=400,
    )  # fmt: skip
    assert done.returncode == 0 and "SUMMARY" in done.stdout and "* RESULT: SUCCESS" in done.stdout, done.stdout[-3000:]


def test_a_resumed_training_that_is_complete_only_exports_again(trained: dict, tmp_path: Path):
    again = subprocess.run(_run_command(trained["model_dir"].parent / "pipeline.config", trained["model_dir"],
                                        tmp_path / "again"), capture_output=True, text=True)  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert "resumed at step 200" in again.stdout and checkpoint_step(trained["model_dir"]) == 200


def _one_line_error(cmd: list[str]) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
    return done.stderr


def test_bad_inputs(odapi: Path, records, realdata: Path, tmp_path: Path):
    train_cmd = [str(ROOT / "scripts/train")]
    base = [f"--label_map={records['lm']}", f"--train_record={records['train']}", f"--output={tmp_path / 'p.config'}"]
    # the tutorial's TF1 models, by name: the one-line answer names the TF2 successor
    err = _one_line_error([*train_cmd, "configure", "--model", "ssd_inception_v2_coco", *base])
    assert "TF1" in err and "ssd_mobilenet_v2_fpnlite_320" in err
    err = _one_line_error([*train_cmd, "configure", "--model", "faster_rcnn_inception_v2", *base])
    assert "faster_rcnn_resnet50_640" in err
    # a TF1 config given as a file is filled in (for a TF1 installation), with a note; train run refuses it
    tf1 = realdata / "labelmaps/alex-lechner/config/ssd_inception_v2_coco_sim.config"
    done = subprocess.run([*train_cmd, "configure", f"--sample={tf1}", *base, "--num_steps=100"], capture_output=True, text=True)
    assert done.returncode == 0 and "note: feature extractor 'ssd_inception_v2' is TF1-only" in done.stdout
    err = _one_line_error([*train_cmd, "run", f"--pipeline={tmp_path / 'p.config'}", f"--model_dir={tmp_path / 'm'}",
                           f"--export_dir={tmp_path / 'e'}"])  # fmt: skip
    assert "TF1-only" in err and "ssd_mobilenet_v2_fpnlite_320" in err and not (tmp_path / "m").exists()
    # a missing checkpoint
    err = _one_line_error([*train_cmd, "configure", "--model", "ssd_mobilenet_v2_fpnlite_320", *base,
                           "--fine_tune_checkpoint=/nowhere/ckpt-0", "--overwrite"])  # fmt: skip
    assert "/nowhere/ckpt-0: no such checkpoint" in err
    # a record with a label that the label map lacks
    small = tmp_path / "small.pbtxt"
    small.write_text("item {\n  id: 1\n  name: 'Green'\n}\n")
    err = _one_line_error([*train_cmd, "configure", "--model", "ssd_mobilenet_v2_fpnlite_320", f"--label_map={small}",
                           f"--train_record={records['train']}", f"--output={tmp_path / 'q.config'}"])  # fmt: skip
    assert "'Red'" in err and "does not name" in err and not (tmp_path / "q.config").exists()
    # a pipeline the OD API cannot build: its own reason, in one line, before any training
    broken = tmp_path / "broken.config"
    broken.write_text((tmp_path / "p.config").read_text().replace("ssd_inception_v2", "ssd_no_such_net_keras"))
    err = _one_line_error([*train_cmd, "run", f"--pipeline={broken}", f"--model_dir={tmp_path / 'm2'}",
                           f"--export_dir={tmp_path / 'e2'}"])  # fmt: skip
    assert "does not accept it" in err and not (tmp_path / "e2").exists()


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
