"""Models in the OD API's formats, exported by our code and loaded back; broken model files."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from tl_classifier.errors import LabelMapError, ModelError
from tl_classifier.model.load import load_model
from tl_classifier.states import State


@pytest.fixture(scope="module", params=["frozen", "saved_model"])
def model(request, baseline_dir: Path):
    path = baseline_dir / "frozen_inference_graph.pb" if request.param == "frozen" else baseline_dir / "saved_model"
    m = load_model(path)
    assert m.kind == request.param
    return m


def test_export_layout_and_tensor_names(baseline_dir: Path):
    import tensorflow as tf

    assert sorted(p.name for p in baseline_dir.iterdir()) == ["frozen_inference_graph.pb", "label_map.pbtxt", "saved_model"]
    gd = tf.compat.v1.GraphDef()
    gd.ParseFromString((baseline_dir / "frozen_inference_graph.pb").read_bytes())
    nodes = {n.name: n for n in gd.node}
    assert nodes["image_tensor"].op == "Placeholder"
    for name in ("detection_boxes", "detection_scores", "detection_classes", "num_detections"):
        assert name in nodes
    assert not [n for n in gd.node if n.op in ("VarHandleOp", "VariableV2")], "the graph is frozen"
    sig = tf.saved_model.load(str(baseline_dir / "saved_model")).signatures["serving_default"]
    assert list(sig.structured_input_signature[1]) == ["input_tensor"]


def test_real_sim_frames_get_their_state(model, frames):
    for folder, images in frames.items():
        expected = State[folder.upper()]
        for rgb in images:
            result = model.detect(rgb)
            assert result.state is expected, folder
            for d in result.detections:
                assert 0 <= d.xmin < d.xmax <= rgb.shape[1] and 0 <= d.ymin < d.ymax <= rgb.shape[0]
                assert d.score >= 0.5 and d.label in ("Green", "Red", "Yellow")


def test_bgr_fed_as_rgb_loses_the_red_light(model, frames):
    """The model must get RGB: the same red frames in BGR order are not red (the classic mix-up)."""
    for rgb in frames["red"]:
        assert model.detect(rgb).state is State.RED
        assert model.detect(np.ascontiguousarray(rgb[..., ::-1])).state is not State.RED


def test_frozen_and_saved_model_agree(baseline_dir: Path, frames):
    a = load_model(baseline_dir)
    b = load_model(baseline_dir / "saved_model")
    for rgb in frames["green"][:3]:
        ra, rb = a.raw(rgb), b.raw(rgb)
        for x, y in zip(ra, rb, strict=True):
            np.testing.assert_allclose(x, y, atol=1e-6)


def test_committed_default_model_matches_a_fresh_export(baseline_dir: Path, frames):
    shipped = load_model(Path(__file__).resolve().parent.parent / "models" / "colour_baseline")
    fresh = load_model(baseline_dir)
    for images in frames.values():
        for x, y in zip(shipped.raw(images[0]), fresh.raw(images[0]), strict=True):
            np.testing.assert_allclose(x, y, atol=1e-6)


def _one_line_naming(err: pytest.ExceptionInfo, path: Path, words: str) -> None:
    text = str(err.value)
    assert "\n" not in text and str(path) in text and words in text, text


@pytest.mark.parametrize(
    ("relative", "words"),
    [
        ("ananevans-lfs-pointer/ros/src/tl_detector/light_classification/models/model_ssd/frozen_inference_graph.pb", "Git-LFS"),
        ("sunshine2050-html-as-pb/ros/src/tl_detector/light_classification/frozen_inference_graph.pb", "HTML page"),
    ],
)
def test_real_broken_model_files(realdata: Path, relative: str, words: str, baseline_dir: Path):
    path = realdata / "negative" / relative
    with pytest.raises(ModelError) as err:
        load_model(path, baseline_dir / "label_map.pbtxt")
    _one_line_naming(err, path, words)


def test_rtf_label_map_beside_a_good_model(realdata: Path, baseline_dir: Path):
    bad = realdata / "negative/abhisheksreesaila-rtf-as-pbtxt/ros/src/tl_detector/light_classification/model/label_map.pbtxt"
    with pytest.raises(LabelMapError) as err:
        load_model(baseline_dir, bad)
    _one_line_naming(err, bad, "RTF")


def test_a_tf1_savedmodel_without_signature(realdata: Path, baseline_dir: Path):
    path = realdata / "kungfupanda/ros/src/tl_detector/light_classification/model"
    with pytest.raises(ModelError) as err:
        load_model(path, baseline_dir / "label_map.pbtxt")
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_graph_without_od_api_tensors(tmp_path: Path, baseline_dir: Path):
    import tensorflow as tf

    g = tf.Graph()
    with g.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 4], name="input")
        tf.identity(x * 2.0, name="output")
    path = tmp_path / "frozen_inference_graph.pb"
    path.write_bytes(g.as_graph_def().SerializeToString())
    with pytest.raises(ModelError) as err:
        load_model(path, baseline_dir / "label_map.pbtxt")
    _one_line_naming(err, path, "image_tensor:0")
    assert "input" in str(err.value)


@pytest.mark.parametrize(("content", "words"), [(b"", "empty"), (b"\x00\xff" * 50 + b"garbage", "not a TensorFlow graph")])
def test_garbage_and_empty_files(tmp_path: Path, content: bytes, words: str, baseline_dir: Path):
    path = tmp_path / "frozen_inference_graph.pb"
    path.write_bytes(content)
    with pytest.raises(ModelError) as err:
        load_model(path, baseline_dir / "label_map.pbtxt")
    _one_line_naming(err, path, words)


def test_missing_model_and_missing_label_map(tmp_path: Path, baseline_dir: Path):
    with pytest.raises(ModelError, match="no such file"):
        load_model(tmp_path / "nothing.pb")
    lone = tmp_path / "lone"
    lone.mkdir()
    shutil.copy(baseline_dir / "frozen_inference_graph.pb", lone)
    with pytest.raises(ModelError, match=r"label_map\.pbtxt"):
        load_model(lone)
    with pytest.raises(ModelError, match="neither"):
        load_model(tmp_path)


def test_warm_up_and_image_checks(baseline_dir: Path):
    from tl_classifier.errors import ImageError

    m = load_model(baseline_dir)
    assert m.warm_up(64, 48) >= 0.0
    with pytest.raises(ImageError):
        m.detect(np.zeros((10, 10), np.uint8))
    with pytest.raises(ImageError):
        m.detect(np.zeros((10, 10, 3), np.float32))


def test_model_json_sets_the_operating_point(tmp_path: Path, baseline_dir: Path, frames):
    import json

    folder = tmp_path / "m"
    shutil.copytree(baseline_dir, folder)
    red = frames["red"][0]
    assert load_model(folder).score_threshold == 0.5 and load_model(folder).detect(red).state is State.RED
    (folder / "model.json").write_text(json.dumps({"score_threshold": 1.01}))
    with pytest.raises(ModelError, match="not between 0 and 1"):
        load_model(folder)
    (folder / "model.json").write_text(json.dumps({"score_threshold": 1.0}))
    model = load_model(folder / "saved_model")  # found in the export folder above a SavedModel too
    assert model.score_threshold == 1.0
    assert model.detect(red).state is State.RED  # the baseline scores a full lamp 1.0
    assert model.detect(red, 0.5).state is State.RED
    (folder / "model.json").write_text("{not json")
    with pytest.raises(ModelError) as err:
        load_model(folder)
    assert "model.json" in str(err.value) and "\n" not in str(err.value)
