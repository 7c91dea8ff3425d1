"""The second stage: crops at the camera's resolution, the crop classifier, both stages in one exported graph."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tl_classifier.model.export import export_detector
from tl_classifier.model.load import load_model
from tl_classifier.train.crops import (
    CLASSES,
    CROP_HEIGHT,
    CROP_SHIFT_X,
    CROP_SHIFT_Y,
    CROP_SLOP,
    CROP_WIDTH,
    LABEL_MAP,
    UNKNOWN_ID,
    CropSet,
    background_boxes,
    build_classifier,
    context_boxes,
    cut_crops,
    jitter,
    two_stage_fn,
)
from tl_classifier.train.network import ModelSpec, build_model

pytestmark = pytest.mark.slow

TINY = ModelSpec(num_classes=1, input_height=64, input_width=96, alpha=0.35, channels=16, max_detections=5)


def test_context_boxes_grow_each_side():
    np.testing.assert_allclose(context_boxes(np.array([[0.2, 0.4, 0.6, 0.5]]), 0.25), [[0.1, 0.375, 0.7, 0.525]])


def test_crops_come_from_the_full_resolution_frame():
    """A 6x15-pixel red lamp in a 1368x1096 frame fills its crop: nothing of it is lost to a downscaled frame."""
    import tensorflow as tf

    frame = np.zeros((1096, 1368, 3), np.float32)
    frame[500:515, 700:706] = (255, 0, 0)
    box = np.array([[500 / 1096, 700 / 1368, 515 / 1096, 706 / 1368]], np.float32)
    crop = cut_crops(tf.constant(frame[None]), box).numpy()[0]
    assert crop.shape == (CROP_HEIGHT, CROP_WIDTH, 3)
    inner = crop[16:48, 8:24]  # the box itself, inside its context
    assert inner[..., 0].mean() > 200 and inner[..., 1].mean() < 30


def test_training_boxes_are_put_off_their_light_as_far_as_set():
    """Each training box is moved up to CROP_SHIFT_Y of the light's height up or down, CROP_SHIFT_X of its width
    sideways and scaled by up to CROP_SLOP; the moves spread over that range."""
    light = np.array([[0.2, 0.4, 0.5, 0.5]])  # 0.3 high, 0.1 wide
    for shift_x, shift_y in ((CROP_SHIFT_X, CROP_SHIFT_Y), (0.25, 0.3)):
        boxes = jitter(light, np.random.default_rng(0), 2000, shift_x=shift_x, shift_y=shift_y)
        dy = ((boxes[:, 0] + boxes[:, 2]) / 2 - 0.35) / 0.3
        dx = ((boxes[:, 1] + boxes[:, 3]) / 2 - 0.45) / 0.1
        assert np.abs(dy).max() <= shift_y and (dy < -0.8 * shift_y).mean() > 0.05 and (dy > 0.8 * shift_y).mean() > 0.05
        assert np.abs(dx).max() <= shift_x and (np.abs(dx) > 0.8 * shift_x).mean() > 0.1
        scale = np.log((boxes[:, 2] - boxes[:, 0]) / 0.3)
        assert np.abs(scale).max() <= CROP_SLOP + 1e-9


def test_background_boxes_avoid_the_lights():
    truth = np.array([[0.2, 0.2, 0.5, 0.3]], np.float32)
    boxes = background_boxes(truth, np.random.default_rng(0), 30, aspect=0.75)
    assert len(boxes) == 30 and ((boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])).all()
    overlap = np.minimum(boxes[:, 2], 0.5) - np.maximum(boxes[:, 0], 0.2)
    overlap_x = np.minimum(boxes[:, 3], 0.3) - np.maximum(boxes[:, 1], 0.2)
    assert not ((overlap > 0.05) & (overlap_x > 0.05)).any()
    joined = CropSet.join(
        [
            CropSet(np.zeros((2, 64, 32, 3), np.uint8), np.array([0, 2])),
            CropSet(np.zeros((1, 64, 32, 3), np.uint8), np.array([2])),
        ]
    )
    assert joined.counts() == {"background": 1, "Green": 0, "Red": 2, "Yellow": 0, "off": 0}


def test_two_stages_in_one_exported_graph(tmp_path: Path):
    """Real (untrained) networks exported as one graph: the OD API's outputs, classes from the crop classifier."""
    import tensorflow as tf

    tf.keras.utils.set_random_seed(0)
    detector, classifier = build_model(TINY), build_classifier(8)
    module = tf.Module()
    module.detector, module.classifier = detector, classifier
    out = export_detector(two_stage_fn(detector, TINY, classifier, min_score=0.0), tmp_path / "m", LABEL_MAP, trackable=module)
    frame = np.random.default_rng(1).integers(0, 255, (1096, 1368, 3), dtype=np.uint8)
    answers = []
    for path in (out, out / "saved_model"):
        model = load_model(path)
        assert model.label_map.names == LABEL_MAP.names
        boxes, scores, classes = model.raw(frame)
        assert len(scores) == TINY.max_detections and ((classes >= 1) & (classes <= UNKNOWN_ID)).all()
        assert (np.diff(scores) <= 1e-6).all() and ((boxes >= 0) & (boxes <= 1)).all()
        answers.append((boxes, scores, classes))
    np.testing.assert_allclose(answers[0][1], answers[1][1], atol=1e-5)  # frozen graph == SavedModel
    assert len(CLASSES) == classifier.output_shape[-1]


