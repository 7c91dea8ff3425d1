#!/usr/bin/env python3
"""Leave one recording out: for each real recording, a model trained without it, evaluated on all of its frames.

    make loro            (= ./env.sh python docs/leave_one_out.py)

That is the figure a user of a new track or camera can expect.  The recordings
(../shared/realdata/README.md says which set comes from which) and the records
``make default-model-data`` writes for each are listed in :data:`tl_classifier.testing.realdata.RECORDINGS`;
synthetic frames are always in training.  Each held-out model is trained with the
default model's recipe and schedule (:data:`SETTINGS`; about 35 minutes per recording on two CPU cores), in
``.ws/loro/RECORDING/`` (resumable: run it again after an interruption), and
evaluated with ``evaluate`` as the node is launched for it: a car recording with ``site:=true``'s region of
interest (:data:`tl_classifier.params.SITE_ROI`, the car's hood left out), a simulator drive on the whole frame.
Writes ``docs/heldout/loro.json`` (read by
``tl_classifier.evaluate.project_report``) and the strips of each model's worst mistakes,
``docs/heldout/loro_SET.png``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from tl_classifier.data.annotations import Problems
from tl_classifier.data.frames import load_frames
from tl_classifier.model.proposals import proposal_settings
from tl_classifier.testing.realdata import RECORDINGS, SIZE_BINS, launch_roi, size_bin, write_recording_rows

ROOT = Path(__file__).resolve().parent.parent
RECORDS = ROOT / ".ws" / "default_model"  # make default-model-data
WORK = ROOT / ".ws" / "loro"
OUT = ROOT / "docs" / "heldout"  #: not docs/report/, which `make report` replaces whole
OUT_NAME = "loro.json"
FIGURE_PREFIX = "loro_"
ALWAYS = ["synth"]  #: synthetic frames: in every training
VALIDATION = ["racers_sim_val", "racers_real_val"]  #: choose the score threshold, never trained on
#: The default model's recipe and schedule (Makefile TRAIN_SETTINGS); --short: 15 and 8 epochs, as before 2026-11-26.
SETTINGS = [
    "--two_stage", "--input_size", "512x384", "--epochs", "40", "--steps_per_epoch", "60", "--batch_size", "8",
    "--learning_rate", "2e-3", "--seed", "0", "--classifier_epochs", "12", "--paste", "0.5", "--second_look", "640x480",
]  # fmt: skip


def run(cmd: list[str], log: Path) -> None:
    print("$ " + " ".join(cmd), flush=True)
    with open(log, "a", encoding="utf-8") as out:
        if subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT).returncode != 0:
            raise SystemExit(f"leave_one_out: failed: {' '.join(cmd[:4])} ... (log: {log})")


def by_light_size(spec: dict, results: dict) -> list[dict]:
    """Frames right, by the width of the frame's widest labelled light (``results``: evaluate's per-set results)."""
    wrong = {(s, m["frame"]) for s, r in results.items() for m in r["mistakes"] if m["state"] != m["truth"]}
    rows = {label: [0, 0] for *_, label in SIZE_BINS} | {"no light": [0, 0]}
    for s, path in spec["data"].items():
        for f in load_frames(Path(path), Problems(out=lambda _: None), unlabelled=True):
            width = max((b.xmax - b.xmin for b in f.boxes), default=None)
            label = "no light" if width is None else size_bin(width)
            rows[label][0] += 1
            rows[label][1] += (s, f.name) not in wrong
    return [{"widest_light": k, "frames": n, "right": r} for k, (n, r) in rows.items() if n]


def held_out(name: str, spec: dict) -> dict:
    """Train without recording ``name`` (unless done), evaluate on it, return its metrics."""
    work = WORK / name
    work.mkdir(parents=True, exist_ok=True)
    log = work / "log.txt"
    model = work / "model"
    train = [f"{RECORDS / r}.record" for recording, s in RECORDINGS.items() if recording != name for r in s["records"]]
    train = [t for t in train if Path(t).stem not in VALIDATION] + [f"{RECORDS / r}.record" for r in ALWAYS]
    val = [f"{RECORDS / r}.record" for r in VALIDATION if r not in spec["records"]]
    started = time.monotonic()
    if not (model / "model.json").is_file():
        run([str(ROOT / "scripts" / "train"), "builtin", "--train_record", *train, "--val_record", *val,
             "--label_map", str(RECORDS / "label_map.pbtxt"), "--model_dir", str(work / "work"), "--export_dir", str(model),
             *SETTINGS, "--no_progress", "--overwrite"], log)  # fmt: skip
    trained_s = time.monotonic() - started
    # the threshold again with today's decision code (a model trained earlier chose it with the code of its day)
    run([str(ROOT / "scripts" / "train"), "threshold", "--model", str(model), "--val_record", *val], log)
    data = [f"--data={s}={p}" for s, p in spec["data"].items()]
    roi = str(launch_roi(name))  # as classify.launch site:=true / false sets it
    run([str(ROOT / "scripts" / "evaluate"), f"--model=without_{name}={model}", *data,
         f"--group={name}={','.join(spec['data'])}", "--include_unlabelled", "--roi", roi, "--out", str(work / "eval"),
         "--overwrite", "--no_progress"], log)  # fmt: skip
    metrics = json.loads((work / "eval" / "metrics.json").read_text())
    result = metrics["groups"][0]["results"][f"without_{name}"]
    figures = []
    for s in spec["data"]:
        fig = metrics["results"][f"without_{name}"][s]["figures"].get("mistakes")
        if fig:
            dest = f"{FIGURE_PREFIX}{s}.png"
            shutil.copyfile(work / "eval" / fig, OUT / dest)
            figures.append({"set": s, "figure": dest})
    info = json.loads((model / "model.json").read_text())
    return {
        "recording": name,
        "domain": spec["domain"],
        "what": spec["what"],
        "sets": {s: os.path.relpath(p, ROOT) for s, p in spec["data"].items()},
        "trained_on": [Path(t).stem for t in train],
        "score_threshold": info["score_threshold"],
        "second_look": info.get("second_look"),  #: as exported (train second_look writes it again without training)
        "lamp_proposals": proposal_settings(),  #: the code's, not the model's: evaluate runs them
        "roi": roi,
        "train_seconds_this_run": round(trained_s),
        "state": result,
        "by_light_size": by_light_size(spec, metrics["results"][f"without_{name}"]),
        "mistakes": [m for s in metrics["sets"] for m in metrics["results"][f"without_{name}"][s["name"]]["mistakes"]],
        "mistake_figures": figures,
        "machine": metrics["machine"]["description"],
    }


def write(path: Path, mine: dict[str, dict]) -> list[dict]:
    """Write this run's recordings into ``path``, keeping the others it holds (another run's, written meanwhile)."""
    head = {
        "what": "each real recording evaluated by a model trained without it (leave one recording out)",
        "settings": " ".join(SETTINGS),
        "date": time.strftime("%Y-%m-%d"),
    }
    return write_recording_rows(path, head, mine.values())


def main(argv: list[str]) -> int:
    global WORK, OUT_NAME, FIGURE_PREFIX
    import argparse

    p = argparse.ArgumentParser(prog="leave_one_out", description=__doc__.splitlines()[0])
    p.add_argument("recordings", nargs="*", help="default: every real recording")
    p.add_argument("--input_size", help="an experiment: the detector's input (default: the recipe's 512x384); its "
                   "results go to docs/heldout/loro_WxH.json, beside (not into) loro.json")  # fmt: skip
    p.add_argument("--mosaic", help="an experiment: the share of mosaic training images (train builtin --mosaic); "
                   "with --tag")  # fmt: skip
    p.add_argument("--paste", help="an experiment: the share of training images with far lights pasted in (train builtin "
                   "--paste; the recipe's is 0.5); with --tag")  # fmt: skip
    p.add_argument("--box_offsets", action="store_true", help="an experiment: the detector's offset head (train builtin "
                   "--box_offsets); with --tag")  # fmt: skip
    p.add_argument("--short", action="store_true", help="an experiment: the shorter schedule the held-out table "
                   "used before (--epochs 15 --classifier_epochs 8, not the shipped 40 and 12); default tag: short")  # fmt: skip
    p.add_argument("--tag", help="an experiment with the code as it is now (another augmentation, say): its work in "
                   ".ws/loro_TAG/ and its results in docs/heldout/loro_TAG.json, beside (not into) loro.json")  # fmt: skip
    a = p.parse_args(argv)
    if a.input_size:
        SETTINGS[SETTINGS.index("--input_size") + 1] = a.input_size
    experiment = next((f"--{n}" for n in ("mosaic", "paste", "box_offsets") if getattr(a, n)), None)
    if experiment and not a.tag:
        raise SystemExit(f"leave_one_out: {experiment} is an experiment: give it a --tag")
    if a.mosaic:
        SETTINGS.extend(["--mosaic", a.mosaic])
    if a.paste:
        SETTINGS[SETTINGS.index("--paste") + 1] = a.paste
    if a.box_offsets:
        SETTINGS.append("--box_offsets")
    if a.short:
        SETTINGS[SETTINGS.index("--epochs") + 1] = "15"
        SETTINGS[SETTINGS.index("--classifier_epochs") + 1] = "8"
    tag = a.tag or a.input_size or ("short" if a.short else None)
    if tag:
        WORK, OUT_NAME, FIGURE_PREFIX = ROOT / ".ws" / f"loro_{tag}", f"loro_{tag}.json", f"loro_{tag}_"
    names = a.recordings or list(RECORDINGS)
    unknown = [n for n in names if n not in RECORDINGS]
    if unknown:
        raise SystemExit(f"leave_one_out: no recording {unknown} (known: {', '.join(RECORDINGS)})")
    missing = [r for s in RECORDINGS.values() for r in s["records"] + ALWAYS if not (RECORDS / f"{r}.record").is_file()]
    if missing:
        raise SystemExit(f"leave_one_out: records missing in {RECORDS}: {missing}; run `make default-model-data` first")
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / OUT_NAME
    mine: dict[str, dict] = {}
    ordered: list[dict] = []
    for name in names:
        print(f"leave_one_out: {name}", flush=True)
        mine[name] = held_out(name, RECORDINGS[name])
        ordered = write(path, mine)  # after each recording: an interrupted run keeps what it finished
    for r in ordered:
        st = r["state"]
        print(
            f"{r['recording']:<14} RED read as GREEN {st['red_as_green']}, RED missed {st['red_missed']}, "
            f"{st['right']}/{st['frames']} = {100 * st['accuracy']:.1f} % right"
        )
    print(f"written: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
