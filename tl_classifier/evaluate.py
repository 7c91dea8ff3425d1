"""``evaluate``: how good one or more models are, in numbers and pictures.

    rosrun tl_classifier evaluate --model models/default --model models/colour_baseline \
        --data sim_val=../shared/realdata/ros-racers/tl_classification/data/images_sim_val \
        --data sim_test=../shared/realdata/ros-racers/tl_classification/test_images_sim --out eval/

Data (``--data [NAME=]PATH[,PATH...]``, several folders or files joined into one set):

* a TFRecord in the OD API's format (or the name of a sharded one);
* a folder of labelImg XML (beside the images, or in ``labels/``);
* a Bosch or sloth-style YAML file;
* a folder of whole frames sorted into ``red/ yellow/ green/ off/ unknown/``
  (``nolight/``, ``none/`` too): state labels only, no boxes.

A frame's true state is its folder's, or that of most of its boxes (no box:
UNKNOWN).  The model's state for a frame is the one the node decides from that
frame (:meth:`tl_classifier.model.DetectionModel.result`, the same code), at the
model's own score threshold unless ``--score_threshold`` is given; the node's
temporal filter then needs a few frames in a row, which single frames cannot
show.  Box metrics (:mod:`tl_classifier.metrics`) are computed where boxes are
known.  Writes ``report.md``, ``metrics.json`` and PNG figures into ``--out``,
all at once (a failed run leaves nothing).
"""

from __future__ import annotations

import argparse
import datetime
import io
import json
import os
import platform
import re
import shlex
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tl_classifier.cli import run_main
from tl_classifier.dataset import (
    ANNOTATION_FORMATS,
    IMAGE_SUFFIXES,
    Box,
    DatasetError,
    Problems,
    boxes_state,
    read_annotations,
)
from tl_classifier.detection import FrameResult
from tl_classifier.draw import draw_detections, draw_true_boxes, pyplot
from tl_classifier.errors import ImageError, ParameterError
from tl_classifier.files import atomic_output
from tl_classifier.metrics import STATE_ORDER, PRCurve, confusion_metrics, match, pr_curve, state_metrics
from tl_classifier.states import State, state_from_label

_NO_LIGHT = ("unknown", "nolight", "none")
_STATE_FOLDERS = ("red", "yellow", "green", "off", *_NO_LIGHT)
_BOX_STATES = (State.RED, State.YELLOW, State.GREEN, State.OFF)
ANY_LIGHT = "any light"


# --- data ----------------------------------------------------------------------------


@dataclass
class Frame:
    """One evaluation frame: where its pixels are, its true state, and its true boxes (pixels) if known."""

    name: str  #: shown in reports: ``folder/file`` or the record's source_id
    truth: State
    image: Path | bytes  #: an image file, or encoded bytes from a record
    boxes: list[Box] = field(default_factory=list)
    boxes_known: bool = True  #: False for frames labelled by state folder only

    def rgb(self) -> np.ndarray:
        """The frame's pixels as RGB.

        :raises ImageError: if the image cannot be read or decoded.
        """
        import cv2

        if isinstance(self.image, bytes):
            bgr = cv2.imdecode(np.frombuffer(self.image, np.uint8), cv2.IMREAD_COLOR)
        else:
            bgr = cv2.imread(str(self.image), cv2.IMREAD_COLOR)
        if bgr is None:
            raise ImageError(f"cannot decode the image of {self.name}", self.image if isinstance(self.image, Path) else None)
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _state_folder_frames(folder: Path) -> list[Frame]:
    return [
        Frame(
            f"{folder.name}/{d.name}/{p.name}",
            State.UNKNOWN if d.name.lower() in _NO_LIGHT else state_from_label(d.name),
            p,
            boxes_known=False,
        )
        for d in sorted(folder.iterdir())
        if d.is_dir() and d.name.lower() in _STATE_FOLDERS
        for p in sorted(d.iterdir())
        if p.suffix.lower() in IMAGE_SUFFIXES
    ]


def _record_frames(path: Path, label_map: Any) -> list[Frame]:
    from tl_classifier.tfrecord import read_record, record_boxes, record_files

    frames = []
    for rec in read_record(record_files(path)):
        boxes = record_boxes(rec, label_map)
        frames.append(
            Frame(
                rec["image/source_id"].decode() or rec["image/filename"].decode(),
                boxes_state(boxes),
                bytes(rec["image/encoded"]),
                boxes,
            )
        )
    return frames


