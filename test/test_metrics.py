"""Box matching, AP and state metrics against cases worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from tl_classifier.evaluate.metrics import STATE_ORDER, iou_matrix, match, pr_curve, state_metrics
from tl_classifier.states import State


def test_iou_by_hand():
    a = [[0, 0, 10, 10]]
    b = [[0, 0, 10, 10], [5, 0, 15, 10], [10, 10, 20, 20], [0, 0, 10, 20], [3, 3, 3, 8]]
    # same box; half overlap 50/150; touching corners; nested 100/200; zero-area box
    assert iou_matrix(a, b)[0] == pytest.approx([1.0, 1 / 3, 0.0, 0.5, 0.0])
    assert iou_matrix(np.zeros((0, 4)), b).shape == (0, 5)


def _tiny_set():
    """Two images, three true boxes, five detections: TP, FP (a duplicate), TP (IoU exactly 0.5), FP, TP."""
    true = {"A": [[0, 0, 10, 10], [20, 20, 30, 30]], "B": [[0, 0, 10, 10]]}
    dets = {
        "A": [([0, 0, 10, 10], 0.9), ([1, 1, 10, 10], 0.8), ([50, 50, 60, 60], 0.6), ([20, 20, 30, 31], 0.5)],
        "B": [([0, 0, 10, 20], 0.7)],
    }
    scores, tp = [], []
    for image, d in dets.items():
        boxes = np.array([b for b, _ in d], float)
        s = [sc for _, sc in d]
        scores += s
        tp += match(boxes, s, np.array(true[image], float), 0.5).tolist()
    return scores, tp


def test_matching_by_hand():
    scores, tp = _tiny_set()
    # A: 0.9 finds box 1; 0.8 overlaps box 1 (IoU 0.81) but it is taken: a false positive;
    # 0.6 overlaps nothing; 0.5 finds box 2 (IoU 100/110). B: 0.7 has IoU exactly 0.5: found.
    assert dict(zip(scores, tp, strict=True)) == {0.9: True, 0.8: False, 0.6: False, 0.5: True, 0.7: True}
    assert not match(np.array([[0, 0, 10, 20]], float), [0.7], np.array([[0, 0, 10, 10]], float), 0.51)[0]


def test_average_precision_by_hand():
    scores, tp = _tiny_set()
    curve = pr_curve(scores, tp, 3)
    # best first: TP FP TP FP TP -> precision 1, 1/2, 2/3, 2/4, 3/5 at recall 1/3, 1/3, 2/3, 2/3, 1
    assert curve.precision == pytest.approx([1, 1 / 2, 2 / 3, 2 / 4, 3 / 5])
    assert curve.recall == pytest.approx([1 / 3, 1 / 3, 2 / 3, 2 / 3, 1])
    assert curve.ap == pytest.approx((1 + 2 / 3 + 3 / 5) / 3)  # 0.7556
    assert curve.at(0.75) == (0.5, pytest.approx(1 / 3), 1, 1, 2)
    assert curve.at(0.5) == (0.6, 1.0, 3, 2, 0)
    assert curve.at(0.95) == (None, 0.0, 0, 0, 3)


def test_average_precision_takes_the_best_precision_to_the_right():
    # TP FP FP TP TP over 3 boxes: precision 1, .5, .33, .5, .6; at recall 2/3 the envelope is 0.6, not 0.5
    curve = pr_curve([0.9, 0.8, 0.7, 0.6, 0.5], [True, False, False, True, True], 3)
    assert curve.ap == pytest.approx((1 + 0.6 + 0.6) / 3)


def test_no_true_box_and_no_detection():
    assert pr_curve([0.9], [False], 0).ap == 0.0
    assert pr_curve([0.9], [False], 0).at(0.5) == (0.0, None, 0, 1, 0)
    empty = pr_curve([], [], 2)
    assert empty.ap == 0.0 and empty.at(0.1) == (None, 0.0, 0, 0, 2)


def test_state_metrics_by_hand():
    R, G, U = State.RED, State.GREEN, State.UNKNOWN
    m = state_metrics([R, R, R, G, U], [R, G, U, G, G])
    assert (m["frames"], m["right"], m["accuracy"]) == (5, 2, 0.4)
    assert m["red_as_green"] == 1 and m["red_missed"] == 2
    assert m["per_state"]["RED"] == {"frames": 3, "precision": 1.0, "recall": pytest.approx(1 / 3)}
    assert m["per_state"]["GREEN"] == {"frames": 1, "precision": pytest.approx(1 / 3), "recall": 1.0}
    assert m["per_state"]["UNKNOWN"] == {"frames": 1, "precision": 0.0, "recall": 0.0}
    assert m["per_state"]["YELLOW"] == {"frames": 0, "precision": None, "recall": None}
    red, green = STATE_ORDER.index(R), STATE_ORDER.index(G)
    assert m["confusion"][red][green] == 1 and sum(map(sum, m["confusion"])) == 5