def centred_red_classifier():
    """A real Keras classifier (no training) that is surer of Red the more of the crop's centre is red."""
    import tensorflow as tf

    keras = tf.keras
    inputs = keras.Input((CROP_HEIGHT, CROP_WIDTH, 3))

    def logits(crops):
        centre = crops[:, 28:36, 12:20]  # the crop's middle 8x8 pixels
        red = tf.reduce_mean(tf.cast(centre[..., 0] > 200, tf.float32) * tf.cast(centre[..., 1] < 50, tf.float32), [1, 2])
        zero = tf.zeros_like(red)
        return tf.stack([2.0 - 4.0 * red, zero, 8.0 * red - 2.0, zero, zero], axis=1)  # background, G, R, Y, off

    return keras.Model(inputs, keras.layers.Lambda(logits)(inputs))


def test_refine_reads_a_far_light_again_half_a_cell_off_and_keeps_the_surer_box():
    """A box half a detector cell below a 6x6 red lamp reads it unsure; one of its shifted copies is on it and wins."""
    import tensorflow as tf

    from tl_classifier.train.crops import SHIFTS, classify_crops, refine_crops

    frame = np.zeros((600, 800, 3), np.float32)
    frame[297:303, 397:403] = (255, 0, 0)
    cell = (4 / 480, 4 / 640)  # a stride-4 cell at a 640x480 detector input
    on = np.array([300 / 600 - 0.01, 400 / 800 - 0.005, 300 / 600 + 0.01, 400 / 800 + 0.005], np.float32)
    off = on + np.array([cell[0], cell[1], cell[0], cell[1]], np.float32) / 2  # half a cell down and right
    classifier, image = centred_red_classifier(), tf.constant(frame[None])
    plain_ids, plain_probs = (np.asarray(t) for t in classify_crops(classifier, image, off[None]))
    ids, probs, boxes = (np.asarray(t) for t in refine_crops(classifier, image, np.stack([off, on]), cell))
    assert len(SHIFTS) ** 2 == 9
    assert ids[0] == CLASSES.index("Red") and probs[0] > plain_probs[0] + 0.1
    np.testing.assert_allclose(boxes[0], on, atol=1e-6)  # the copy moved half a cell up and left: on the lamp
    # a box on the lamp already is kept as it is (the unshifted copy wins a tie), and so is its reading
    np.testing.assert_allclose(boxes[1], on, atol=1e-6)
    assert ids[1] == CLASSES.index("Red") and probs[1] >= probs[0] - 1e-6
    # no copy of a box on nothing is sure of a state: the box's own unsure reading stays
    ids, probs, boxes = (np.asarray(t) for t in refine_crops(classifier, image, (on + 0.2)[None], cell))
    np.testing.assert_allclose(boxes[0], on + 0.2, atol=1e-6)
    assert plain_ids.shape == ids.shape == (1,)
    # only the first ``most`` boxes (the detector's likeliest) are read again; the others once, as they are
    ids, probs, boxes = (np.asarray(t) for t in refine_crops(classifier, image, np.stack([on, off]), cell, most=1))
    np.testing.assert_allclose(boxes, np.stack([on, off]), atol=1e-6)
    np.testing.assert_allclose(probs[1], plain_probs[0], atol=1e-5)