def load_frames(path: Path, problems: Problems, label_map: Any = None, unlabelled: bool = False) -> list[Frame]:
    """The labelled frames of one data source (see the module's docstring for the kinds).

    Annotations whose image is missing are skipped and counted in ``problems``.

    :param label_map: names the class ids of records that carry no class text.
    :param unlabelled: frames of a labelImg folder that no XML names are frames without a light (truth UNKNOWN).
    :raises DatasetError: if ``path`` is none of the kinds, or holds no frame.
    """
    if path.is_dir() and any(d.is_dir() and d.name.lower() in _STATE_FOLDERS for d in path.iterdir()):
        frames = _state_folder_frames(path)
    elif path.is_dir() or path.suffix.lower() in (".yaml", ".yml", ".json"):
        try:
            examples = list(read_annotations([path], "labels", problems, unlabelled))
        except DatasetError as err:
            if not path.is_dir():
                raise
            raise DatasetError(
                "holds neither labelImg XML nor state subfolders (red, yellow, green, off, unknown)", path
            ) from err
        frames = [Frame(e.key, boxes_state(e.boxes), e.image, e.boxes) for e in examples]
    elif path.exists() or path.parent.is_dir():
        frames = _record_frames(path, label_map)
    else:
        raise DatasetError("no such file or folder (expected a TFRecord, a YAML or JSON file or an image folder)", path)
    present = []
    for f in frames:
        if isinstance(f.image, Path) and not f.image.is_file():
            problems.skip("missing_image", f.image, "no such image")
        else:
            present.append(f)
    if not present:
        raise DatasetError("holds no frame to evaluate on", path)
    return present


