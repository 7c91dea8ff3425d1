"""Running models on labelled frames, and the detection, state and speed metrics of their answers."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tl_classifier.data.annotations import (
    Box,
    Problems,
)
from tl_classifier.data.frames import Frame
from tl_classifier.errors import ImageError
from tl_classifier.evaluate.metrics import PRCurve, match, pr_curve
from tl_classifier.model.detection import FrameResult
from tl_classifier.params import Roi
from tl_classifier.states import State, state_from_label

_BOX_STATES = (State.RED, State.YELLOW, State.GREEN, State.OFF)
ANY_LIGHT = "any light"


@dataclass
class FrameEval:
    """One model's answer on one frame."""

    frame: Frame
    result: FrameResult  #: at the operating threshold: the state the node would decide
    everything: FrameResult  #: every detection the model gives (threshold 0), for the curves
    seconds: float  #: inference time (the model call alone)
    size: str  #: WIDTHxHEIGHT of the frame
    missed_boxes: int = 0  #: true boxes not found at the operating threshold (where boxes are known)
    false_boxes: int = 0  #: detections at the operating threshold that match no true box


def run_models(
    models: dict[str, Any], thresholds: dict[str, float], frames: Sequence[Frame], problems: Problems, progress: Any,
    roi: Roi | None = None,
) -> dict[str, list[FrameEval]]:  # fmt: skip
    """Run every model on every frame, each frame decoded once; frames that cannot be decoded are skipped.

    Detections centred outside ``roi`` are dropped, at the operating threshold and below it, as the node drops them.

    Each model is warmed up at each new frame size first, so the timings are steady.
    """
    evals: dict[str, list[FrameEval]] = {name: [] for name in models}
    warmed: set[tuple[str, int, int]] = set()
    for frame in frames:
        progress.update(1)
        try:
            rgb = frame.rgb()
        except ImageError as err:
            problems.skip("unreadable_image", frame.name, err.message)
            continue
        h, w = rgb.shape[:2]
        for name, model in models.items():
            if (name, w, h) not in warmed:
                model.warm_up(w, h)
                warmed.add((name, w, h))
            start = time.perf_counter()
            raw = model.raw(rgb)
            seconds = time.perf_counter() - start
            at_threshold = model.result(*raw, w, h, thresholds[name], seconds, rgb, roi)
            everything = model.result(*raw, w, h, 0.0, seconds, rgb, roi)
            evals[name].append(FrameEval(frame, at_threshold, everything, seconds, f"{w}x{h}"))
    return evals


def boxes_of(items: Sequence[Any]) -> np.ndarray:
    return np.array([[b.xmin, b.ymin, b.xmax, b.ymax] for b in items], float).reshape(-1, 4)


def detection_metrics(evals: Sequence[FrameEval], threshold: float, iou_threshold: float) -> tuple[dict, dict[str, PRCurve]]:
    """Per-state and class-agnostic AP, precision and recall over the frames whose boxes are known.

    Also fills each frame's ``missed_boxes`` and ``false_boxes`` (per state, at ``threshold``).
    """
    with_boxes = [e for e in evals if e.frame.boxes_known]
    groups: dict[str, tuple[list[float], list[bool], int]] = {}
    for e in with_boxes:
        dets = e.everything.detections
        classes: list[tuple[str, list[Any], list[Box]]] = [
            (s.name, [d for d in dets if d.state == s], [b for b in e.frame.boxes if state_from_label(b.label) == s])
            for s in _BOX_STATES
        ]
        classes.append((ANY_LIGHT, list(dets), list(e.frame.boxes)))
        for name, d, t in classes:
            scores = [x.score for x in d]
            tp = match(boxes_of(d), np.array(scores, float), boxes_of(t), iou_threshold)
            g = groups.setdefault(name, ([], [], 0))
            groups[name] = (g[0] + scores, g[1] + tp.tolist(), g[2] + len(t))
            if name != ANY_LIGHT:
                above = np.array(scores) >= threshold
                e.false_boxes += int((above & ~tp).sum())
                e.missed_boxes += len(t) - int((above & tp).sum())
    curves = {name: pr_curve(s, tp, n) for name, (s, tp, n) in groups.items() if n or s}
    per_class: dict[str, dict[str, Any]] = {}
    for name, c in curves.items():
        precision, recall, tp_n, fp, missed = c.at(threshold)
        per_class[name] = {
            "true_boxes": c.true_boxes,
            "detections": len(c.scores),
            "ap": c.ap if c.true_boxes else None,
            "precision": precision,
            "recall": recall,
            "tp": tp_n,
            "fp": fp,
            "missed": missed,
        }
    aps = [v["ap"] for k, v in per_class.items() if k != ANY_LIGHT and v["ap"] is not None]
    metrics = {
        "frames": len(with_boxes),
        "iou_threshold": iou_threshold,
        "per_class": {k: v for k, v in per_class.items() if k != ANY_LIGHT},
        "map": float(np.mean(aps)) if aps else None,
        "any_light": per_class.get(ANY_LIGHT),
    }
    return metrics, curves


def speed_metrics(evals: Sequence[FrameEval]) -> dict:
    """Inference time per frame (the model call alone): median, p95 and mean in milliseconds; frame sizes."""
    ms = np.array([1e3 * e.seconds for e in evals])
    return {
        "frames": len(ms),
        "median_ms": float(np.median(ms)),
        "p95_ms": float(np.percentile(ms, 95)),
        "mean_ms": float(ms.mean()),
        "sizes": dict(Counter(e.size for e in evals)),
    }


def severity(e: FrameEval) -> tuple[int, int, float]:
    """How bad a frame's answer is; the worst mistakes sort last.

    A RED read as GREEN (4) is worse than a missed RED (3), worse than any other
    wrong state (2), worse than a right state with boxes missed or invented (1).
    Ties: more box errors, then a more confident wrong answer.
    """
    truth, got = e.frame.truth, e.result.state
    if truth == State.RED and got == State.GREEN:
        rank = 4
    elif truth == State.RED and got != State.RED:
        rank = 3
    elif truth != got:
        rank = 2
    else:
        rank = 1 if e.missed_boxes or e.false_boxes else 0
    return rank, e.missed_boxes + e.false_boxes, e.result.confidence
