"""The evaluation's PNG figures: confusion matrices, precision-recall curves, strips of the worst mistakes."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tl_classifier.evaluate.metrics import PRCurve
from tl_classifier.evaluate.scoring import ANY_LIGHT, FrameEval, boxes_of
from tl_classifier.model.draw import draw_detections, draw_true_boxes, pyplot
from tl_classifier.states import State

_BOX_STATES = (State.RED, State.YELLOW, State.GREEN, State.OFF)


def confusion_png(matrix: np.ndarray, labels: list[str], title: str, path: Path) -> None:
    """Draw a confusion matrix (rows: truth, columns: model) to PNG."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 4.2), dpi=120)
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=30)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("model")
    ax.set_ylabel("truth")
    ax.set_title(title, fontsize=10)
    for i in range(len(labels)):
        for j in range(len(labels)):
            dark = matrix[i, j] > matrix.max() / 2
            ax.text(j, i, str(matrix[i, j]), ha="center", va="center", color="white" if dark else "black")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def pr_png(curves: dict[str, dict[str, PRCurve]], thresholds: dict[str, float], title: str, path: Path) -> None:
    """Precision-recall curves of several models, one panel per class (and one for any light), operating points marked."""
    plt = pyplot()
    classes = [c for c in [*(s.name for s in _BOX_STATES), ANY_LIGHT] if any(c in m and m[c].true_boxes for m in curves.values())]
    fig, axes = plt.subplots(1, len(classes), figsize=(3.4 * len(classes), 3.6), dpi=110, squeeze=False)
    for ax, cls in zip(axes[0], classes, strict=True):
        for i, (model, by_class) in enumerate(curves.items()):
            c = by_class.get(cls)
            colour = f"C{i}"
            if c is None or not c.true_boxes:
                continue
            ax.plot(
                np.concatenate([[0.0], c.recall]),
                np.concatenate([[1.0], c.precision]),
                colour,
                drawstyle="steps-post",
                label=f"{model} AP {c.ap:.2f}",
            )
            precision, recall, *_ = c.at(thresholds[model])
            ax.plot([recall], [precision or 0.0], "o", color=colour, markersize=6)
        ax.set_title(f"{cls} ({max(m[cls].true_boxes for m in curves.values() if cls in m)} boxes)", fontsize=10)
        ax.set_xlim(0, 1.02)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("recall")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower left")
    axes[0][0].set_ylabel("precision")
    fig.suptitle(f"{title} (dot: the model's score threshold)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _tile(e: FrameEval, width: int = 320, height: int = 240) -> np.ndarray:
    """The frame with true boxes (white) and detections (state colours), cropped around them."""
    import cv2

    pic = np.ascontiguousarray(e.frame.rgb()).copy()
    draw_true_boxes(pic, e.frame.boxes)
    draw_detections(pic, e.result.detections)
    fh, fw = pic.shape[:2]
    boxes = boxes_of([*e.frame.boxes, *e.result.detections])
    if len(boxes):  # a 4:3 window around every box, at least a third of the frame, so small lights can be seen
        x0, y0 = boxes[:, :2].min(axis=0)
        x1, y1 = boxes[:, 2:].max(axis=0)
        half_w = max((x1 - x0) * 0.75 + 30, (y1 - y0) * 0.75 * width / height + 30, fw / 6)
        half_w = min(half_w, fw / 2, fh / 2 * width / height)
        half_h = half_w * height / width
        cx = min(max((x0 + x1) / 2, half_w), fw - half_w)
        cy = min(max((y0 + y1) / 2, half_h), fh - half_h)
        pic = pic[int(cy - half_h) : int(cy + half_h), int(cx - half_w) : int(cx + half_w)]
    return cv2.resize(pic, (width, height), interpolation=cv2.INTER_AREA)


def _caption(e: FrameEval) -> str:
    name = e.frame.name if len(e.frame.name) <= 42 else "..." + e.frame.name[-39:]
    text = f"{name}\ntruth {e.frame.truth.name}, model {e.result.state.name} {e.result.confidence:.2f}"
    if e.frame.boxes_known and (e.missed_boxes or e.false_boxes):
        text += f"\n{e.missed_boxes} box(es) missed, {e.false_boxes} false"
    return text


def mistakes_png(worst: Sequence[FrameEval], title: str, path: Path, columns: int = 3) -> None:
    """A strip of the worst mistakes: each frame cropped around its boxes, truth and answer written above it."""
    plt = pyplot()
    rows = -(-len(worst) // columns)
    cols = min(columns, len(worst))
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 3.3 * rows), dpi=90, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, e in zip(axes.flat, worst, strict=False):
        ax.imshow(_tile(e))
        ax.set_title(_caption(e), fontsize=7)
    fig.suptitle(f"{title}: white = labelled box, colour = model's detection", fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.3 / (3.3 * rows)))  # room for the title above the captions
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    from PIL import Image

    # photographs in 256 colours: a quarter of the bytes, and nothing a reader would miss
    Image.open(buffer).convert("RGB").quantize(256).save(path, optimize=True)