# --- running the models ------------------------------------------------------------------


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
    models: dict[str, Any], thresholds: dict[str, float], frames: Sequence[Frame], problems: Problems, progress: Any
) -> dict[str, list[FrameEval]]:
    """Run every model on every frame, each frame decoded once; frames that cannot be decoded are skipped.

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
            at_threshold = model.result(*raw, w, h, thresholds[name], seconds, rgb)
            everything = model.result(*raw, w, h, 0.0, seconds, rgb)
            evals[name].append(FrameEval(frame, at_threshold, everything, seconds, f"{w}x{h}"))
    return evals


def _boxes_of(items: Sequence[Any]) -> np.ndarray:
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
            tp = match(_boxes_of(d), scores, _boxes_of(t), iou_threshold)
            g = groups.setdefault(name, ([], [], 0))
            groups[name] = (g[0] + scores, g[1] + tp.tolist(), g[2] + len(t))
            if name != ANY_LIGHT:
                above = np.array(scores) >= threshold
                e.false_boxes += int((above & ~tp).sum())
                e.missed_boxes += len(t) - int((above & tp).sum())
    curves = {name: pr_curve(s, tp, n) for name, (s, tp, n) in groups.items() if n or s}
    per_class = {}
    for name, c in curves.items():
        precision, recall, tp, fp, missed = c.at(threshold)
        per_class[name] = {
            "true_boxes": c.true_boxes,
            "detections": len(c.scores),
            "ap": c.ap if c.true_boxes else None,
            "precision": precision,
            "recall": recall,
            "tp": tp,
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


# --- figures -----------------------------------------------------------------------------


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
    boxes = _boxes_of([*e.frame.boxes, *e.result.detections])
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


# --- the report --------------------------------------------------------------------------


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.1f} %"


def _num(v: float | None, digits: int = 3) -> str:
    return "–" if v is None else f"{v:.{digits}f}"


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    """A Markdown table as lines."""
    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(str(c) for c in row) + " |" for row in rows),
    ]


def _sizes(sizes: dict[str, int]) -> str:
    return ", ".join(f"{k} ({v})" for k, v in sizes.items())


def summary_rows(m: dict) -> list[list[str]]:
    """One row per model and data set: states, the worst error, boxes, speed (the report's summary table)."""
    rows = []
    for model in m["models"]:
        for s in m["sets"]:
            r = m["results"][model["name"]][s["name"]]
            st, det, sp = r["state"], r["detection"], r["speed"]
            any_ap = det["any_light"]["ap"] if det and det["any_light"] else None
            rows.append([
                model["name"], s["name"], f"{st['right']}/{st['frames']} = {_pct(st['accuracy'])}",
                f"**{st['red_as_green']}**", str(st["red_missed"]), _num(det["map"] if det else None), _num(any_ap),
                f"{sp['median_ms']:.1f} / {sp['p95_ms']:.1f}",
            ])  # fmt: skip
    return rows


SUMMARY_HEADER = ("model", "data", "state right", "RED read as GREEN", "RED missed", "mAP", "AP any light", "ms median / p95")

METHOD = (
    "A frame's **state** is the one the node decides from that frame alone, by the node's own code: of the lights "
    "at or above the model's score threshold, the most careful state (RED over YELLOW over GREEN over OFF; none: "
    "UNKNOWN), after a GREEN whose lit lamp looks red has been made UNKNOWN; the node's temporal filter "
    "then waits for a few frames in a row, which single frames cannot show. A frame's true state is its folder's, "
    "or that of most of its labelled boxes (none: UNKNOWN). A **box** is found when a detection of its state "
    "overlaps it at IoU >= {iou:g}; AP is the area under the precision-recall curve (VOC 2010+ all-point "
    'interpolation), mAP its mean over the states with labelled boxes, "any light" the same with states '
    "ignored. **Time** is the model call alone, per frame, after a warm-up."
)


def render_markdown(m: dict) -> str:
    """``report.md`` from the contents of ``metrics.json``."""
    models = ", ".join(f"`{x['name']}` ({x['path']}, score threshold {x['score_threshold']:g})" for x in m["models"])
    out = ["# Evaluation report", "", f"Models: {models}.", "",
           f"Made {m['created']} on {m['machine']['description']}. Command: `{m['command']}`", "",
           METHOD.format(iou=m["iou_threshold"]), "", "## Summary", "", *table(SUMMARY_HEADER, summary_rows(m))]  # fmt: skip
    reds = sum(s["truth"].get("RED", 0) for s in m["sets"])
    worst = [f"`{x['name']}` {sum(m['results'][x['name']][s['name']]['state']['red_as_green'] for s in m['sets'])}"
             for x in m["models"]]  # fmt: skip
    out += ["", f"**RED read as GREEN** (the car would drive through a red light), of {reds} RED frames: {', '.join(worst)}."]
    if m.get("groups"):
        out += ["", "## By group (recording, domain)", ""]
        out += table(
            ["group", "sets", "model", "RED read as GREEN", "RED missed", "state right"],
            [[g["name"], ", ".join(g["sets"]), x["name"], f"**{st['red_as_green']}** of {st['per_state']['RED']['frames']} RED",
              st["red_missed"], f"{st['right']}/{st['frames']} = {_pct(st['accuracy'])}"]
             for g in m["groups"] for x in m["models"] for st in [g["results"][x["name"]]]],
        )  # fmt: skip
    out += ["", "## Data", ""]
    out += table(
        ["data", "from", "frames", "with boxes", "true boxes", *(x.name for x in STATE_ORDER), "skipped"],
        [[s["name"], "<br>".join(f"`{p}`" for p in s["sources"]), s["frames"], s["frames_with_boxes"], s["true_boxes"],
          *(s["truth"].get(x.name, 0) for x in STATE_ORDER), ", ".join(f"{k} {v}" for k, v in s["skipped"].items()) or "none"]
         for s in m["sets"]],
    )  # fmt: skip
    out += ["", "## States", "", "Precision / recall of each state; rows of the confusion matrices are the truth.", ""]
    for s in m["sets"]:
        rows = []
        for model in m["models"]:
            st = m["results"][model["name"]][s["name"]]["state"]
            ps = st["per_state"]
            rows.append([model["name"], _pct(st["accuracy"]),
                         *(f"{_pct(ps[x.name]['precision'])} / {_pct(ps[x.name]['recall'])}" for x in STATE_ORDER)])  # fmt: skip
        out += [f"### {s['name']}", "", *table(["model", "accuracy", *(x.name for x in STATE_ORDER)], rows), ""]
        out += [
            f"![{x['name']} on {s['name']}]({m['results'][x['name']][s['name']]['figures']['confusion']})" for x in m["models"]
        ]
        out.append("")
    for s in (s for s in m["sets"] if s["frames_with_boxes"]):
        rows = []
        for model in m["models"]:
            det = m["results"][model["name"]][s["name"]]["detection"]
            for cls, v in [*det["per_class"].items(), (ANY_LIGHT, det["any_light"])]:
                if v is not None:
                    rows.append([model["name"], cls, v["true_boxes"], v["detections"], _num(v["ap"]), _pct(v["precision"]),
                                 _pct(v["recall"]), v["tp"], v["fp"], v["missed"]])  # fmt: skip
        header = ["model", "class", "true boxes", "detections", "AP", "precision", "recall", "found", "false", "missed"]
        out += [f"## Boxes: {s['name']} ({s['frames_with_boxes']} frames with labelled boxes)", "",
                "Precision, recall and the counts are at the model's score threshold.", "", *table(header, rows), "",
                f"![precision-recall on {s['name']}]({s['figures']['pr']})", ""]  # fmt: skip
    rows = [[x["name"], s["name"], _sizes(sp["sizes"]), f"{sp['median_ms']:.1f}", f"{sp['p95_ms']:.1f}", f"{sp['mean_ms']:.1f}"]
            for x in m["models"] for s in m["sets"] for sp in [m["results"][x["name"]][s["name"]]["speed"]]]  # fmt: skip
    speed_header = ["model", "data", "frame sizes (frames)", "ms median", "ms p95", "ms mean"]
    out += ["## Speed", "", f"On {m['machine']['description']}.", "", *table(speed_header, rows), "", "## Worst mistakes", ""]
    for model in m["models"]:
        for s in m["sets"]:
            r = m["results"][model["name"]][s["name"]]
            out += [f"### {model['name']} on {s['name']}", ""]
            if not r["mistakes"]:
                out += [
                    "No mistake: every state right" + (", every box found, none invented." if s["frames_with_boxes"] else "."),
                    "",
                ]
                continue
            for w in r["mistakes"][:10]:
                boxes = f"; {w['missed_boxes']} box(es) missed, {w['false_boxes']} false" if w["boxes_known"] else ""
                out.append(f"- `{w['frame']}`: truth {w['truth']}, model {w['state']} ({w['confidence']:.2f}){boxes}")
            if len(r["mistakes"]) > 10:
                out.append(f"- and {len(r['mistakes']) - 10} more (metrics.json)")
            out += ["", f"![worst mistakes of {model['name']} on {s['name']}]({r['figures']['mistakes']})", ""]
    return "\n".join(out) + "\n"


# --- the command -------------------------------------------------------------------------


def _named(spec: str, default: str) -> tuple[str, str]:
    name, sep, value = spec.partition("=")
    if not sep or "/" in name or not name:
        return default, spec
    return name, value


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "x"


def machine_description(device: str) -> dict:
    """CPU model and cores, TensorFlow version and the device the models ran on."""
    from tl_classifier.tf_setup import import_tensorflow

    tf = import_tensorflow()
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = None
    if device.startswith("/GPU"):
        gpus = tf.config.list_physical_devices("GPU")
        gpu = tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU") if gpus else "GPU"
    where = f"GPU ({gpu})" if gpu else f"CPU ({cpu}, {os.cpu_count()} cores)"
    return {
        "cpu": cpu,
        "cpu_cores": os.cpu_count(),
        "gpu": gpu,
        "device": device,
        "tensorflow": tf.__version__,
        "description": f"{where}, TensorFlow {tf.__version__}",
    }


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="evaluate", description="Detection and state metrics, speed and figures of one or more models, in one report."
    )
    p.add_argument(
        "--model",
        action="append",
        required=True,
        metavar="[NAME=]PATH",
        help="a model folder, frozen graph or SavedModel; repeat to compare (name: the folder's)",
    )
    p.add_argument("--label_map", help="label map of the models (default: label_map.pbtxt beside each model)")
    p.add_argument(
        "--data",
        action="append",
        required=True,
        metavar="[NAME=]PATH[,PATH...]",
        help=f"a TFRecord, annotations ({ANNOTATION_FORMATS}), or a folder of red/ yellow/ green/ unknown/ "
        "frames; repeat for several sets",
    )
    p.add_argument(
        "--group",
        action="append",
        default=[],
        metavar="NAME=SET[,SET...]",
        help="state metrics over several sets together, e.g. a recording or a domain (sim, car); repeat for several",
    )
    p.add_argument(
        "--include_unlabelled", action="store_true", help="images of labelImg folders without XML are frames without a light"
    )
    p.add_argument("--out", required=True, help="folder to write report.md, metrics.json and the PNG figures into")
    p.add_argument("--score_threshold", type=float, help="operating threshold for every model (default: each model's own)")
    p.add_argument("--iou", type=float, default=0.5, help="IoU at which a detection finds a box (default: 0.5)")
    p.add_argument("--mistakes", type=int, default=6, help="frames in each strip of worst mistakes (default: 6)")
    p.add_argument("--device", default="auto", help="auto (a GPU if there is one), cpu, gpu or gpu:N (default: auto)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out folder")
    p.add_argument("--no_progress", action="store_true", help="no progress bar")
    return p


