#!/usr/bin/env python3
"""Which stage fails on a recording a model has not seen: the detector or the crop classifier?

    make probe      (after make loro; = ./env.sh python docs/probe_stages.py)

For each real recording, the model trained without it (``make loro``, ``.ws/loro/RECORDING/``)
runs on every labelled light of that recording, and each light is counted three ways:

* **found** by the first stage alone (the one-class detector, its objectness at the model's score
  threshold): one of its boxes overlaps the light with IoU >= 0.5 (*found*), or only 0.1-0.5
  (*misplaced*: a box on part of the light, or on the light and what is above it), or none (*missed*);
* **right on the true box**: the model's own crop classifier, given the labelled box instead of the
  detector's, tells the light's state (the two-stage rule, :func:`tl_classifier.train.crops.classify_crops`);
* **right as detected**: the detection that overlaps the light best says its state.

Each model runs as ``make loro`` evaluates it (as the node runs with ``site:=true`` on a car recording: the car's hood
left out, :data:`tl_classifier.params.SITE_ROI`; on the whole frame in the simulator).

Besides: the share of the detected boxes (found or misplaced) whose centre sits higher than the light's by more
than half a lamp (a sixth of its height), and the wrong frames whose state came from a detection on no labelled light
(frames whose lights are labelled by box: not those sorted into state folders).

A light the classifier reads right on its true box but the model gets wrong was lost by the
detector.  Writes ``stages.json`` and ``stages.png`` into ``--out``; tl_classifier.evaluate.project_report
shows them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from tl_classifier.data.annotations import Problems, iou_matrix
from tl_classifier.data.frames import load_frames
from tl_classifier.fields import DetectionFields as D
from tl_classifier.states import State, state_from_label
from tl_classifier.testing.realdata import RECORDINGS, SIZE_BINS, launch_roi, size_bin, write_recording_rows

ROOT = Path(__file__).resolve().parent.parent
FOUND_IOU, TOUCHED_IOU = 0.5, 0.1
HALF_A_LAMP = 1 / 6  #: of a three-lamp light's height: a box whose centre is higher by more puts the top lamp mid-crop
STATES = (State.RED, State.YELLOW, State.GREEN)


def _empty() -> dict[str, int]:
    return {"lights": 0, "found": 0, "misplaced": 0, "missed": 0, "right_on_true_box": 0, "right_as_detected": 0}


def probe_recording(name: str, loro: Path) -> dict:
    """Count every labelled RED, YELLOW and GREEN light of recording ``name`` with the model trained without it."""
    from tqdm import tqdm

    from tl_classifier.model.load import load_model
    from tl_classifier.tf_setup import import_tensorflow
    from tl_classifier.train.builtin import detector_spec
    from tl_classifier.train.crops import LABEL_MAP, build_classifier, classify_crops
    from tl_classifier.train.network import build_model, detector_fn

    tf = import_tensorflow()
    model = load_model(loro / name / "model")
    work = loro / name / "work"
    classifier = build_classifier()
    classifier.load_weights(str(work / "classifier.weights.h5"))
    # the detector's shape, as train builtin wrote it
    spec = detector_spec(json.loads((work / "settings.json").read_text()), str(work / "settings.json"))
    detector = build_model(spec)
    detector.load_weights(str(work / "detector.weights.h5"))
    find = tf.function(detector_fn(detector, spec, min_score=model.score_threshold))  # the first stage alone
    rows = {label: _empty() for *_, label in SIZE_BINS}
    roi = launch_roi(name)  # as docs/leave_one_out.py evaluates it
    frames = [
        f for p in RECORDINGS[name]["data"].values() for f in load_frames(Path(p), Problems(out=lambda _: None), unlabelled=True)
    ]
    shifts: list[float] = []  #: (detected box's centre - the light's) / the light's height, lights found or misplaced
    counts = {"frames": 0, "frames_wrong": 0, "wrong_by_a_box_on_no_light": 0}
    for frame in tqdm(frames, desc=name, unit="frame", leave=False):
        lights = [b for b in frame.boxes if state_from_label(b.label) in STATES]
        rgb = frame.rgb()
        h, w = rgb.shape[:2]
        result = model.detect(rgb, roi=roi)
        dets = result.detections
        found = np.array([[d.ymin / h, d.xmin / w, d.ymax / h, d.xmax / w] for d in dets], np.float32).reshape(-1, 4)
        truth = np.array([[b.ymin / h, b.xmin / w, b.ymax / h, b.xmax / w] for b in lights], np.float32).reshape(-1, 4)
        overlap = iou_matrix(truth, found) if len(found) and len(truth) else np.zeros((len(lights), len(found)))
        counts["frames"] += 1
        if result.state != frame.truth:
            counts["frames_wrong"] += 1
            on_nothing = overlap.max(0) < TOUCHED_IOU if len(lights) else np.ones(len(dets), bool)
            counts["wrong_by_a_box_on_no_light"] += int(
                frame.boxes_known and any(d.state == result.state and on_nothing[j] for j, d in enumerate(dets))
            )
        if not lights:
            continue
        image = tf.constant(rgb[None], tf.float32)
        ids, _ = classify_crops(classifier, image, truth)
        on_box = [LABEL_MAP.state(int(i)) for i in ids.numpy()]
        first = find(tf.cast(image, tf.uint8))
        objects = first[D.boxes][0].numpy()[first[D.scores][0].numpy() >= model.score_threshold]
        located = iou_matrix(truth, objects).max(1) if len(objects) else np.zeros(len(lights))
        for i, b in enumerate(lights):
            row = rows[size_bin(b.xmax - b.xmin)]
            state = state_from_label(b.label)
            best = int(overlap[i].argmax()) if overlap.shape[1] else -1
            iou = overlap[i, best] if best >= 0 else 0.0
            row["lights"] += 1
            row["found" if located[i] >= FOUND_IOU else "misplaced" if located[i] >= TOUCHED_IOU else "missed"] += 1
            row["right_on_true_box"] += int(on_box[i] == state)
            if iou >= TOUCHED_IOU:
                d = dets[best]
                shifts.append(((d.ymin + d.ymax) / 2 - (b.ymin + b.ymax) / 2) / max(b.ymax - b.ymin, 1.0))
            row["right_as_detected"] += int(iou >= TOUCHED_IOU and dets[best].state == state)
    total = _empty()
    for row in rows.values():
        for k in total:
            total[k] += row[k]
    return {"recording": name, "domain": RECORDINGS[name]["domain"], "model": os.path.relpath(loro / name / "model", ROOT),
            "roi": str(roi),
            "all": total, **counts, "boxes_high": round(float(np.mean(np.array(shifts) < -HALF_A_LAMP)), 3) if shifts else 0.0,
            "by_light_width": [{"width": k, **v} for k, v in rows.items() if v["lights"]]}  # fmt: skip


def figure(results: list[dict], path: Path) -> None:
    """Per recording: the share of lights found, misplaced and missed (bars), and read right on the true box (dots)."""
    from tl_classifier.model.draw import pyplot, save_figure

    plt = pyplot()

    names = [r["recording"] for r in results]
    share = {k: np.array([r["all"][k] / max(r["all"]["lights"], 1) for r in results]) for k in _empty()}
    fig, ax = plt.subplots(figsize=(10, 3.6))
    x = np.arange(len(names))
    bottom = np.zeros(len(names))
    for key, colour in (("found", "#4c9a2a"), ("misplaced", "#e0a030"), ("missed", "#c0392b")):
        ax.bar(x, share[key], 0.6, bottom=bottom, color=colour, label=f"detector: {key}")
        bottom += share[key]
    ax.plot(x, share["right_on_true_box"], "D", color="black", label="classifier right on the true box")
    ax.plot(x, share["right_as_detected"], "o", mfc="white", color="black", label="state right as detected")
    ax.set_xticks(x, names)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("share of labelled lights")
    ax.set_title("held out: which stage loses a light (each recording, the model trained without it)")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    save_figure(fig, path)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="probe_stages", description=__doc__.splitlines()[0])
    p.add_argument("recordings", nargs="*", help="default: every real recording")
    p.add_argument("--loro", default=str(ROOT / ".ws" / "loro"), help="the held-out models (make loro)")
    p.add_argument("--out", default=str(ROOT / "docs" / "heldout"))
    a = p.parse_args(argv)
    loro, out = Path(a.loro), Path(a.out)
    names = a.recordings or list(RECORDINGS)
    missing = [n for n in names if not (loro / n / "work" / "classifier.weights.h5").is_file()]
    if missing:
        print(f"probe_stages: {loro}: no held-out model for {', '.join(missing)}: run make loro first", file=sys.stderr)
        return 1
    today = time.strftime("%Y-%m-%d")
    results = [{**probe_recording(n, loro), "date": today} for n in names]
    head = {"what": __doc__.splitlines()[0], "date": today, "found_iou": FOUND_IOU, "touched_iou": TOUCHED_IOU,
            "figure": "stages.png"}  # fmt: skip
    # the recordings not probed this time keep their rows (a held-out model trained again is probed alone)
    figure(write_recording_rows(out / "stages.json", head, results), out / "stages.png")
    for r in results:
        t = r["all"]
        print(f"{r['recording']:<14} frames wrong {r['frames_wrong']}/{r['frames']} ({r['wrong_by_a_box_on_no_light']} by a "
              f"box on no light); lights {t['lights']}: found {t['found']}, misplaced {t['misplaced']}, missed {t['missed']}; "
              f"right on the true box {t['right_on_true_box']}, as detected {t['right_as_detected']}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
