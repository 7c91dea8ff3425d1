"""Drawing detections and the state onto an image (for the debug topic and PNG reports)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from tl_classifier.data.annotations import Box
from tl_classifier.fields import TfExampleFields as F
from tl_classifier.model.detection import Detection, FrameResult
from tl_classifier.states import State

#: Drawing colour of each state, in RGB.
STATE_RGB = {
    State.UNKNOWN: (200, 200, 200),
    State.RED: (255, 40, 40),
    State.YELLOW: (255, 210, 0),
    State.GREEN: (0, 220, 60),
    State.OFF: (120, 120, 255),
}


def pyplot() -> Any:
    """matplotlib's pyplot on the Agg backend (PNG files, no display), imported only when a figure is drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: str | Path, dpi: int = 110) -> None:
    """Write a matplotlib figure to ``path`` as PNG (replacing it; never a partial file) and close it."""
    from tl_classifier.files import atomic_output

    with atomic_output(path, overwrite=True) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")
    pyplot().close(fig)


def _scale(rgb: np.ndarray) -> tuple[float, int]:
    scale = max(rgb.shape[0] / 600.0, 0.5)
    return scale, max(int(round(2 * scale)), 1)


def draw_detections(out: np.ndarray, detections: Sequence[Detection]) -> None:
    """Draw each detection's box, label and score onto ``out`` (RGB, in place), in its state's colour."""
    scale, thick = _scale(out)
    for d in detections:
        colour = STATE_RGB[d.state]
        cv2.rectangle(out, (d.xmin, d.ymin), (d.xmax, d.ymax), colour, thick)
        cv2.putText(out, f"{d.label} {d.score:.2f}", (d.xmin, max(d.ymin - 4, 12)), cv2.FONT_HERSHEY_SIMPLEX,
                    0.45 * scale, colour, thick, cv2.LINE_AA)  # fmt: skip


def draw_true_boxes(out: np.ndarray, boxes: Sequence[Box]) -> None:
    """Draw labelled (true) boxes onto ``out`` (RGB, in place): white, with their label below the box."""
    scale, thick = _scale(out)
    for b in boxes:
        x0, y0, x1, y1 = (int(round(v)) for v in (b.xmin, b.ymin, b.xmax, b.ymax))
        cv2.rectangle(out, (x0 - thick, y0 - thick), (x1 + thick, y1 + thick), (255, 255, 255), max(thick // 2, 1))
        cv2.putText(out, f"true {b.label}", (x0, min(y1 + int(16 * scale), out.shape[0] - 2)), cv2.FONT_HERSHEY_SIMPLEX,
                    0.45 * scale, (255, 255, 255), max(thick // 2, 1), cv2.LINE_AA)  # fmt: skip


def draw_result(rgb: np.ndarray, result: FrameResult, published: State | None = None) -> np.ndarray:
    """Return a copy of ``rgb`` with every detection's box, label and score, and the state, drawn on it.

    :param published: the filtered state, shown beside this frame's own state.
    """
    out = np.ascontiguousarray(rgb).copy()
    scale, thick = _scale(out)
    draw_detections(out, result.detections)
    text = f"frame: {result.state.name} {result.confidence:.2f}"
    if published is not None:
        text = f"state: {published.name}   {text}"
    cv2.rectangle(out, (0, 0), (out.shape[1], int(28 * scale)), (0, 0, 0), -1)
    cv2.putText(
        out,
        text,
        (6, int(20 * scale)),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.6 * scale,
        STATE_RGB[published if published is not None else result.state],
        thick,
        cv2.LINE_AA,
    )
    return out


def draw_record(path: Path, count: int, out: Path) -> list[Path]:
    """The first ``count`` images of a record with their true boxes, as ``out/RECORD_NNN.png``; returns the files."""
    from tl_classifier.data.records import read_record, record_boxes, record_files

    drawn: list[Path] = []
    for i, rec in enumerate(read_record(record_files(path))):
        if i >= count:
            break
        bgr = cv2.imdecode(np.frombuffer(rec[F.encoded], np.uint8), cv2.IMREAD_COLOR)
        picture = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        draw_true_boxes(picture, record_boxes(rec))
        target = out / f"{path.name}_{i:03d}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(target), cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
        drawn.append(target)
    return drawn
