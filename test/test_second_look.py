"""The second look: a two-stage model's networks on a larger detector input, run where the first look decides nothing."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from tl_classifier.errors import ModelError
from tl_classifier.fields import SECOND_LOOK_NAME
from tl_classifier.model.detection import SECOND_LOOK_MIN_SCORE
from tl_classifier.states import State

SHIPPED = Path(__file__).resolve().parent.parent / "models/default"
NOTHING = (np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64))


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory):
    """A tiny untrained two-stage model exported with a second look at twice its input, and its networks."""
    from tl_classifier.model.export import export_detector
    from tl_classifier.tf_setup import import_tensorflow
    from tl_classifier.train.crops import LABEL_MAP, build_classifier, crop_classifier_fn, two_stage_fn
    from tl_classifier.train.network import ModelSpec, build_model

    tf = import_tensorflow()
    tf.keras.utils.set_random_seed(0)
    spec = ModelSpec(num_classes=1, input_height=64, input_width=96, alpha=0.35, channels=16, max_detections=5)
    detector, classifier = build_model(spec), build_classifier(8)
    spec2 = dataclasses.replace(spec, input_height=128, input_width=192)
    bigger = build_model(spec2)
    bigger.set_weights(detector.get_weights())  # as train builtin --second_look builds it
    second = two_stage_fn(bigger, spec2, classifier)
    module = tf.Module()
    module.detector, module.classifier = detector, classifier
    out = export_detector(
        two_stage_fn(detector, spec, classifier), tmp_path_factory.mktemp("m") / "m", LABEL_MAP, trackable=module,
        crop_classifier=crop_classifier_fn(classifier), second_look=second,
    )  # fmt: skip
    return out, second


def test_the_exported_second_look_is_the_larger_network_and_is_found_beside_the_model(exported, tmp_path: Path):
    from tl_classifier.model.load import load_model
    from tl_classifier.tf_setup import import_tensorflow

    tf = import_tensorflow()
    out, second = exported
    assert (out / SECOND_LOOK_NAME).is_file()
    model = load_model(out)
    assert model.second_look
    frame = np.random.default_rng(0).integers(0, 255, (150, 200, 3), np.uint8)
    want = second(tf.constant(frame[None]))
    boxes, scores, _ = model.raw(frame, second=True)  # the frozen graph, as the node runs it
    n = int(np.asarray(want["num_detections"])[0])
    np.testing.assert_allclose(boxes, np.asarray(want["detection_boxes"])[0, :n], atol=1e-4)
    np.testing.assert_allclose(scores, np.asarray(want["detection_scores"])[0, :n], atol=1e-4)

    # the SavedModel alone (the export folder's saved_model/) finds it in the folder above, as it finds the crop classifier
    assert load_model(out / "saved_model").second_look
    # without it, no second look; a broken one is one line naming it
    kept = tmp_path / "kept.pb"
    (out / SECOND_LOOK_NAME).rename(kept)
    try:
        bare = load_model(out)
        assert not bare.second_look
        with pytest.raises(ModelError, match=r"has no second_look\.pb beside it"):
            bare.raw(frame, second=True)
        (out / SECOND_LOOK_NAME).write_bytes(b"<html>not a graph</html>")
        with pytest.raises(ModelError, match=r"second_look\.pb: is not a TensorFlow graph"):
            load_model(out)
    finally:
        kept.replace(out / SECOND_LOOK_NAME)


class Counting:
    """A real graph (the second look's, the crop classifier's), counting its calls."""

    def __init__(self, fn):
        self.fn, self.calls = fn, 0

    def __call__(self, *args):
        self.calls += 1
        return self.fn(*args)


def test_the_second_look_runs_only_where_the_first_decides_nothing(exported):
    from tl_classifier.model.load import load_model

    out, _ = exported
    model = load_model(out)
    model._second = counting = Counting(model._second)
    frame = np.full((300, 400, 3), 60, np.uint8)
    red = (np.array([[0.1, 0.1, 0.4, 0.2]], np.float32), np.array([0.9], np.float32), np.array([2], np.int64))  # 2: Red
    assert model.result(*red, 400, 300, 0.5, rgb=frame).state == State.RED
    assert counting.calls == 0
    model.result(*NOTHING, 400, 300, 0.5, rgb=frame)
    assert counting.calls == 1
    model.result(*NOTHING, 400, 300, 0.5)  # without the frame there is nothing to look at again
    model.second_look = False  # the node's ~second_look false, evaluate's --no_second_look
    model.result(*NOTHING, 400, 300, 0.5, rgb=frame)
    assert counting.calls == 1


def test_warm_up_runs_the_second_look_and_the_crop_classifier_too(exported):
    """The fallbacks' graphs are called at warm-up, so that the first frame without a light does not pay their first
    call (the node dropped frames arriving meanwhile)."""
    from tl_classifier.model.load import load_model

    out, _ = exported
    model = load_model(out)
    model._second = second = Counting(model._second)
    model._crops = counted = Counting(model._crops)
    assert model.warm_up(400, 300) >= 0.0
    assert second.calls == 2 and counted.calls == 2
    bare = load_model(out)
    bare._second = bare._crops = None  # a one-stage model: no fallbacks, nothing more to warm
    assert bare.warm_up(400, 300) >= 0.0


def test_the_time_detect_reports_includes_the_second_look(exported):
    """inference_time (the node's message field) is every stage the frame took, the second look's too."""
    import time

    from tl_classifier.model.load import load_model

    out, _ = exported
    model = load_model(out)
    second = model._second

    def slow(images):
        time.sleep(0.2)
        return second(images)

    model._second = slow
    result = model.detect(np.zeros((300, 400, 3), np.uint8), 0.99)  # nothing at 0.99: the second look runs
    assert result.state == State.UNKNOWN and result.inference_time >= 0.2


def test_the_second_looks_lights_count_from_its_own_score_or_the_models_threshold_where_higher(exported):
    """Its lights are held to SECOND_LOOK_MIN_SCORE (or the model's threshold where higher) and are labelled as its."""
    from tl_classifier.model.load import load_model

    out, _ = exported
    model = load_model(out)
    model.lamp_proposals = False
    frame = np.full((300, 400, 3), 60, np.uint8)
    for score, threshold, state in (
        (SECOND_LOOK_MIN_SCORE - 0.01, 0.1, State.UNKNOWN),
        (SECOND_LOOK_MIN_SCORE + 0.01, 0.1, State.RED),
        (0.55, 0.6, State.UNKNOWN),
        (0.65, 0.6, State.RED),
    ):
        # a graph's outputs for one light, to check the decision (the graph itself is checked above)
        model._second = lambda images, s=score: (
            np.array([[[0.1, 0.1, 0.4, 0.2]]], np.float32), np.array([[s]], np.float32), np.array([[2.0]], np.float32),
            np.array([1.0], np.float32),
        )  # fmt: skip
        result = model.result(*NOTHING, 400, 300, threshold, rgb=frame)
        assert result.state == state, (score, threshold)
        if state == State.RED:
            assert [d.label for d in result.detections] == ["Red (second look)"]


@pytest.mark.slow
def test_the_nodes_second_look_parameter(realdata: Path):
    """~second_look as roslaunch passes it turns it off in the node's classifier; the shipped model has one."""
    from tl_classifier.model.classify import FrameClassifier
    from tl_classifier.model.load import load_model
    from tl_classifier.params import NodeParams

    assert load_model(SHIPPED).second_look, f"models/default ships its {SECOND_LOOK_NAME}"
    for value, on in (("false", False), ("true", True)):
        given = {"~model": str(SHIPPED), "~second_look": value}
        params = NodeParams.read(lambda name, default, given=given: given.get(name, default))
        assert params.second_look is on
        assert FrameClassifier.from_params(load_model(SHIPPED), params).model.second_look is on


#: dominikma's frames that the shipped model decides right only with its second look (found with it and without it on
#: every real frame; every one of them UNKNOWN without: far lights 5-13 px wide the first look does not fire on)
FAR = {
    "RED": ["14:45:1552599904", "14:57:1552600620", "14:57:1552600674", "15:07:1552601274", "15:07:1552601276",
            "15:08:1552601336", "15:08:1552601338", "15:09:1552601340", "15:09:1552601342", "15:10:1552601431",
            "15:11:1552601502"],
    "GREEN": ["12:44:1552592691", "15:00:1552600846", "15:03:1552600980", "15:03:1552600982", "15:04:1552601094"],
    "YELLOW": ["14:39:1552599544", "14:46:1552600006", "15:00:1552600847"],
}  # fmt: skip


@pytest.mark.slow
def test_the_shipped_second_look_reads_far_lights_the_first_look_leaves_unknown(realdata: Path):
    from tl_classifier.model.load import load_model
    from tl_classifier.testing.realdata import REALDATA, read_rgb

    model = load_model(SHIPPED)
    model.lamp_proposals = False  # the looks alone: since 2026-11-28 the dim lamps read most of these frames too
    folder = REALDATA / "dominikma" / "vott-json-export"
    frames = [(State[s], read_rgb(folder / f"{s.lower()}_2019-03-14-{t}.jpg")) for s, times in FAR.items() for t in times]
    with_second = [model.detect(rgb).state for _, rgb in frames]
    model.second_look = False
    without = [model.detect(rgb).state for _, rgb in frames]
    # other CPUs run other kernels: a frame whose score sits at a threshold may fall on the other side
    assert sum(s == truth for s, (truth, _) in zip(with_second, frames, strict=True)) >= len(frames) - 2
    assert without.count(State.UNKNOWN) >= len(frames) - 2
    assert State.GREEN not in [s for s, (truth, _) in zip(with_second, frames, strict=True) if truth == State.RED]


def test_train_second_look_writes_it_again_from_the_saved_weights(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    """A built-in two-stage model's second look, written again by ``train second_look`` from the variables its
    SavedModel keeps, is the graph its own networks give; a model without those variables is one line naming it."""
    from tl_classifier.commands.train import main
    from tl_classifier.model.export import export_detector
    from tl_classifier.model.load import load_model
    from tl_classifier.tf_setup import import_tensorflow
    from tl_classifier.train.builtin import second_look_fn
    from tl_classifier.train.crops import LABEL_MAP, build_classifier, two_stage_fn
    from tl_classifier.train.network import ModelSpec, build_model

    tf = import_tensorflow()
    tf.keras.utils.set_random_seed(1)
    spec = ModelSpec(num_classes=1, input_height=64, input_width=96, alpha=0.35)
    detector, classifier = build_model(spec), build_classifier()
    for v in classifier.variables:  # not its initial values: the rebuilt networks must have been given these
        v.assign(tf.random.normal(v.shape, stddev=0.3))
    kept = tf.Module()
    kept.weights = [*detector.variables, *classifier.variables]  # as train builtin exports them
    info = {"input_size": "96x64", "score_threshold": 0.2, "training": {"two_stage": True, "alpha": 0.35}}
    out = export_detector(two_stage_fn(detector, spec, classifier), tmp_path / "m", LABEL_MAP, trackable=kept, info=info)
    assert not load_model(out).second_look
    assert main(["second_look", "--model", str(out), "--size", "192x128"]) == 0
    model = load_model(out)
    assert model.second_look and model.score_threshold == 0.2
    written = json.loads((out / "model.json").read_text())["second_look"]
    assert written == {"input_size": "192x128", "min_score": SECOND_LOOK_MIN_SCORE, "refine": True}
    frame = np.random.default_rng(2).integers(0, 255, (150, 200, 3), np.uint8)
    want = second_look_fn(detector, spec, classifier, (192, 128))[0](tf.constant(frame[None]))
    n = int(np.asarray(want["num_detections"])[0])
    _, scores, classes = model.raw(frame, second=True)
    assert n == len(scores)
    np.testing.assert_allclose(scores, np.asarray(want["detection_scores"])[0, :n], atol=1e-4)
    np.testing.assert_allclose(classes, np.asarray(want["detection_classes"])[0, :n])

    info["training"]["alpha"] = 0.5  # the variables of a 0.35-wide network are not those of a 0.5-wide one
    (out / "model.json").write_text(json.dumps(info))
    capsys.readouterr()
    assert main(["second_look", "--model", str(out)]) == 1
    assert "saved_model: its 244 variables are not those of a built-in two-stage model" in capsys.readouterr().err
    info["training"]["two_stage"] = False
    (out / "model.json").write_text(json.dumps(info))
    assert main(["second_look", "--model", str(out)]) == 1
    assert "model.json: is not a built-in two-stage model" in capsys.readouterr().err