def _evaluate(argv: list[str]) -> int:
    from tqdm import tqdm

    from tl_classifier.label_map import load_label_map
    from tl_classifier.model import load_model
    from tl_classifier.tf_setup import configure_devices

    a = _parser().parse_args(argv)
    if not 0.0 < a.iou <= 1.0:
        raise ParameterError(f"--iou must be in (0, 1], got {a.iou}")
    if a.score_threshold is not None and not 0.0 <= a.score_threshold <= 1.0:
        raise ParameterError(f"--score_threshold must be in [0, 1], got {a.score_threshold}")
    if a.mistakes < 1:
        raise ParameterError(f"--mistakes must be at least 1, got {a.mistakes}")
    out = Path(a.out)
    with atomic_output(out, a.overwrite) as tmp:  # refuses an existing --out before any work
        device = configure_devices(a.device)
        label_map = load_label_map(a.label_map) if a.label_map else None
        models: dict[str, Any] = {}
        for spec in a.model:
            path = Path(_named(spec, "")[1])
            name, _ = _named(spec, _slug(path.parent.name if path.suffix == ".pb" else path.name))
            if name in models:
                raise ParameterError(f"two models are named {name!r}; name them: --model NAME=PATH")
            models[name] = load_model(path, label_map, device)
        thresholds = {n: m.score_threshold if a.score_threshold is None else a.score_threshold for n, m in models.items()}
        sets: dict[str, tuple[list[str], list[Frame], Problems]] = {}
        for spec in a.data:
            paths = [x for x in _named(spec, "")[1].split(",") if x]
            name, _ = _named(spec, _slug(Path(paths[0]).stem if paths else "data"))
            if name in sets:
                raise ParameterError(f"two data sets are named {name!r}; name them: --data NAME=PATH")
            problems = Problems()
            labels = label_map or next(iter(models.values())).label_map
            frames = [f for x in paths for f in load_frames(Path(x), problems, labels, a.include_unlabelled)]
            sets[name] = (paths, frames, problems)
        groups = {}
        for spec in a.group:
            name, members = _named(spec, "")
            members_list = [x for x in members.split(",") if x]
            unknown = [x for x in members_list if x not in sets]
            if not name or unknown or not members_list:
                raise ParameterError(f"--group {spec!r}: give NAME=SET[,SET...] of the --data sets ({', '.join(sets)})")
            groups[name] = members_list
        tmp.mkdir(parents=True)
        metrics: dict[str, Any] = {
            "created": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "command": "evaluate " + shlex.join(argv),
            "machine": machine_description(device),
            "iou_threshold": a.iou,
            "models": [
                {
                    "name": n,
                    "path": str(m.path),
                    "kind": m.kind,
                    "score_threshold": thresholds[n],
                    "labels": {str(k): v for k, v in sorted(m.label_map.names.items())},
                }
                for n, m in models.items()
            ],
            "sets": [],
            "results": {n: {} for n in models},
            "groups": [],
        }
        total = sum(len(f) for _, f, _ in sets.values())
        with tqdm(total=total, unit="frame", desc="evaluate", disable=a.no_progress or None, file=sys.stderr) as bar:
            for set_name, (paths, frames, problems) in sets.items():
                bar.set_postfix_str(set_name)
                evals = run_models(models, thresholds, frames, problems, bar)
                done = next(iter(evals.values()))
                entry = {
                    "name": set_name,
                    "sources": paths,
                    "frames": len(done),
                    "frames_with_boxes": sum(e.frame.boxes_known for e in done),
                    "true_boxes": sum(len(e.frame.boxes) for e in done),
                    "truth": {s.name: sum(e.frame.truth == s for e in done) for s in STATE_ORDER},
                    "skipped": dict(sorted(problems.counts.items())),
                    "figures": {},
                }
                curves = {}
                for model_name, model_evals in evals.items():
                    curves[model_name] = _score(model_name, set_name, model_evals, thresholds[model_name], a, tmp, metrics)
                if entry["frames_with_boxes"]:
                    entry["figures"]["pr"] = f"pr_{_slug(set_name)}.png"
                    pr_png(curves, thresholds, f"{set_name}: boxes at IoU >= {a.iou:g}", tmp / entry["figures"]["pr"])
                metrics["sets"].append(entry)
        for name, members in groups.items():
            metrics["groups"].append(
                {
                    "name": name,
                    "sets": members,
                    "results": {
                        m: confusion_metrics(sum(np.array(metrics["results"][m][x]["state"]["confusion"]) for x in members))
                        for m in models
                    },
                }
            )
        (tmp / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
        (tmp / "report.md").write_text(render_markdown(metrics), encoding="utf-8")
    _print_summary(metrics, out)
    return 0


def _score(
    model_name: str, set_name: str, evals: list[FrameEval], threshold: float, a: argparse.Namespace, tmp: Path, metrics: dict
) -> dict[str, PRCurve]:
    """Metrics and figures of one model on one set, stored into ``metrics``; returns its PR curves."""
    det, curves = detection_metrics(evals, threshold, a.iou) if any(e.frame.boxes_known for e in evals) else (None, {})
    state = state_metrics([e.frame.truth for e in evals], [e.result.state for e in evals])
    stem = f"{_slug(model_name)}_{_slug(set_name)}"
    figures = {"confusion": f"confusion_{stem}.png"}
    confusion_png(
        np.array(state["confusion"]),
        state["labels"],
        f"{model_name} on {set_name}: {state['right']}/{state['frames']} right",
        tmp / figures["confusion"],
    )
    wrong = sorted((e for e in evals if severity(e)[0]), key=severity, reverse=True)
    if wrong:
        figures["mistakes"] = f"mistakes_{stem}.png"
        mistakes_png(wrong[: a.mistakes], f"{model_name} on {set_name}", tmp / figures["mistakes"])
    metrics["results"][model_name][set_name] = {
        "state": state,
        "detection": det,
        "speed": speed_metrics(evals),
        "figures": figures,
        "mistakes": [
            {
                "frame": e.frame.name,
                "truth": e.frame.truth.name,
                "state": e.result.state.name,
                "confidence": round(e.result.confidence, 4),
                "boxes_known": e.frame.boxes_known,
                "missed_boxes": e.missed_boxes,
                "false_boxes": e.false_boxes,
            }
            for e in wrong
        ],
    }
    return curves


def _print_summary(metrics: dict, out: Path) -> None:
    for model in metrics["models"]:
        for s in metrics["sets"]:
            r = metrics["results"][model["name"]][s["name"]]
            st, det = r["state"], r["detection"]
            boxes = f", mAP {det['map']:.3f}" if det and det["map"] is not None else ""
            print(
                f"{model['name']} on {s['name']}: {st['right']}/{st['frames']} states right ({100 * st['accuracy']:.1f} %), "
                f"RED read as GREEN {st['red_as_green']}{boxes}, {r['speed']['median_ms']:.1f} ms median"
            )
    print(f"report: {out / 'report.md'} (metrics.json and figures beside it)")


def main(argv: Sequence[str] | None = None) -> int:
    """``rosrun tl_classifier evaluate --model MODEL [--model MODEL2 ...] --data DATA ... --out DIR``."""
    return run_main(_evaluate, argv, "evaluate")
