"""The node's per-frame core: a bad frame is one failure, a broken model stops everything; the watchdog's levels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tl_classifier.data.label_map import LabelMap
from tl_classifier.model.classify import ERROR, OK, WARN, FrameClassifier, FrameFailed, Health, ModelBroken
from tl_classifier.model.detection import TemporalFilter
from tl_classifier.model.load import DetectionModel, load_model
from tl_classifier.params import Roi
from tl_classifier.states import State

LABELS = LabelMap({1: "Green", 2: "Red", 3: "Yellow", 4: "off"})


def outputs(tf, image):
    """The OD API's four outputs for one fixed detection, computed from the image so that it runs."""
    score = tf.reduce_mean(tf.cast(image, tf.float32)) * 0.0 + 0.9
    return (
        tf.constant([[[0.1, 0.1, 0.5, 0.3]]]),
        tf.reshape(score, [1, 1]),
        tf.constant([[2.0]]),
        tf.constant([1.0]),
    )


def model_of(fn) -> DetectionModel:
    return DetectionModel(fn, LABELS, Path("test-model"), "frozen", "/CPU:0", 0.5)


def test_a_frame_the_model_fails_on_is_one_failure_and_the_next_frame_works():
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([1, None, None, 3], tf.uint8)])
    def fn(image):  # real TensorFlow, failing on frames taller than 1000 pixels
        tf.debugging.assert_less_equal(tf.shape(image)[1], 1000, message="too tall")
        return outputs(tf, image)

    c = FrameClassifier(model_of(fn), TemporalFilter(1), None, (800, 600))
    with pytest.raises(FrameFailed, match="the model failed on this frame") as caught:
        c.classify(np.zeros((1200, 800, 3), np.uint8))
    assert "InvalidArgumentError" in caught.value.kind
    result, state = c.classify(np.zeros((600, 800, 3), np.uint8))
    assert result.state == State.RED and state == State.RED


@pytest.mark.parametrize("shape", [(0, 0, 3), (10, 0, 3), (5, 5)])
def test_degenerate_frames_fail_alone(shape):
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([1, None, None, 3], tf.uint8)])
    def fn(image):
        return outputs(tf, image)

    c = FrameClassifier(model_of(fn), TemporalFilter(1), None, (64, 48))
    with pytest.raises(FrameFailed):
        c.classify(np.zeros(shape, np.uint8))
    assert c.classify(np.zeros((48, 64, 3), np.uint8))[1] == State.RED


def test_a_model_that_breaks_is_reported_as_broken():
    """A real TF model with a call counter that stops working after 4 calls (a device that died)."""
    import tensorflow as tf

    calls = tf.Variable(0)

    @tf.function(input_signature=[tf.TensorSpec([1, None, None, 3], tf.uint8)])
    def fn(image):
        calls.assign_add(1)
        tf.debugging.assert_less_equal(calls, 4, message="the device is gone")
        return outputs(tf, image)

    model = model_of(fn)
    model.warm_up(64, 48)  # calls 1, 2
    c = FrameClassifier(model, TemporalFilter(1), None, (64, 48))
    frame = np.zeros((48, 64, 3), np.uint8)
    c.classify(frame)  # 3
    c.classify(frame)  # 4
    with pytest.raises(ModelBroken, match="fails on the blank 64x48 frame"):
        c.classify(frame)


def test_the_shipped_baseline_through_the_classifier(baseline_dir: Path, frames):
    c = FrameClassifier(load_model(baseline_dir), TemporalFilter(1), None, (800, 600))
    result, state = c.classify(frames["red"][0])
    assert result.state == State.RED == state


def test_a_light_outside_the_region_of_interest_does_not_count(baseline_dir: Path, frames):
    """A real frame and a real graph: the red light decides, unless the region of interest leaves its centre out."""
    rgb = frames["red"][0]
    h, w = rgb.shape[:2]
    model = load_model(baseline_dir)
    lights = model.detect(rgb).detections
    assert lights and lights[0].state == State.RED
    cy = max((d.ymin + d.ymax) / 2 for d in lights) / h
    below = Roi(0.0, min(cy + 0.01, 0.99), 1.0, 1.0)  # a "hood" region under every light found
    above = Roi(0.0, 0.0, 1.0, min(cy + 0.01, 1.0))  # every light's centre inside
    for roi, state in ((below, State.UNKNOWN), (above, State.RED), (None, State.RED)):
        c = FrameClassifier(model, TemporalFilter(1), None, (w, h), roi)
        result, published = c.classify(rgb)
        assert result.state == published == state, roi
        assert all(roi is None or roi.contains(d, w, h) for d in result.detections)


def test_the_nodes_roi_parameter_reaches_its_classifier(baseline_dir: Path, frames):
    """~roi as roslaunch passes it (a string) -> NodeParams -> FrameClassifier.from_params, as the node builds it."""
    from tl_classifier.params import NodeParams

    given = {"~model": str(baseline_dir), "~roi": "0, 0.99, 1, 1"}
    params = NodeParams.read(lambda name, default: given.get(name, default))
    c = FrameClassifier.from_params(load_model(baseline_dir), params)
    assert c.roi == Roi(0.0, 0.99, 1.0, 1.0)
    assert c.classify(frames["red"][0])[0].state == State.UNKNOWN  # its red light is above the bottom 1 %


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_watchdog_levels():
    clock = Clock()
    h = Health(stall_timeout=2.0, max_failed_share=0.2, window=10, clock=clock)
    assert h.status().level == WARN  # nothing yet
    for _ in range(10):  # a healthy 10 Hz stream
        clock.now += 0.1
        h.received()
        h.classified()
    assert h.status("RED", 10.0).level == OK
    # frames keep arriving, none is classified (all superseded, stale or failing): ERROR after 2 s
    for _ in range(25):
        clock.now += 0.1
        h.received()
    assert h.status().level == ERROR and "none has been classified for 2.4 s" in h.status().message
    h.classified()
    assert h.status().level == OK
    # 3 of the last 10 frames failed: WARN, then OK again once good frames push them out of the window
    for ok in [True] * 7 + [False] * 3:
        clock.now += 0.1
        h.received()
        h.classified() if ok else h.failed()
    assert h.status().level == WARN and "30 % of the last 10 frames failed" in h.status().message
    for _ in range(10):
        clock.now += 0.1
        h.received()
        h.classified()
    assert h.status().level == OK
    # the camera stops: WARN, not ERROR (the node is not at fault)
    clock.now += 5.0
    assert h.status("GREEN").level == WARN and "no frame for 5.0 s" in h.status("GREEN").message


def test_a_tensorflow_failure_is_named_by_its_cause(baseline_dir: Path):
    """TensorFlow's 'Graph execution error:' is followed by a traceback: the line after it says what is wrong."""
    c = FrameClassifier(load_model(baseline_dir), TemporalFilter(1), None, (800, 600))
    with pytest.raises(FrameFailed, match="Computed output size would be negative") as caught:
        c.classify(np.zeros((1, 1, 3), np.uint8))  # smaller than the colour model's window
    assert "\n" not in str(caught.value) and "Graph execution error" not in str(caught.value)
