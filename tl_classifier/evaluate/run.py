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
frame (:meth:`tl_classifier.model.load.DetectionModel.result`, the same code), at the
model's own score threshold unless ``--score_threshold`` is given; the node's
temporal filter then needs a few frames in a row, which single frames cannot
show.  Box metrics (:mod:`tl_classifier.evaluate.metrics`) are computed where boxes are
known.  Writes ``report.md``, ``metrics.json`` and PNG figures into ``--out``,
all at once (a failed run leaves nothing).
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tl_classifier.data.annotations import (
    Problems,
)
from tl_classifier.data.frames import Frame, load_frames
from tl_classifier.errors import ParameterError
from tl_classifier.evaluate.figures import confusion_png, mistakes_png, pr_png
from tl_classifier.evaluate.markdown import render_markdown
from tl_classifier.evaluate.metrics import STATE_ORDER, PRCurve, confusion_metrics, state_metrics, sum_matrices
from tl_classifier.evaluate.scoring import FrameEval, detection_metrics, run_models, severity, speed_metrics
from tl_classifier.files import atomic_output
from tl_classifier.params import Roi


def slug(text: str) -> str:
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


@dataclass(frozen=True)
class EvaluateOptions:
    """What to evaluate on what: the options of :func:`evaluate` (the ``evaluate`` command's, typed)."""

    models: dict[str, Path]  #: name -> a model folder, frozen graph or SavedModel
    data: dict[str, list[Path]]  #: name -> its sources (records, annotations, state folders), joined into one set
    out: Path  #: the folder to write report.md, metrics.json and the figures into
    groups: dict[str, list[str]] = field(default_factory=dict)  #: name -> data sets scored together (a recording)
    label_map: Path | None = None  #: of every model (default: label_map.pbtxt beside each)
    include_unlabelled: bool = False  #: images of labelImg folders without XML are frames without a light
    score_threshold: float | None = None  #: for every model (default: each model's own)
    roi: Roi = field(default_factory=Roi)  #: detections centred outside it are dropped, as by the node's ``~roi``
    lamp_proposals: bool = True  #: lit lamps propose lights where a two-stage model's detector decides nothing
    second_look: bool = True  #: a two-stage model's second look runs where its first decides nothing
    iou: float = 0.5
    mistakes: int = 6  #: frames in each strip of worst mistakes
    device: str = "auto"
    overwrite: bool = False
    progress: bool = True
    command: str = ""  #: the command line, recorded in metrics.json

    def __post_init__(self) -> None:
        if not self.models or not self.data:
            raise ParameterError("give at least one model and one data set")
        if not 0.0 < self.iou <= 1.0:
            raise ParameterError(f"--iou must be in (0, 1], got {self.iou}")
        if self.score_threshold is not None and not 0.0 <= self.score_threshold <= 1.0:
            raise ParameterError(f"--score_threshold must be in [0, 1], got {self.score_threshold}")
        if self.mistakes < 1:
            raise ParameterError(f"--mistakes must be at least 1, got {self.mistakes}")
        for name, members in self.groups.items():
            unknown = [x for x in members if x not in self.data]
            if not name or unknown or not members:
                raise ParameterError(
                    f"--group {name}={','.join(members)}: give NAME=SET[,SET...] of the --data sets ({', '.join(self.data)})"
                )


@dataclass(frozen=True)
class EvaluateResult:
    """What :func:`evaluate` wrote: the folder, and the contents of its ``metrics.json``."""

    out: Path
    metrics: dict[str, Any]

    @property
    def report(self) -> Path:
        return self.out / "report.md"

    def summary(self) -> list[str]:
        """One line per model and data set: states right, RED read as GREEN, mAP, speed."""
        lines = []
        m = self.metrics
        for model in m["models"]:
            for s in m["sets"]:
                r = m["results"][model["name"]][s["name"]]
                st, det = r["state"], r["detection"]
                boxes = f", mAP {det['map']:.3f}" if det and det["map"] is not None else ""
                lines.append(
                    f"{model['name']} on {s['name']}: {st['right']}/{st['frames']} states right "
                    f"({100 * st['accuracy']:.1f} %), RED read as GREEN {st['red_as_green']}{boxes}, "
                    f"{r['speed']['median_ms']:.1f} ms median"
                )
        return lines


def model_facts(path: Path) -> dict[str, Any]:
    """The model's ``model.json`` and the size of its folder, kept in metrics.json so reports need no model."""
    from tl_classifier.fields import MODEL_INFO_NAME

    folder = path.parent if path.suffix == ".pb" or path.name == "saved_model" else path
    info = folder / MODEL_INFO_NAME
    return {
        "info": json.loads(info.read_text(encoding="utf-8")) if info.is_file() else {},
        "size_bytes": sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()),
    }


