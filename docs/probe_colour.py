#!/usr/bin/env python3
"""What did a model learn instead of the lamp's colour?  Three interventions on real frames show it.

    ./env.sh python docs/probe_colour.py --model old=PATH --model new=PATH --data sdcnd_sim=YAML [--out docs/report]

* **Lamps greyed out**: on those frames, every lit pixel inside the labelled lights and the
  model's GREEN boxes is painted the grey of the unlit housing: no lamp is lit anywhere.  A
  model that reads the lamps can then no longer say GREEN; one that still does never looked at them.
* **Red and green swapped**: on the RED frames a model reads right, the frame's R and G
  channels are swapped (a red lamp becomes green, nothing else moves).  A model that
  reads colour must now say GREEN; one that still says RED reads something else (where
  the lit lamp sits in the housing, the scene).
* **Red lamp greyed out**: on the same frames, every lit pixel inside the labelled lights is
  painted the grey of the unlit housing.  A model that reads the lamp, by its colour or by
  which one is lit, can no longer say RED; one that still does reads the scene.  This
  tells the last two apart.

Writes ``probe.json`` and ``probe.png`` (examples: each frame as it is and after each
intervention, with the model's state) into ``--out``; tl_classifier.evaluate.project_report shows them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from tl_classifier.data.annotations import Problems
from tl_classifier.data.frames import load_frames
from tl_classifier.model.draw import draw_detections
from tl_classifier.model.lamp import LIT_MIN_SATURATION, LIT_MIN_VALUE
from tl_classifier.model.load import load_model
from tl_classifier.states import State


def grey_lamps(rgb: np.ndarray, boxes: list) -> np.ndarray:
    """The frame with the lit pixels inside ``boxes`` (anything with xmin..ymax) painted the grey of their unlit pixels."""
    import cv2

    out = rgb.copy()
    for d in boxes:
        x0, y0 = max(0, int(d.xmin)), max(0, int(d.ymin))
        crop = out[y0 : int(d.ymax), x0 : int(d.xmax)]
        if not crop.size:
            continue
        hsv = cv2.cvtColor(crop, cv2.COLOR_RGB2HSV)
        lit = (hsv[..., 2] >= LIT_MIN_VALUE * 0.6) & (hsv[..., 1] >= LIT_MIN_SATURATION * 0.6)
        lit = cv2.dilate(lit.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        if lit.all() or not lit.any():
            continue
        crop[lit] = np.median(crop[~lit], axis=0).astype(np.uint8)
    return out


def window(rgb: np.ndarray, boxes: list) -> tuple[int, int, int, int]:
    """A part of the frame around ``boxes`` (x0, y0, x1, y1), large enough to see them: far lights are a few pixels."""
    h, w = rgb.shape[:2]
    x0, y0 = int(min(d.xmin for d in boxes)), int(min(d.ymin for d in boxes))
    x1, y1 = int(max(d.xmax for d in boxes)), int(max(d.ymax for d in boxes))
    cx, cy, half = (x0 + x1) // 2, (y0 + y1) // 2, max(x1 - x0, y1 - y0, 60)
    return max(0, cx - 2 * half), max(0, cy - half * 3 // 2), min(w, cx + 2 * half), min(h, cy + half * 3 // 2)


def probe(model: object, frames: list) -> dict:
    greyed, swapped, examples = [], [], []
    for f in frames:
        if f.truth != State.RED:
            continue
        rgb = f.rgb()
        r = model.detect(rgb)
        if r.state == State.GREEN:
            greens = [d for d in r.detections if d.state == State.GREEN]
            dark = grey_lamps(rgb, [*f.boxes, *greens])
            after = model.detect(dark).state
            greyed.append({"frame": f.name, "after": after.name, "green_boxes": len(greens)})
            shown = rgb.copy()
            draw_detections(shown, greens)
            examples.append(("greyed", f.name, shown, r.state, dark, after, window(rgb, [*f.boxes, *greens])))
        elif r.state == State.RED:
            after = model.detect(np.ascontiguousarray(rgb[..., [1, 0, 2]])).state
            dark = grey_lamps(rgb, f.boxes)
            unlit = model.detect(dark).state
            swapped.append({"frame": f.name, "after": after.name, "after_greyed": unlit.name})
            examples.append(("swapped", f.name, rgb, r.state, np.ascontiguousarray(rgb[..., [1, 0, 2]]), after, None))
            examples.append(("red greyed", f.name, rgb, r.state, dark, unlit, window(rgb, f.boxes)))
    count = lambda xs, s, key="after": sum(x[key] == s for x in xs)  # noqa: E731
    return {
        "red_frames": sum(f.truth == State.RED for f in frames),
        "red_read_as_green": len(greyed),
        "still_green_with_the_lamp_greyed": count(greyed, "GREEN"),
        "green_boxes": sum(x["green_boxes"] for x in greyed),
        "red_read_right": len(swapped),
        "still_red_with_red_and_green_swapped": count(swapped, "RED"),
        "green_with_red_and_green_swapped": count(swapped, "GREEN"),
        "still_red_with_the_red_lamp_greyed": count(swapped, "RED", "after_greyed"),
        "greyed": greyed,
        "swapped": swapped,
        "_examples": examples,
    }


def figure(results: dict, path: Path) -> None:
    from tl_classifier.model.draw import pyplot

    plt = pyplot()
    picks = []
    for name, r in results.items():
        for kind in ("greyed", "swapped", "red greyed"):
            picks += [(name, e) for e in r["_examples"] if e[0] == kind][:2]
    if not picks:
        return
    fig, axes = plt.subplots(len(picks), 2, figsize=(7.5, 2.8 * len(picks)), dpi=90)
    axes = np.atleast_2d(axes)
    what = {"greyed": "every lamp greyed out", "swapped": "red and green swapped", "red greyed": "red lamp greyed out"}
    for row, (name, (kind, frame, before, s0, after, s1, win)) in zip(axes, picks, strict=True):
        x0, y0, x1, y1 = win or (0, 0, before.shape[1], before.shape[0])
        for ax, img, text in ((row[0], before, f"{name}: {s0.name}"), (row[1], after, f"{what[kind]}: {s1.name}")):
            ax.imshow(img[y0:y1, x0:x1], interpolation="nearest")
            ax.set_title(text, fontsize=9)
            ax.axis("off")
        row[0].text(0, -0.02, frame, transform=row[0].transAxes, fontsize=6, va="top")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="probe_colour", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", action="append", required=True, metavar="NAME=PATH")
    p.add_argument("--data", required=True, metavar="NAME=PATH", help="real frames with RED lights the models did not see")
    p.add_argument("--out", default="docs/heldout")
    a = p.parse_args(argv)
    data_name, data_path = a.data.split("=", 1)
    models = dict(spec.split("=", 1) for spec in a.model)
    first = load_model(next(iter(models.values())))
    frames = load_frames(Path(data_path), Problems(out=lambda _: None), first.label_map)
    results = {name: probe(load_model(path), frames) for name, path in models.items()}
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    figure(results, out / "probe.png")
    public = {n: {k: v for k, v in r.items() if not k.startswith("_")} for n, r in results.items()}
    text = {"data": {"name": data_name, "path": data_path}, "models": models, "results": public, "figure": "probe.png"}
    (out / "probe.json").write_text(json.dumps(text, indent=2) + "\n", encoding="utf-8")
    for n, r in public.items():
        print(
            f"{n}: {r['red_read_as_green']} of {r['red_frames']} RED frames read as GREEN ({r['green_boxes']} GREEN boxes), "
            f"{r['still_green_with_the_lamp_greyed']} still GREEN with every lamp greyed out; "
            f"{r['red_read_right']} read RED, {r['still_red_with_red_and_green_swapped']} still RED with red and green swapped, "
            f"{r['still_red_with_the_red_lamp_greyed']} with the red lamp greyed out"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
