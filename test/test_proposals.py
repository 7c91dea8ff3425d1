"""Lit lamps as a second source of lights: the proposals, the exported crop classifier, and what they decide."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from tl_classifier.errors import ModelError
from tl_classifier.fields import CROP_CLASSIFIER_NAME
from tl_classifier.model.proposals import LAMP_PLACE, LIGHT_ASPECT, LIGHT_WIDTH, LIGHT_WIDTHS, MOST, lamp_proposals
from tl_classifier.states import State

HOUSING = (400, 200, 421, 250)  # x0, y0, x1, y1 of a dark three-lamp housing, 21 x 50 px
RED, GREEN, YELLOW = (255, 30, 30), (40, 255, 120), (255, 200, 0)


def light(lamp: tuple[int, int, int] | None, place: int) -> np.ndarray:
    """An 800x600 RGB frame with one light whose lamp number ``place`` (0 top .. 2 bottom) is lit in ``lamp``."""
    frame = np.full((600, 800, 3), 40, np.uint8)
    x0, y0, x1, y1 = HOUSING
    frame[y0:y1, x0:x1] = 20
    if lamp is not None:
        cv2.circle(frame, ((x0 + x1) // 2, y0 + 8 + 17 * place), 6, lamp, -1)
    return frame


def iou(box: tuple[float, float, float, float], frame: np.ndarray) -> float:
    h, w = frame.shape[:2]
    ymin, xmin, ymax, xmax = box[0] * h, box[1] * w, box[2] * h, box[3] * w
    x0, y0, x1, y1 = HOUSING
    inter = max(0.0, min(xmax, x1) - max(xmin, x0)) * max(0.0, min(ymax, y1) - max(ymin, y0))
    return inter / ((xmax - xmin) * (ymax - ymin) + (x1 - x0) * (y1 - y0) - inter)


@pytest.mark.parametrize(("colour", "place", "state"), [(RED, 0, State.RED), (YELLOW, 1, State.YELLOW), (GREEN, 2, State.GREEN)])
def test_a_lit_lamp_proposes_the_light_it_belongs_to(colour, place, state):
    """A red lamp is the top one of its light, a yellow one the middle, a green one the bottom: the box is the housing."""
    frame = light(colour, place)
    (p,) = lamp_proposals(frame)
    assert p.state == state and p.area > 100
    assert iou(p.box, frame) > 0.75, p.box
    height = (p.box[2] - p.box[0]) * frame.shape[0]
    assert height == pytest.approx(LIGHT_ASPECT * LIGHT_WIDTH * 13, rel=0.1)  # a 13 px lamp


def test_what_is_no_lit_lamp_proposes_nothing():
    assert lamp_proposals(light(None, 0)) == []
    assert lamp_proposals(light(RED[::-1], 0)) == []  # a red lamp in BGR order is blue: no lamp's colour
    assert lamp_proposals(light((255, 160, 160), 0)) == []  # pale and bright: neither a saturated lamp nor a dim one
    frame = light(None, 0)
    frame[100:200, 100:200] = RED  # a red wall, far wider than a lamp
    frame[400:403, 100:160] = RED  # a red line, far longer than wide
    frame[500, 500] = frame[520, 520] = RED  # specks of one pixel (two can be a far, dim lamp's core)
    assert lamp_proposals(frame) == []


def test_only_the_lamps_that_stand_out_most_are_proposed():
    """At most MOST, those whose pixels stand out most of their surround first: here the brightest of equal lamps."""
    frame = np.zeros((600, 800, 3), np.uint8)
    spots = MOST + 6
    for i in range(spots):  # equal 5 px red lamps on black, each brighter than the one before
        cv2.circle(frame, (30 + 70 * (i % 11), 150 + 200 * (i // 11)), 2, (100 + 6 * i, 10, 10), -1)
    found = lamp_proposals(frame)
    assert len(found) == MOST and {p.state for p in found} == {State.RED}
    rows = [round(p.box[0] * 600 + LAMP_PLACE[State.RED] * (p.box[2] - p.box[0]) * 600) for p in found]
    xs = [(p.box[1] + p.box[3]) / 2 * 800 for p in found]
    order = [round((x - 30) / 70) + 11 * round((y - 150) / 200) for x, y in zip(xs, rows, strict=True)]
    assert order == list(range(spots - 1, spots - 1 - MOST, -1))  # the brightest first, the dimmest left out


def test_a_dim_lamp_in_its_dark_housing_is_lit():
    """The simulator's dark scenes: a pale, dull green lamp (HSV about 55, 40, 200) in a black housing is proposed, at
    every width of LIGHT_WIDTHS; the same colour on a surround as bright, or as a pale sunlit speck (V 245), is not."""
    pale_green = (170, 200, 175)  # OpenCV HSV about (64, 38, 200)
    frame = light(None, 0)
    x0, y0, x1, y1 = HOUSING
    frame[y0:y1, x0:x1] = 5
    cv2.circle(frame, ((x0 + x1) // 2, y0 + 8 + 17 * 2), 3, pale_green, -1)
    (p,) = lamp_proposals(frame)
    assert p.state == State.GREEN and len(p.boxes) == len(LIGHT_WIDTHS) and p.box == p.boxes[0]
    widths = [(b[3] - b[1]) * 800 for b in p.boxes]
    assert widths == sorted(widths) and widths[-1] / widths[0] == pytest.approx(LIGHT_WIDTHS[-1] / LIGHT_WIDTHS[0], rel=0.05)
    assert max(iou(b, frame) for b in p.boxes) > 0.5

    flat = np.full((600, 800, 3), pale_green, np.uint8)  # nothing stands out of a wall of that colour
    flat[100:103, 100:103] = (255, 255, 255)
    assert lamp_proposals(flat) == []
    speck = light(None, 0)
    cv2.circle(speck, (200, 200), 3, (235, 250, 240), -1)  # a pale speck in the sun (V 250): not dim, not saturated
    assert lamp_proposals(speck) == []


@pytest.mark.slow
def test_the_crop_classifier_is_exported_beside_the_two_stage_graph(tmp_path: Path):
    """Real (untrained) networks: crop_classifier.pb gives the answers of the classifier it was exported from."""
    import tensorflow as tf

    from tl_classifier.model.export import export_detector
    from tl_classifier.model.load import load_model
    from tl_classifier.train.crops import LABEL_MAP, build_classifier, classify_crops, crop_classifier_fn, two_stage_fn
    from tl_classifier.train.network import ModelSpec, build_model

    tf.keras.utils.set_random_seed(0)
    spec = ModelSpec(num_classes=1, input_height=64, input_width=96, alpha=0.35, channels=16, max_detections=5)
    detector, classifier = build_model(spec), build_classifier(8)
    module = tf.Module()
    module.detector, module.classifier = detector, classifier
    out = export_detector(two_stage_fn(detector, spec, classifier), tmp_path / "m", LABEL_MAP, trackable=module,
                          crop_classifier=crop_classifier_fn(classifier))  # fmt: skip
    assert (out / CROP_CLASSIFIER_NAME).is_file()
    model = load_model(out)
    assert model.lamp_proposals
    frame = light(RED, 0)
    boxes = np.array([p.box for p in lamp_proposals(frame)], np.float32)
    ids, probs = classify_crops(classifier, tf.constant(frame[None].astype(np.float32)), tf.constant(boxes))
    from_graph = model._crops(tf.constant(frame[None]), tf.constant(boxes))  # the exported graph, as the node runs it
    np.testing.assert_array_equal(np.asarray(from_graph[0]), ids.numpy())
    np.testing.assert_allclose(np.asarray(from_graph[1]), probs.numpy(), atol=1e-5)

    # a model without it has no proposals; a broken one is one line naming it
    (out / CROP_CLASSIFIER_NAME).rename(tmp_path / "kept.pb")
    bare = load_model(out)
    assert not bare.lamp_proposals and bare.lamp_detections(frame) == []
    (out / CROP_CLASSIFIER_NAME).write_bytes(b"<html>not a graph</html>")
    with pytest.raises(ModelError, match=r"crop_classifier\.pb: is not a crop classifier graph"):
        load_model(out)


@pytest.mark.slow
def test_lamps_alone_read_real_lights_and_never_make_a_red_green(realdata: Path):
    """The shipped model's crop classifier on its lamp proposals alone (the detector's output left out), real frames.

    Every RED frame of every real recording, and the overcast recording's frames with no light in view: lamps never
    make a frame GREEN there.  The simulator frames of ros-racers, whose lamps are bright and saturated: lamps alone
    read nearly all of them right.  Without proposals, a frame the detector decides nothing on stays UNKNOWN.
    """
    from tl_classifier.data.annotations import Problems
    from tl_classifier.data.frames import load_frames
    from tl_classifier.model.load import load_model
    from tl_classifier.testing.realdata import RECORDINGS

    model = load_model(Path(__file__).resolve().parent.parent / "models/default")
    assert model.lamp_proposals, "models/default ships its crop_classifier.pb"
    model.second_look = False  # lamps alone: the detector at neither input
    nothing = (np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64))

    def lamps_alone(frame) -> State:
        rgb = frame.rgb()
        return model.result(*nothing, rgb.shape[1], rgb.shape[0], rgb=rgb).state

    def frames(recording: str) -> list:
        return [f for p in RECORDINGS[recording]["data"].values()
                for f in load_frames(Path(p), Problems(out=lambda _: None), unlabelled=True)]  # fmt: skip

    reds = [f for name in RECORDINGS for f in frames(name) if f.truth == State.RED]
    assert len(reds) > 600  # 638
    red_states = [lamps_alone(f) for f in reds]
    assert State.GREEN not in red_states
    assert red_states.count(State.RED) > 250  # the lamps do find red lights (320 here)
    empty = [f for f in frames("car_overcast") if f.truth == State.UNKNOWN]
    assert len(empty) >= 70 and State.GREEN not in [lamps_alone(f) for f in empty]
    sim = frames("sim_rosracers")
    assert sum(lamps_alone(f) == f.truth for f in sim) >= 0.95 * len(sim)  # 107 of 107 here

    model.lamp_proposals = False
    assert {lamps_alone(f) for f in sim[:10]} == {State.UNKNOWN}


@pytest.mark.slow
def test_the_nodes_lamp_proposals_parameter_and_region_of_interest(realdata: Path):
    """~lamp_proposals as roslaunch passes it turns them off in the node's classifier; ~roi applies to them as to lights."""
    from tl_classifier.model.classify import FrameClassifier
    from tl_classifier.model.load import load_model
    from tl_classifier.params import NodeParams, Roi
    from tl_classifier.testing.realdata import ROS_RACERS, read_rgb

    shipped = Path(__file__).resolve().parent.parent / "models/default"
    rgb = read_rgb(sorted((ROS_RACERS / "test_images_sim/red").glob("*"))[0])
    h = rgb.shape[0]
    for value, on in (("false", False), ("true", True)):
        given = {"~model": str(shipped), "~lamp_proposals": value}
        params = NodeParams.read(lambda name, default, given=given: given.get(name, default))
        assert params.lamp_proposals is on
        assert FrameClassifier.from_params(load_model(shipped), params).model.lamp_proposals is on
    lamps = load_model(shipped).lamp_detections(rgb)
    assert lamps and {d.state for d in lamps} == {State.RED} and all(d.label.endswith("(lamp)") for d in lamps)
    cy = max((d.ymin + d.ymax) / 2 for d in lamps) / h
    assert load_model(shipped).lamp_detections(rgb, Roi(0.0, min(cy + 0.01, 0.99), 1.0, 1.0)) == []
