"""The built-in trainer: targets, loss, decoding, a tiny real training run exported and loaded, mirrored on 2 CPUs."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tl_classifier.errors import TLClassifierError
from tl_classifier.fields import SECOND_LOOK_NAME
from tl_classifier.model.load import load_model
from tl_classifier.tf_setup import import_tensorflow
from tl_classifier.train.builtin import SETTINGS_NAME, BuiltinOptions, check_same_training
from tl_classifier.train.network import (
    PATCH_HEIGHT,
    PATCH_WIDTH,
    STRIDE,
    ModelSpec,
    TrainError,
    build_model,
    centernet_loss,
    decode_peaks,
    detector_fn,
    light_bank,
    make_targets,
    mosaic_of,
    paste_lights,
)

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
TINY = ModelSpec(num_classes=4, input_height=64, input_width=96, alpha=0.35, channels=16, max_detections=5)


def test_targets_peak_at_box_centres():
    import tensorflow as tf

    boxes = tf.constant([[0.25, 0.5, 0.5, 0.75]])  # centre (0.375, 0.625): cell (6, 15) of 16x24
    t = make_targets(boxes, tf.constant([2]), TINY).numpy()
    assert t.shape == (16, 24, 4 + 3)
    assert np.unravel_index(t[..., 1].argmax(), t[..., 1].shape) == (6, 15) and t[6, 15, 1] == 1.0
    assert t[..., 0].max() == 0 and t[..., 2].max() == 0
    np.testing.assert_allclose(t[6, 15, 4:6], [0.25 * 24, 0.25 * 16])
    assert t[..., 6].sum() == 1
    empty = make_targets(tf.zeros([0, 4]), tf.zeros([0], tf.int32), TINY).numpy()
    assert empty.max() == 0 and np.isfinite(empty).all()


def test_offset_head_puts_the_box_where_the_light_is_in_its_cell():
    """Decoded from perfect targets, a box with the offset head is the labelled box; without it, centred on its cell."""
    import tensorflow as tf

    box = [0.1, 0.2, 0.3, 0.27]  # centre (0.2, 0.235) of a 16x24 grid: cell (3, 5), at (0.2, 0.64) in it
    with_offsets = dataclasses.replace(TINY, num_classes=1, offsets=True)
    assert with_offsets.channels_out == 5 and build_model(with_offsets).output_shape[-1] == 5
    for spec, centre_x in ((with_offsets, 0.235), (dataclasses.replace(with_offsets, offsets=False), 5.5 / 24)):
        t = make_targets(tf.constant([box]), tf.constant([1]), spec)
        assert t.shape[-1] == spec.channels_out + 1
        heat = tf.clip_by_value(t[..., :1], 1e-6, 1 - 1e-6)
        out = tf.concat([tf.math.log(heat / (1 - heat)), t[..., 1 : spec.channels_out]], -1)[None]
        boxes, scores, _ = decode_peaks(out, spec)
        ymin, xmin, ymax, xmax = boxes[0, 0].numpy()
        assert scores[0, 0] > 0.99 and (xmin + xmax) / 2 == pytest.approx(centre_x, abs=1e-5)
        assert xmax - xmin == pytest.approx(0.07, abs=1e-5) and ymax - ymin == pytest.approx(0.2, abs=1e-5)
        assert float(centernet_loss(1, spec.offsets)(t[None], out)) < 0.05  # the offset's L1 is 0 where it is right
    t = make_targets(tf.constant([box]), tf.constant([1]), with_offsets)
    np.testing.assert_allclose(t[3, 5, 3:5], [0.64, 0.2], atol=1e-5)  # x, y in the cell
    wrong = tf.concat([t[..., :3], 1 - t[..., 3:5]], -1)[None]
    assert float(centernet_loss(1, True)(t[None], wrong)) > float(centernet_loss(1, True)(t[None], t[None, ..., :5])) + 0.5


def test_loss_falls_when_training_on_one_batch():
    import tensorflow as tf

    tf.keras.utils.set_random_seed(0)
    model = build_model(TINY)
    model.compile(optimizer=tf.keras.optimizers.Adam(3e-3), loss=centernet_loss(TINY.num_classes))
    x = np.random.default_rng(0).uniform(0, 255, (4, 64, 96, 3)).astype("float32")
    y = np.stack([make_targets(tf.constant([[0.2, 0.2, 0.6, 0.4]]), tf.constant([1 + i % 3]), TINY).numpy() for i in range(4)])
    first = float(model.train_on_batch(x, y))
    for _ in range(30):
        last = float(model.train_on_batch(x, y))
    assert last < 0.5 * first


def test_decoding_finds_the_peak_in_od_api_format(tmp_path: Path):
    """A real Keras model whose heatmap has one peak where the input is brightest; exported, loaded, detected."""
    import tensorflow as tf

    from tl_classifier.data.label_map import LabelMap
    from tl_classifier.model.export import export_detector

    keras = tf.keras
    inputs = keras.Input((TINY.input_height, TINY.input_width, 3))
    grey = keras.layers.AveragePooling2D(STRIDE)(keras.layers.Lambda(lambda im: tf.reduce_mean(im, -1, keepdims=True))(inputs))
    heat = keras.layers.Lambda(
        lambda g: tf.concat([g * 0 - 9, (g - 128.0) / 8.0, g * 0 - 9, g * 0 - 9, g * 0 + 4, g * 0 + 2], -1)
    )(grey)
    model = keras.Model(inputs, heat)
    out = export_detector(
        detector_fn(model, TINY, min_score=0.3), tmp_path / "m", LabelMap.from_labels(["Green", "Red", "Yellow", "off"])
    )
    image = np.zeros((600, 900, 3), np.uint8)
    image[300:340, 600:640] = 255  # a bright patch: the red class's peak
    for path in (out, out / "saved_model"):
        result = load_model(path).detect(image, 0.5)
        assert result.state.name == "RED" and len(result.detections) == 1
        d = result.detections[0]
        assert 560 <= (d.xmin + d.xmax) / 2 <= 680 and 270 <= (d.ymin + d.ymax) / 2 <= 370
        assert d.xmax - d.xmin == pytest.approx(4 * STRIDE * 900 / 96, abs=2)


@pytest.fixture(scope="module")
def tiny_records(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("tiny")
    for name, seed in (("train", "1"), ("val", "2")):
        cmd = [str(ROOT / "scripts/synthesize"), str(d / name), "--count", "8", "--size", "192x128", "--voc", "--seed", seed]
        assert subprocess.run(cmd, capture_output=True).returncode == 0
        cmd = [str(ROOT / "scripts/create_tf_record"), f"--data_dir={d / name}", f"--output_path={d / name}.record",
               f"--label_map_path={d / 'lm.pbtxt'}", "--no_progress"]  # fmt: skip
        assert subprocess.run(cmd, capture_output=True).returncode == 0
    return d


def builtin(records: Path, tmp: Path, *extra: str) -> subprocess.CompletedProcess:
    cmd = [
        str(ROOT / "scripts/train"), "builtin",
        f"--train_record={records / 'train.record'}", f"--val_record={records / 'val.record'}",
        f"--label_map={records / 'lm.pbtxt'}", f"--model_dir={tmp / 'work'}", f"--export_dir={tmp / 'model'}",
        "--input_size=96x64", "--alpha=0.35", "--epochs=2", "--steps_per_epoch=2", "--batch_size=2", "--no_progress", *extra,
    ]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600)


def test_builtin_training_end_to_end(tiny_records: Path, tmp_path: Path):
    done = builtin(tiny_records, tmp_path, "--mosaic=0.5")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "loss" in done.stdout and (tmp_path / "work/last.weights.h5").is_file()
    assert list((tmp_path / "work/logs").rglob("events.out.tfevents.*")), "TensorBoard logs"
    model = load_model(tmp_path / "model")
    from tl_classifier.data.label_map import load_label_map

    assert model.kind == "frozen" and model.label_map == load_label_map(tiny_records / "lm.pbtxt")
    boxes, scores, classes = model.raw(np.zeros((600, 800, 3), np.uint8))
    top = max(model.label_map.names)
    assert boxes.shape[1:] == (4,) and len(scores) <= 20 and ((classes >= 1) & (classes <= top)).all()
    info = json.loads((tmp_path / "model/model.json").read_text())
    assert 0.1 <= info["score_threshold"] <= 0.7 and "val_state_accuracy" in info
    trained_on = info["training"]  # what it was trained on, from create_tf_record's summaries
    assert trained_on["train_records"]["train.record"]["images"] == 8 and trained_on["epochs"] == 2
    assert trained_on["mosaic"] == 0.5
    assert trained_on["val_records"]["val.record"]["data_dir"] == [str(tiny_records / "val")]
    assert (tmp_path / "work/loss.png").stat().st_size > 1000
    again = builtin(tiny_records, tmp_path)  # an existing export is kept
    assert again.returncode == 1 and "--overwrite" in again.stderr


def test_mirrored_strategy_on_two_logical_cpus(tiny_records: Path, tmp_path: Path):
    done = builtin(tiny_records, tmp_path, "--strategy=mirrored", "--logical_cpus=2")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "training on 2 replica(s) (mirrored)" in done.stdout
    assert load_model(tmp_path / "model").kind == "frozen"


def test_missing_record_and_offline_pretrained(tiny_records: Path, tmp_path: Path):
    cmd = [str(ROOT / "scripts/train"), "builtin", "--train_record=/nope.record", f"--label_map={tiny_records / 'lm.pbtxt'}",
           f"--model_dir={tmp_path / 'w'}", f"--export_dir={tmp_path / 'm'}"]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 1 and done.stderr.count("\n") == 1 and "/nope.record" in done.stderr
    done = builtin(tiny_records, tmp_path, "--pretrained=/no/weights.h5")
    assert done.returncode == 1 and "/no/weights.h5" in done.stderr.splitlines()[-1]
    for extra, said in (
        (["--two_stage", "--second_look=200x100"], "--second_look 200x100: width and height must be"),
        (["--second_look=192x128"], "--second_look runs the detector and its crop classifier again"),
    ):
        done = builtin(tiny_records, tmp_path, *extra)
        assert done.returncode == 1 and done.stderr.count("\n") == 1 and said in done.stderr, done.stderr[-2000:]


def test_two_stage_training_end_to_end_and_threshold_again(tiny_records: Path, tmp_path: Path):
    """--two_stage: a one-class detector, crops, a crop classifier, one exported graph; `train threshold` re-chooses."""
    done = builtin(tiny_records, tmp_path, "--two_stage", "--classifier_epochs=1", "--classifier_steps=2", "--paste=0.5")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "pasting far lights into 50% of the training images" in done.stdout
    assert "crop classifier:" in done.stdout and (tmp_path / "work/classifier.weights.h5").is_file()
    model = load_model(tmp_path / "model")
    assert model.label_map.name(5) == "unknown"
    assert model.detect(np.zeros((600, 800, 3), np.uint8)).state.name in ("UNKNOWN", "RED", "YELLOW", "GREEN", "OFF")
    info = json.loads((tmp_path / "model/model.json").read_text())
    assert info["architecture"].startswith("two stages") and info["training"]["two_stage"] is True
    assert info["training"]["paste"] == 0.5
    saved = [n for n, _ in import_tensorflow().train.list_variables(str(tmp_path / "model/saved_model/variables/variables"))]
    assert saved and not [n for n in saved if "optimizer" in n], "the SavedModel holds the networks' weights only"
    assert load_model(tmp_path / "model/saved_model").raw(np.zeros((60, 80, 3), np.uint8))[1].shape[0] <= 20
    # rerun after an interruption: finished stages are loaded, not trained again
    # ... and a second look is not a training setting: the finished training exports again with one
    assert not (tmp_path / "model" / SECOND_LOOK_NAME).exists()
    again = builtin(tiny_records, tmp_path, "--two_stage", "--classifier_epochs=1", "--classifier_steps=2", "--paste=0.5",
                    "--overwrite", "--second_look=192x128")  # fmt: skip
    assert again.returncode == 0 and "was trained already" in again.stdout
    assert load_model(tmp_path / "model").second_look
    assert json.loads((tmp_path / "model/model.json").read_text())["second_look"]["input_size"] == "192x128"
    # ... but not with other settings: the finished detector of 96x64 would be taken for one of 128x96
    other = builtin(tiny_records, tmp_path, "--two_stage", "--classifier_epochs=1", "--classifier_steps=2", "--overwrite",
                    "--paste=0.5", "--input_size=128x96")  # fmt: skip
    assert other.returncode == 1 and other.stderr.count("\n") == 1, other.stderr[-2000:]
    assert "'96x64' -> '128x96'" in other.stderr and str(tmp_path / "work") in other.stderr
    assert load_model(tmp_path / "model").label_map.name(5) == "unknown"  # the export is left as it was
    cmd = [
        str(ROOT / "scripts/train"),
        "threshold",
        f"--model={tmp_path / 'model'}",
        f"--val_record={tiny_records / 'val.record'}",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0 and "score_threshold" in done.stdout, done.stderr
    assert 0.1 <= json.loads((tmp_path / "model/model.json").read_text())["score_threshold"] <= 0.7
    cmd[2] = f"--model={tmp_path}"  # a folder without model.json: one line
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 1 and done.stderr.count("\n") == 1 and "model.json" in done.stderr


def test_box_offsets_trained_exported_and_exported_again(tiny_records: Path, tmp_path: Path):
    """--box_offsets: the detector's offset head is trained, said in model.json, and rebuilt by `train second_look`."""
    done = builtin(tiny_records, tmp_path, "--two_stage", "--classifier_epochs=1", "--classifier_steps=2", "--box_offsets")
    assert done.returncode == 0, done.stderr[-2000:]
    info = json.loads((tmp_path / "model/model.json").read_text())
    assert info["training"]["box_offsets"] is True
    assert json.loads((tmp_path / "work" / SETTINGS_NAME).read_text())["box_offsets"] is True
    assert load_model(tmp_path / "model").detect(np.zeros((600, 800, 3), np.uint8)).state.name
    cmd = [str(ROOT / "scripts/train"), "second_look", f"--model={tmp_path / 'model'}", "--size=192x128"]
    again = subprocess.run(cmd, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr[-2000:]  # its variables are those of a detector with the offset head
    assert load_model(tmp_path / "model").second_look
    # the same model_dir without the head: its checkpoints are of another network
    other = builtin(tiny_records, tmp_path, "--two_stage", "--classifier_epochs=1", "--classifier_steps=2", "--overwrite")
    assert other.returncode == 1 and "box_offsets True -> False" in other.stderr, other.stderr[-2000:]


def test_mosaic_puts_each_frame_and_its_boxes_in_one_quarter():
    """Four frames with a white square each: in the mosaic, each moved box still frames its white square."""
    tf = import_tensorflow()
    images = np.zeros((4, 96, 128, 3), np.uint8)
    boxes = np.full((4, 2, 4), -1.0, np.float32)  # padded to two boxes, as padded_batch does
    classes = np.zeros((4, 2), np.int32)
    for i in range(4):
        y0, x0 = 10 + 10 * i, 20 + 15 * i
        images[i, y0 : y0 + 40, x0 : x0 + 20] = 255
        boxes[i, 0] = (y0 / 96, x0 / 128, (y0 + 40) / 96, (x0 + 20) / 128)
        classes[i, 0] = i + 1
    image, moved, kept = (t.numpy() for t in mosaic_of(tf.constant(images), tf.constant(boxes), tf.constant(classes)))
    assert image.shape == (96, 128, 3) and image.dtype == np.uint8
    assert list(kept) == [1, 2, 3, 4] and moved.shape == (4, 4)
    for i, (ymin, xmin, ymax, xmax) in enumerate(moved):
        assert (ymin >= 0.5) == (i >= 2) and (xmin >= 0.5) == (i % 2 == 1)  # its own quarter
        top, left, bottom, right = (int(round(v)) for v in (ymin * 96, xmin * 128, ymax * 96, xmax * 128))
        assert image[top + 1 : bottom - 1, left + 1 : right - 1].min() > 200  # the square is inside its box ...
        assert (image[top:bottom, left:right] > 100).mean() > 0.8  # ... and fills it
    assert (image > 100).mean() == pytest.approx(4 * 40 * 20 / 4 / (96 * 128), abs=0.01)  # four half-size squares


def test_pasted_far_lights_are_in_the_image_and_in_its_boxes(tiny_records: Path):
    """train builtin --paste: labelled lights of the records, shrunk to far-light sizes, pasted with a box each."""
    tf = import_tensorflow()
    bank = light_bank([tiny_records / "train.record"], seed=0, min_width=8)
    assert len(bank) > 4 and bank.patches.shape[1:] == (PATCH_HEIGHT, PATCH_WIDTH, 3) and (bank.aspects > 1).all()
    image = tf.fill([96, 128, 3], 114.0)  # an even grey frame: whatever differs was pasted
    old = tf.constant([[0.1, 0.1, 0.3, 0.2]])
    seen = set()
    for _ in range(12):
        pasted, boxes, classes = (t.numpy() for t in paste_lights(image, old, tf.constant([1]), bank))
        assert pasted.shape == (96, 128, 3) and 2 <= len(boxes) <= 4 and (classes == 1).all()
        assert np.allclose(boxes[0], [0.1, 0.1, 0.3, 0.2])  # the frame's own box is kept
        changed = np.zeros((96, 128), bool)
        for ymin, xmin, ymax, xmax in boxes[1:]:
            top, left, bottom, right = (int(round(v)) for v in (ymin * 96, xmin * 128, ymax * 96, xmax * 128))
            assert 2 <= right - left <= 16 and 0 <= top < bottom <= 96  # a far light's width, inside the frame
            changed[top:bottom, left:right] = True
        assert not (np.abs(pasted - 114.0).max(-1) > 1)[~changed].any()  # nothing changed outside the pasted boxes
        seen.add(len(boxes) - 1)
    assert seen == {1, 2, 3}
    with pytest.raises(TrainError, match="no labelled light of at least 500 px"):
        light_bank([tiny_records / "train.record"], seed=0, min_width=500)


def test_paste_needs_two_stages(tiny_records: Path, tmp_path: Path):
    done = builtin(tiny_records, tmp_path, "--paste=0.5")
    assert done.returncode == 1 and done.stderr.count("\n") == 1 and "--two_stage" in done.stderr
    assert not (tmp_path / "model").exists()


def test_a_model_dir_of_a_training_before_a_setting_existed(tmp_path: Path):
    """A settings.json without a setting that came later was trained as that setting's default: resumed, not refused."""
    a = BuiltinOptions(train_record=["x.record"], label_map="lm", model_dir=str(tmp_path), export_dir=str(tmp_path / "m"))
    check_same_training(tmp_path, a)
    written = json.loads((tmp_path / SETTINGS_NAME).read_text())
    del written["mosaic"]
    (tmp_path / SETTINGS_NAME).write_text(json.dumps(written))
    check_same_training(tmp_path, a)  # mosaic 0.0, the default: the same training
    with pytest.raises(TLClassifierError, match=r"mosaic 0\.0 -> 0\.5"):
        check_same_training(tmp_path, dataclasses.replace(a, mosaic=0.5))


def test_stage_probe_on_a_two_stage_model(tiny_records: Path, tmp_path: Path):
    """docs/probe_stages.py counts each real light of a recording three ways, with a held-out model's two networks."""
    done = builtin(tiny_records, tmp_path, "--two_stage", "--classifier_epochs=1", "--classifier_steps=2")
    assert done.returncode == 0, done.stderr[-2000:]
    held_out = tmp_path / "loro" / "sim_rosracers"  # the layout of make loro's work
    held_out.mkdir(parents=True)
    for part in ("work", "model"):
        (held_out / part).symlink_to(tmp_path / part)
    probe = [
        str(ROOT / "env.sh"),
        "python",
        str(ROOT / "docs/probe_stages.py"),
        "--loro",
        str(tmp_path / "loro"),
        "--out",
        str(tmp_path),
    ]
    done = subprocess.run([*probe, "sim_rosracers"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads((tmp_path / "stages.json").read_text())["recordings"][0]
    t = result["all"]
    assert result["recording"] == "sim_rosracers" and result["frames"] == 107  # its frames, the unlabelled ones too
    assert t["lights"] > 100 and t["found"] + t["misplaced"] + t["missed"] == t["lights"]
    assert 0 <= t["right_on_true_box"] <= t["lights"] and 0 <= t["right_as_detected"] <= t["lights"]
    assert sum(b["lights"] for b in result["by_light_width"]) == t["lights"]
    assert result["wrong_by_a_box_on_no_light"] <= result["frames_wrong"] <= result["frames"]
    assert (tmp_path / "stages.png").stat().st_size > 1000
    done = subprocess.run([*probe, "car_sunny"], capture_output=True, text=True, timeout=600)  # not trained: one line
    assert done.returncode == 1 and done.stderr.count("\n") == 1 and "make loro" in done.stderr
    # a recording probed alone (its held-out model trained again): the other recordings keep their rows
    result["mark"] = "kept"  # this row must come back as it was written
    (tmp_path / "stages.json").write_text(json.dumps({**json.loads((tmp_path / "stages.json").read_text()),
                                                      "recordings": [result]}))  # fmt: skip
    (tmp_path / "loro" / "car_sunny").mkdir()
    for part in ("work", "model"):
        (tmp_path / "loro" / "car_sunny" / part).symlink_to(tmp_path / part)
    done = subprocess.run([*probe, "car_sunny"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = json.loads((tmp_path / "stages.json").read_text())["recordings"]
    assert [r["recording"] for r in rows] == ["car_sunny", "sim_rosracers"]  # in RECORDINGS' order
    assert rows[1]["mark"] == "kept" and "mark" not in rows[0] and rows[0]["frames"] == 159
    # docs/probe_position.py: the same model's crop classifier on each true box, and on it moved up and down
    position = [str(ROOT / "env.sh"), "python", str(ROOT / "docs/probe_position.py"), "--out", str(tmp_path)]
    done = subprocess.run([*position, "--model", f"tiny={held_out / 'model'}", "sim_rosracers"],
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    moved = json.loads((tmp_path / "position.json").read_text())
    r = moved["recordings"]["sim_rosracers"]["tiny"]
    assert r["lights"] == t["lights"] and len(r["right"]) == len(moved["moves"]) == len(r["read_as"])
    assert all(0 <= n <= r["lights"] for n in r["right"])
    assert all(sum(sum(row.values()) for row in m.values()) == r["lights"] for m in r["read_as"])
    assert (tmp_path / "position.png").stat().st_size > 1000
    done = subprocess.run([*position, "--model", "x=y", "sim_nowhere"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 1 and done.stderr.count("\n") == 1 and "sim_nowhere" in done.stderr
    # a model without a crop classifier beside it: one line naming it, nothing written
    bare = tmp_path / "bare"
    bare.mkdir()
    for f in ("frozen_inference_graph.pb", "label_map.pbtxt", "model.json"):
        shutil.copyfile(held_out / "model" / f, bare / f)  # copies: a link's crop classifier is found beside its target
    (tmp_path / "position.json").unlink()
    done = subprocess.run([*position, "--model", f"bare={bare}", "sim_rosracers"], capture_output=True, text=True, timeout=600)
    said = done.stderr.splitlines()[-1]  # after TensorFlow's own lines, which differ between CPUs
    assert done.returncode == 1 and said.startswith("probe_position: ") and "no crop classifier" in said, done.stderr[-2000:]
    assert str(bare) in said and not (tmp_path / "position.json").exists()
