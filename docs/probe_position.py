#!/usr/bin/env python3
"""Does a crop classifier read which lamp is lit, or where the lit lamp sits in its crop?

    make probe      (after make loro: the recipe's held-out models, .ws/loro/RECORDING/model)
    ./env.sh python docs/probe_position.py --model NAME=MODEL_DIR ... [RECORDING ...]

Each labelled RED, YELLOW and GREEN light of the recordings (:data:`tl_classifier.testing.realdata.RECORDINGS`) is
given to each model's crop classifier (``crop_classifier.pb`` beside the model) at its labelled box, and at that box
moved up or down by :data:`MOVES` of the light's height: where a detector's box is off (held out, the overcast site's
near lights were boxed a fifth of their height too high).  A classifier that reads the lit lamp of the housing says
the same state whichever way the box moves; one that reads the lit lamp's place in the crop reads a red light whose box
is too high (its lamp now mid-crop) as YELLOW.  Where ``docs/leave_one_out.py`` evaluated a model (``eval/`` beside
its folder), the frames the whole model got right are given too.  Writes ``position.json`` and ``position.png`` into
``--out``; ``tl_classifier.evaluate.project_report`` shows them.  ``make probe`` runs it on the recipe's held-out
models; the figure in docs/REPORT.md also holds the experiments of docs/training.md (their command is there).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from tl_classifier.data.annotations import Problems
from tl_classifier.data.frames import load_frames
from tl_classifier.errors import TLClassifierError
from tl_classifier.files import atomic_output
from tl_classifier.states import State, state_from_label
from tl_classifier.testing.realdata import RECORDINGS

ROOT = Path(__file__).resolve().parent.parent
#: the box moved by these fractions of the light's height (negative: up)
MOVES = (-0.3, -0.2, -0.1, 0.0, 0.1, 0.2, 0.3)
STATES = (State.RED, State.YELLOW, State.GREEN)


def probe(model_dir: Path, recording: str) -> dict:
    """Per move: the labelled lights of ``recording`` the model's crop classifier reads right, and which it reads how."""
    from tqdm import tqdm

    from tl_classifier.model.load import load_model

    model = load_model(model_dir)
    right = {m: 0 for m in MOVES}
    read_as = {m: {s.name: {t.name: 0 for t in State} for s in STATES} for m in MOVES}
    lights = 0
    frames = [f for p in RECORDINGS[recording]["data"].values() for f in load_frames(Path(p), Problems(out=lambda _: None))]
    for frame in tqdm(frames, desc=recording, unit="frame", leave=False):
        boxes = [b for b in frame.boxes if state_from_label(b.label) in STATES]
        if not boxes:
            continue
        rgb = frame.rgb()
        h, w = rgb.shape[:2]
        moved = [[(b.ymin + m * (b.ymax - b.ymin)) / h, b.xmin / w, (b.ymax + m * (b.ymax - b.ymin)) / h, b.xmax / w]
                 for b in boxes for m in MOVES]  # fmt: skip
        ids, _ = model.read_crops(rgb, moved)
        states = [model.label_map.state(int(i)) for i in ids]
        for j, b in enumerate(boxes):
            truth = state_from_label(b.label)
            lights += 1
            for k, m in enumerate(MOVES):
                said = states[j * len(MOVES) + k]
                right[m] += int(said == truth)
                read_as[m][truth.name][said.name] += 1
    # the frames the whole model got right on the recording, where docs/leave_one_out.py evaluated it (eval/ beside it)
    evaluated = model_dir.parent / "eval" / "metrics.json"
    whole = None
    if evaluated.is_file():
        state = json.loads(evaluated.read_text())["groups"][0]["results"]
        whole = {k: next(iter(state.values()))[k] for k in ("right", "frames")}
    return {"lights": lights, "frames_right": whole, "right": [right[m] for m in MOVES],
            "read_as": [{t: {s: n for s, n in row.items() if n} for t, row in read_as[m].items()} for m in MOVES]}  # fmt: skip


def figure(doc: dict, path: Path) -> None:
    """Share of lights read right against the box's move, one line per model, one panel per recording."""
    from tl_classifier.model.draw import pyplot, save_figure

    plt = pyplot()
    recordings = list(doc["recordings"])
    fig, axes = plt.subplots(1, len(recordings), figsize=(4.2 * len(recordings), 3.4), squeeze=False)
    colour = {name: f"C{i}" for i, name in enumerate(doc["models"])}  # a model's colour, the same in each panel
    for ax, rec in zip(axes[0], recordings, strict=True):
        for name, r in doc["recordings"][rec].items():
            ax.plot([100 * m for m in doc["moves"]], [n / max(r["lights"], 1) for n in r["right"]], "o-", label=name,
                    color=colour[name])  # fmt: skip
        ax.legend(fontsize=7)
        ax.set_title(f"{rec} ({next(iter(doc['recordings'][rec].values()))['lights']} lights)", fontsize=9)
        ax.set_xlabel("box moved, % of the light's height (- up)")
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("lights read right")
    fig.tight_layout()
    save_figure(fig, path)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="probe_position", description=__doc__.splitlines()[0])
    p.add_argument("recordings", nargs="*", help=f"of {', '.join(RECORDINGS)} (default: all)")
    p.add_argument("--model", action="append", required=True, metavar="NAME=DIR",
                   help="a two-stage model (crop_classifier.pb beside it); {recording} in DIR: each recording")  # fmt: skip
    p.add_argument("--out", default=str(ROOT / "docs" / "heldout"))
    a = p.parse_args(argv)
    a.recordings = a.recordings or list(RECORDINGS)
    unknown = [r for r in a.recordings if r not in RECORDINGS]
    if unknown:
        print(f"probe_position: no recording {unknown}", file=sys.stderr)
        return 1
    models = [m.split("=", 1) for m in a.model]
    doc: dict = {"what": __doc__.splitlines()[0], "date": time.strftime("%Y-%m-%d"), "moves": list(MOVES),
                 "figure": "position.png", "models": {}, "recordings": {}}  # fmt: skip
    for rec in a.recordings:
        doc["recordings"][rec] = {}
        for name, folder in models:
            path = Path(folder.format(recording=rec))
            if "{recording}" in folder and not path.exists():  # an experiment trained for some recordings only
                print(f"probe_position: no {path}: {name} left out on {rec}", flush=True)
                continue
            doc["models"][name] = folder  # as given: {recording} stands for each recording
            try:
                r = doc["recordings"][rec][name] = probe(path, rec)
            except TLClassifierError as err:  # no model there, or one without a crop classifier: one line
                print(f"probe_position: {err}", file=sys.stderr)
                return 1
            print(
                f"{name} on {rec}: of {r['lights']} lights, right with the box moved "
                + ", ".join(f"{100 * m:+.0f} %: {n}" for m, n in zip(MOVES, r["right"], strict=True)),
                flush=True,
            )
    out = Path(a.out)
    figure(doc, out / "position.png")
    with atomic_output(out / "position.json", overwrite=True) as tmp:
        tmp.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