def evaluate(options: EvaluateOptions) -> EvaluateResult:
    """Score every model on every data set; write ``report.md``, ``metrics.json`` and figures into ``options.out``.

    All at once: an existing ``out`` is refused (unless ``overwrite``) before any work, and a failed run leaves nothing.

    :raises TLClassifierError: a model, label map or data set that cannot be read.
    """
    from tqdm import tqdm

    from tl_classifier.data.label_map import load_label_map
    from tl_classifier.model.load import load_model
    from tl_classifier.tf_setup import configure_devices

    with atomic_output(options.out, options.overwrite) as tmp:
        device = configure_devices(options.device)
        label_map = load_label_map(options.label_map) if options.label_map else None
        models = {name: load_model(path, label_map, device) for name, path in options.models.items()}
        for m in models.values():
            m.lamp_proposals = m.lamp_proposals and options.lamp_proposals
            m.second_look = m.second_look and options.second_look
        thresholds = {
            n: m.score_threshold if options.score_threshold is None else options.score_threshold for n, m in models.items()
        }
        sets: dict[str, tuple[list[Path], list[Frame], Problems]] = {}
        for name, paths in options.data.items():
            problems = Problems()
            labels = label_map or next(iter(models.values())).label_map
            frames = [f for x in paths for f in load_frames(x, problems, labels, options.include_unlabelled)]
            sets[name] = (paths, frames, problems)
        tmp.mkdir(parents=True)
        metrics: dict[str, Any] = {
            "created": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "command": options.command,
            "machine": machine_description(device),
            "iou_threshold": options.iou,
            "roi": str(options.roi),
            "lamp_proposals": options.lamp_proposals,
            "second_look": options.second_look,
            "models": [
                {
                    "name": n,
                    "path": str(m.path),
                    "kind": m.kind,
                    "score_threshold": thresholds[n],
                    "labels": {str(k): v for k, v in sorted(m.label_map.names.items())},
                    **model_facts(m.path),
                }
                for n, m in models.items()
            ],
            "sets": [],
            "results": {n: {} for n in models},
            "groups": [],
        }
        total = sum(len(f) for _, f, _ in sets.values())
        with tqdm(total=total, unit="frame", desc="evaluate", disable=not options.progress or None, file=sys.stderr) as bar:
            for set_name, (paths, frames, problems) in sets.items():
                bar.set_postfix_str(set_name)
                evals = run_models(models, thresholds, frames, problems, bar, options.roi)
                done = next(iter(evals.values()))
                entry: dict[str, Any] = {
                    "name": set_name,
                    "sources": [str(x) for x in paths],
                    "frames": len(done),
                    "frames_with_boxes": sum(e.frame.boxes_known for e in done),
                    "true_boxes": sum(len(e.frame.boxes) for e in done),
                    "truth": {s.name: sum(e.frame.truth == s for e in done) for s in STATE_ORDER},
                    "skipped": dict(sorted(problems.counts.items())),
                    "figures": {},
                }
                curves = {}
                for model_name, model_evals in evals.items():
                    curves[model_name] = _score(model_name, set_name, model_evals, thresholds[model_name], options, tmp, metrics)
                if entry["frames_with_boxes"]:
                    entry["figures"]["pr"] = f"pr_{slug(set_name)}.png"
                    pr_png(curves, thresholds, f"{set_name}: boxes at IoU >= {options.iou:g}", tmp / entry["figures"]["pr"])
                metrics["sets"].append(entry)
        for name, members in options.groups.items():
            metrics["groups"].append(
                {
                    "name": name,
                    "sets": members,
                    "results": {
                        m: confusion_metrics(sum_matrices(metrics["results"][m][x]["state"]["confusion"] for x in members))
                        for m in models
                    },
                }
            )
        (tmp / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
        (tmp / "report.md").write_text(render_markdown(metrics), encoding="utf-8")
    return EvaluateResult(options.out, metrics)


def _score(
    model_name: str, set_name: str, evals: list[FrameEval], threshold: float, options: EvaluateOptions, tmp: Path, metrics: dict
) -> dict[str, PRCurve]:
    """Metrics and figures of one model on one set, stored into ``metrics``; returns its PR curves."""
    det, curves = detection_metrics(evals, threshold, options.iou) if any(e.frame.boxes_known for e in evals) else (None, {})
    state = state_metrics([e.frame.truth for e in evals], [e.result.state for e in evals])
    stem = f"{slug(model_name)}_{slug(set_name)}"
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
        mistakes_png(wrong[: options.mistakes], f"{model_name} on {set_name}", tmp / figures["mistakes"])
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
