"""How good a detector is, in numbers: box matching, average precision, state confusion.

Plain NumPy, no TensorFlow: ``evaluate`` feeds it boxes in pixels and states.

Detection metrics follow PASCAL VOC 2010+ at an IoU threshold (0.5 by
default): detections are taken best score first, each one matches the unmatched
true box of its class that it overlaps most, if that overlap reaches the IoU
threshold (a true positive); otherwise it is a false positive (a second
detection of an already matched box is one).  Average precision is the area
under the precision-recall curve after precision is made monotone from the
right (all-point interpolation, as VOC 2010+ and COCO's per-threshold AP do),
with boxes as continuous coordinates (no VOC ``+1`` pixel).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tl_classifier.data.annotations import iou_matrix
from tl_classifier.states import State

#: The order of states in confusion matrices and tables.
STATE_ORDER = (State.RED, State.YELLOW, State.GREEN, State.OFF, State.UNKNOWN)


def match(det_boxes: np.ndarray, det_scores: np.ndarray, true_boxes: np.ndarray, iou_threshold: float = 0.5) -> np.ndarray:
    """Which detections of one image (and one class) are true positives; returned in the given order.

    Detections are matched best score first, each to the unmatched true box it
    overlaps most, if that overlap is at least ``iou_threshold``.
    """
    scores = np.asarray(det_scores, float).reshape(-1)
    tp = np.zeros(len(scores), bool)
    if not len(scores) or not len(np.asarray(true_boxes).reshape(-1, 4)):
        return tp
    ious = iou_matrix(det_boxes, true_boxes)
    taken = np.zeros(ious.shape[1], bool)
    for i in np.argsort(-scores, kind="stable"):
        candidates = np.where(taken, -1.0, ious[i])
        j = int(np.argmax(candidates))
        if candidates[j] >= iou_threshold:
            taken[j] = True
            tp[i] = True
    return tp


@dataclass(frozen=True)
class PRCurve:
    """Precision and recall as the score threshold goes down through every detection."""

    scores: np.ndarray  #: the detections' scores, best first
    cum_tp: np.ndarray  #: true positives among the first k+1 detections
    precision: np.ndarray
    recall: np.ndarray
    true_boxes: int
    ap: float  #: average precision; 0.0 when there is no true box

    def at(self, threshold: float) -> tuple[float | None, float | None, int, int, int]:
        """Of the detections at or above ``threshold``: (precision, recall, true positives, false positives, missed boxes).

        Precision is ``None`` when no detection reaches the threshold; recall is
        ``None`` when there is no true box.
        """
        n = int(np.searchsorted(-self.scores, -threshold, side="right"))
        tp = int(self.cum_tp[n - 1]) if n else 0
        precision = tp / n if n else None
        recall = tp / self.true_boxes if self.true_boxes else None
        return precision, recall, tp, n - tp, self.true_boxes - tp


def pr_curve(scores: Sequence[float] | np.ndarray, tp: Sequence[bool] | np.ndarray, true_boxes: int) -> PRCurve:
    """The precision-recall curve and average precision of detections pooled over a set.

    :param scores: every detection's score.
    :param tp: whether each detection matched a true box (:func:`match`).
    :param true_boxes: how many true boxes the set holds.
    """
    scores = np.asarray(scores, float).reshape(-1)
    order = np.argsort(-scores, kind="stable")
    hits = np.asarray(tp, bool).reshape(-1)[order]
    ctp = np.cumsum(hits)
    cfp = np.cumsum(~hits)
    precision = ctp / np.maximum(ctp + cfp, 1)
    recall = ctp / true_boxes if true_boxes else np.zeros(len(ctp))
    ap = 0.0
    if true_boxes and len(ctp):
        envelope = np.maximum.accumulate(precision[::-1])[::-1]  # best precision at this recall or more
        steps = np.diff(np.concatenate([[0.0], recall]))
        ap = float(np.sum(steps * envelope))
    return PRCurve(scores[order], ctp, precision, recall, int(true_boxes), ap)


def confusion(truth: Sequence[State], predicted: Sequence[State]) -> np.ndarray:
    """Confusion matrix over :data:`STATE_ORDER`: rows are the true states, columns the model's."""
    m = np.zeros((len(STATE_ORDER), len(STATE_ORDER)), int)
    for t, p in zip(truth, predicted, strict=True):
        m[STATE_ORDER.index(t), STATE_ORDER.index(p)] += 1
    return m


def state_metrics(truth: Sequence[State], predicted: Sequence[State]) -> dict:
    """Accuracy, per-state precision and recall, the confusion matrix, and the errors that matter most.

    ``red_as_green``: frames that are RED read as GREEN (the car would drive
    through a red light); ``red_missed``: RED frames read as anything else.
    Precision or recall of a state with no frame to divide by is ``None``.
    """
    return confusion_metrics(confusion(truth, predicted))


def confusion_metrics(m: np.ndarray) -> dict:
    """:func:`state_metrics` from a confusion matrix (rows: truth, columns: said, in :data:`STATE_ORDER`).

    Several sets' figures together are those of the sum of their matrices.
    """
    m = np.asarray(m, dtype=np.int64)
    total = int(m.sum())
    per_state = {}
    for i, s in enumerate(STATE_ORDER):
        said, true = int(m[:, i].sum()), int(m[i, :].sum())
        per_state[s.name] = {
            "frames": true,
            "precision": float(m[i, i] / said) if said else None,
            "recall": float(m[i, i] / true) if true else None,
        }
    red, green = STATE_ORDER.index(State.RED), STATE_ORDER.index(State.GREEN)
    return {
        "frames": total,
        "right": int(np.trace(m)),
        "accuracy": float(np.trace(m) / total) if total else 0.0,
        "per_state": per_state,
        "labels": [s.name for s in STATE_ORDER],
        "confusion": m.tolist(),
        "red_as_green": int(m[red, green]),
        "red_missed": int(m[red].sum() - m[red, red]),
    }


def sum_matrices(matrices: Iterable[Any]) -> np.ndarray:
    """The sum of confusion matrices (nested lists or arrays of one shape)."""
    arrays = [np.asarray(m) for m in matrices]
    if not arrays:
        raise ValueError("no confusion matrix to add up")
    return np.sum(arrays, axis=0)
