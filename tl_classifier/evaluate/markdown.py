"""``report.md`` from ``metrics.json``: the evaluation report's Markdown."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tl_classifier.evaluate.metrics import STATE_ORDER
from tl_classifier.evaluate.scoring import ANY_LIGHT
from tl_classifier.model.detection import GREEN_MARGIN, RELEVANT_HEIGHT
from tl_classifier.params import Roi


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

#: How a frame's state is decided from its lights (docs/node.md), said alike in report.md and docs/REPORT.md.
DECISION_RULE = (
    f"(GREEN ones at {GREEN_MARGIN:g} times it), and at least {RELEVANT_HEIGHT:g} of the tallest one's height (a "
    "farther intersection does not decide beside the near one), the most careful state (RED over YELLOW over GREEN "
    "over OFF; none: UNKNOWN), after a GREEN whose lamp looks red or shows no green, and a YELLOW whose lamp looks "
    "green, have been made UNKNOWN, and a YELLOW whose lamp looks plainly red RED (where none decides, a two-stage "
    "model's second look and then its lamp proposals are decided the same way)"
)

METHOD = (
    "A frame's **state** is the one the node decides from that frame alone, by the node's own code: of the lights "
    f"at or above the model's score threshold {DECISION_RULE}; the node's temporal filter "
    "then waits for a few frames in a row, which single frames cannot show. A frame's true state is its folder's, "
    "or that of most of its labelled boxes (none: UNKNOWN). A **box** is found when a detection of its state "
    "overlaps it at IoU >= {iou:g}; AP is the area under the precision-recall curve (VOC 2010+ all-point "
    'interpolation), mAP its mean over the states with labelled boxes, "any light" the same with states '
    "ignored. **Time** is the model call alone, per frame, after a warm-up."
)


def render_markdown(m: dict) -> str:
    """``report.md`` from the contents of ``metrics.json``."""
    models = ", ".join(f"`{x['name']}` ({x['path']}, score threshold {x['score_threshold']:g})" for x in m["models"])
    roi = m.get("roi", str(Roi()))
    region = [] if Roi.parse(roi).whole else [
        f"Region of interest `{roi}` (x_min,y_min,x_max,y_max of the frame): detections centred outside it were "
        "dropped, as the node's `~roi` drops them.", ""]  # fmt: skip
    if not m.get("lamp_proposals", True):
        region += ["Lamp proposals off (`--no_lamp_proposals`, the node's `~lamp_proposals` false): a frame the "
                   "detector decides nothing on stays UNKNOWN.", ""]  # fmt: skip
    if not m.get("second_look", True):
        region += ["Second look off (`--no_second_look`, the node's `~second_look` false): a frame the first look "
                   "decides nothing on is not looked at again on the larger input.", ""]  # fmt: skip
    out = ["# Evaluation report", "", f"Models: {models}.", "",
           f"Made {m['created']} on {m['machine']['description']}. Command: `{m['command']}`", "",
           METHOD.format(iou=m["iou_threshold"]), "", *region,
           "## Summary", "", *table(SUMMARY_HEADER, summary_rows(m))]  # fmt: skip
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
