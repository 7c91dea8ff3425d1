"""``evaluate_model``: how good a model is, in numbers: state accuracy, confusion matrix, speed.

    rosrun tl_classifier evaluate_model --model models/default \
        --set sim=../shared/realdata/ros-racers/tl_classification/test_images_sim,.../images_sim_val \
        --set car=.../test_images_real,.../images_real_val --out eval/

A folder is either sorted by state (subfolders ``red``, ``yellow``, ``green``,
``off``, and ``unknown``/``nolight``/``none`` for no light, as the capstone's test_images are) or holds labelImg XML
beside its images (the state of a frame is that of most of its boxes; a frame
without boxes is UNKNOWN).  A frame counts as right when the model's frame
state (:func:`tl_classifier.detection.decide_state`) equals it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tl_classifier.cli import run_main
from tl_classifier.dataset import DatasetError, Problems, majority_state, read_voc_file
from tl_classifier.states import State, state_from_label

_NO_LIGHT = ("unknown", "nolight", "none")
_ORDER = [State.RED, State.YELLOW, State.GREEN, State.OFF, State.UNKNOWN]


def labelled_frames(folder: Path) -> list[tuple[Path, State]]:
    """Every image of ``folder`` with its true state (by subfolder, or by its labelImg XML).

    :raises DatasetError: if the folder holds neither.
    """
    if not folder.is_dir():
        raise DatasetError("no such folder", folder)
    subs = [d for d in sorted(folder.iterdir()) if d.is_dir() and d.name.lower() in ("red", "yellow", "green", "off", *_NO_LIGHT)]
    if subs:
        return [
            (p, State.UNKNOWN if d.name.lower() in _NO_LIGHT else state_from_label(d.name))
            for d in subs
            for p in sorted(d.iterdir())
            if p.suffix.lower() in (".jpg", ".jpeg", ".png")
        ]
    xmls = sorted(p for p in folder.iterdir() if p.name.lower().endswith(".xml"))
    if not xmls:
        raise DatasetError("holds neither state subfolders (red, yellow, green, unknown) nor labelImg XML", folder)
    frames = []
    problems = Problems()
    for xml in xmls:
        ex = read_voc_file(xml, folder, problems)
        if ex is None:
            continue
        frames.append((ex.image, majority_state(state_from_label(b.label) for b in ex.boxes)))
    return frames


def confusion_png(matrix: np.ndarray, labels: list[str], title: str, path: Path) -> None:
    """Draw a confusion matrix (rows: truth, columns: model) to PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4.2), dpi=120)
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=30)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("model")
    ax.set_ylabel("truth")
    ax.set_title(title)
    for i in range(len(labels)):
        for j in range(len(labels)):
            ax.text(
                j, i, str(matrix[i, j]), ha="center", va="center", color="white" if matrix[i, j] > matrix.max() / 2 else "black"
            )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def _evaluate(argv: list[str]) -> int:
    import cv2

    from tl_classifier.model import load_model

    p = argparse.ArgumentParser(prog="evaluate_model", description="State accuracy, confusion matrices and speed of a model.")
    p.add_argument("--model", required=True, help="frozen graph, SavedModel, or export folder")
    p.add_argument("--set", action="append", required=True, metavar="NAME=FOLDER[,FOLDER]", help="a named set of folders")
    p.add_argument("--score_threshold", type=float, default=None, help="default: the model's own (model.json), else 0.5")
    p.add_argument("--timing_frame", help="an image to time (resized to 1368x1096); default: a black 1368x1096 frame")
    p.add_argument("--timing_runs", type=int, default=30)
    p.add_argument("--out", default="eval", help="folder for results.json and the confusion matrices (PNG)")
    a = p.parse_args(argv)
    model = load_model(a.model)
    out = Path(a.out)
    if a.score_threshold is None:
        a.score_threshold = model.score_threshold
    results: dict = {"model": str(model.path), "score_threshold": a.score_threshold, "sets": {}}
    names = [s.name for s in _ORDER]
    for spec in a.set:
        name, _, folders = spec.partition("=")
        frames = [f for folder in folders.split(",") for f in labelled_frames(Path(folder))]
        matrix = np.zeros((len(_ORDER), len(_ORDER)), int)
        wrong = []
        for path, truth in frames:
            bgr = cv2.imread(str(path))
            if bgr is None:
                raise DatasetError("cannot read image", path)
            got = model.detect(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), a.score_threshold).state
            matrix[_ORDER.index(truth), _ORDER.index(got)] += 1
            if got != truth:
                wrong.append(f"{path}: {truth.name} -> {got.name}")
        right = int(np.trace(matrix))
        acc = right / max(len(frames), 1)
        png = out / f"confusion_{name}.png"
        confusion_png(matrix, names, f"{name}: {right}/{len(frames)} right ({100 * acc:.1f} %)", png)
        results["sets"][name] = {"frames": len(frames), "right": right, "accuracy": acc, "confusion": matrix.tolist(),
                                 "labels": names, "wrong": wrong, "png": png.name}  # fmt: skip
        print(f"{name}: {right}/{len(frames)} frames right ({100 * acc:.1f} %); confusion matrix: {png}")
    if a.timing_frame:
        bgr = cv2.imread(a.timing_frame)
        frame = cv2.resize(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), (1368, 1096))
    else:
        frame = np.zeros((1096, 1368, 3), np.uint8)
    model.warm_up(1368, 1096)
    times = []
    for _ in range(a.timing_runs):
        start = time.perf_counter()
        model.detect(frame, a.score_threshold)
        times.append(time.perf_counter() - start)
    results["timing"] = {"frame": "1368x1096", "runs": a.timing_runs, "median_ms": 1e3 * statistics.median(times),
                         "p90_ms": 1e3 * float(np.percentile(times, 90)), "cpu_cores": os.cpu_count()}  # fmt: skip
    print(f"1368x1096 frame: median {results['timing']['median_ms']:.1f} ms per frame on {os.cpu_count()} CPU cores")
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``rosrun tl_classifier evaluate_model --model DIR --set NAME=FOLDERS ...``."""
    return run_main(_evaluate, argv, "evaluate_model")
