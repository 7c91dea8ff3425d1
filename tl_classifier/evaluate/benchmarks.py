#!/usr/bin/env python3
"""Write docs/BENCHMARKS.md from bench/results/*.json: the figures are read, never typed.

    make benchmarks     (after ./env.sh bench/NAME)

Each section says what the benchmark runs, its anchor, and the latest figures with the
machine and date they were measured on.  A test checks that the committed page is
exactly what this writes from the committed results.
"""

from __future__ import annotations

import json
from pathlib import Path

from tl_classifier.evaluate.markdown import table

#: the repository this module is in: the page is made of its bench/results/*.json
ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"


def _load(name: str) -> dict | None:
    p = RESULTS / f"{name}.json"
    return json.loads(p.read_text()) if p.is_file() else None


def _ms(v: float | None) -> str:
    return "–" if v is None else f"{v:.1f} ms"


def node_latency(b: dict) -> list[str]:
    a = b["anchor"]
    out = [
        f"Measured {b['date']} on {b['machine']}; model `{b['model']}`; frames: {b['frames']}.",
        "",
        f"Anchors: bare inference {a['median_ms']:.1f} ms median, {a['p99_ms']:.1f} ms p99 ({a['name']}); "
        f"bare transport: {a.get('bare_transport', 'not measured in this run')}."
        + (
            f" On a frame without a light (black), where every fallback runs: bare inference "
            f"{a['without_a_light_median_ms']:.1f} ms median; the node's run on such frames (`node (no light)`) is "
            "measured against it."
            if "without_a_light_median_ms" in a
            else ""
        ),
        "",
    ]
    if b["runs"] and "target" in b["runs"][0]:
        rows = []
        for r in b["runs"]:
            node = r["target"].startswith("node")
            rows.append([
                r["publisher"], f"{r['rate_hz']:g} Hz", r["target"].replace("_", " "), r["frames_sent"], r["answers"],
                _ms(r["latency_median_ms"]), _ms(r["latency_p99_ms"]),
                f"{r['ratio_median_to_floor']:.2f}x" if node else "",
                f"{r['ratio_median_to_bare_inference']:.2f}x" if node else "",
                f"{r['p99_in_inference_periods']:.2f}" if node else "",
                _ms(r.get("node_inference_median_ms")) if node else "",
            ])  # fmt: skip
        g = b["goals"]
        out += table(
            ["publisher", "rate", "what", "sent", "answers", "median", "p99",
             f"median / (transport + inference), goal <= {g['median_to_floor_max']}",
             f"median / inference, goal <= {g['median_to_bare_inference_max']}",
             f"p99 / inference period, goal < {g['p99_periods_max_at_30hz']} at 30 Hz",
             "model time in the node (inference_time), median"],
            rows,
        )  # fmt: skip
        if b.get("worker_steps_ms"):
            out += ["", "Where a frame's time goes in the node's worker (median ms, measured in the same run):", ""]
            out += table(["step", "ms"], [[k, f"{v:.3f}"] for k, v in b["worker_steps_ms"].items()])
            out += ["", "The worker's own steps around the model cost the figures above. What the node adds beyond bare "
                    "transport + bare inference shows in the last column: the same model call is slower in the node than "
                    "alone, because on this machine's two cores it shares the CPU with the frame's transport (the "
                    "publisher serializing 4.5 MB, rospy's receiving thread reading it)."]  # fmt: skip
            if any(k.startswith("second look") for k in b["worker_steps_ms"]):
                out += ["", "A frame on which the first look decides nothing (no light in view, or a light too far "
                        "for it) also pays the second look and the lamp proposals (docs/node.md steps 5 and 6): the "
                        "last row is such a frame's whole model time, and `node (no light)` above its latency in the "
                        "node."]  # fmt: skip
    else:  # the earlier layout: the node against bare inference only
        rows = [[f"{r['rate_hz']:g} Hz", r["frames_sent"], r["states_received"], r["frames_dropped"], _ms(r["latency_median_ms"]),
                 _ms(r["latency_p99_ms"]), f"{r['ratio_median_to_bare']:.2f}x", f"{r['p99_in_inference_periods']:.2f}"]
                for r in b["runs"]]  # fmt: skip
        out += table(["rate", "sent", "states", "dropped", "median", "p99", "median / bare", "p99 / bare inference"], rows)
    return [*out, ""]


def soak(b: dict) -> list[str]:
    s = b["summary"]
    rows = [[m["minute"], m["frames_sent"], m["states_received"], m["frames_dropped_by_node"], _ms(m["latency_median_ms"]),
             _ms(m["latency_p99_ms"]), f"{m['rss_mb']:.0f} MB", f"{100 * m['cpu_share']:.0f} %"]
            for m in b["per_minute"]]  # fmt: skip
    checks = ", ".join(f"{k.replace('_', ' ')}: {'yes' if v else '**no**'}" for k, v in s["checks"].items())
    return [
        f"Measured {b['date']} on {b['machine']}; model `{b['model']}`; {b['rate_hz']:g} Hz of {b['frames']} for "
        f"{s['minutes']} minutes.",
        "",
        f"{s['frames_sent']} frames sent, {s['states_received']} states received, {s['frames_dropped_by_node']} dropped by "
        f"the node (newest-frame-only). Latency median {s['latency_median_first_minute_ms']:.1f} ms in the first minute, "
        f"{s['latency_median_last_minute_ms']:.1f} ms in the last ({100 * s['latency_change']:+.1f} %; goal within 10 %). "
        f"RSS {s['rss_first_mb']:.0f} MB over the first {s['rss_window_minutes']} minutes, {s['rss_last_mb']:.0f} MB over "
        f"the last ({100 * s['rss_growth']:+.1f} %; goal under 5 %). The node used {100 * s['cpu_share_mean']:.0f} % of a "
        f"core on average. Checks: {checks}.",
        "",
        "![soak: latency and RSS per minute](../bench/results/soak.png)",
        "",
        "<details><summary>per minute</summary>",
        "",
        *table(["minute", "sent", "states", "dropped", "median", "p99", "node RSS", "node CPU"], rows),
        "",
        "</details>",
        "",
    ]


def extract(b: dict) -> list[str]:
    r = b["runs"]
    rows = [
        ["tutorial (roscore + rosbag play + image_saver)", f"{r['tutorial']['saved']} of {b['bag']['frames']}",
         f"{r['tutorial']['wall_s']:.1f} s", f"{r['tutorial']['frames_per_s']:.1f}"],
        ["bare loop (one process)", f"{r['bare_loop']['saved']} of {b['bag']['frames']}", f"{r['bare_loop']['wall_s']:.1f} s",
         f"{r['bare_loop']['frames_per_s']:.1f}"],
        ["`extract_images`", f"{r['extract_images']['saved']} of {b['bag']['frames']}", f"{r['extract_images']['wall_s']:.1f} s",
         f"{r['extract_images']['frames_per_s']:.1f}"],
    ]  # fmt: skip
    g = b["goals"]
    speed = f"{b['speedup_vs_tutorial']:.1f}x faster than the tutorial's pipeline (goal {g['speedup_vs_tutorial_min']:g}x)"
    ratio = (
        f"{b['fps_ratio_vs_bare_loop']:.2f}x the bare loop's frames per second over the whole command, "
        f"{b['fps_ratio_vs_bare_loop_without_startup']:.2f}x counted from opening the bag "
        f"(goal {g['fps_ratio_vs_bare_loop_min']:g}x)"
    )
    return [
        f"Measured {b['date']} on {b['machine']}; one bag of {b['bag']['frames']} frames ({b['bag']['source']}, "
        f"{b['bag']['rate_hz']:g} Hz, {b['bag']['duration_s']:g} s), JPEG quality 95 for all three.",
        "",
        *table(["pipeline", "frames saved", "wall time", "frames/s"], rows),
        "",
        f"`extract_images` is {speed}, and reaches {ratio}; the difference is Python's start-up and the imports of "
        "cv_bridge, rosbag and OpenCV.",
        "",
    ]


def tf_record(b: dict) -> list[str]:
    rows = []
    for kind, r in b["runs"].items():
        rows.append([
            f"{r['images']:,} {kind.upper()}", f"{r['bare_loop_s']:.2f} s ({r['bare_loop_images_per_s']:.0f} img/s)",
            f"{r['create_tf_record_own_s']:.2f} s ({r['create_tf_record_images_per_s']:.0f} img/s)",
            f"{r['slowdown_vs_bare_own']:.2f}x", f"{r['create_tf_record_wall_s']:.1f} s", f"{r['record_to_input_size']:.3f}",
        ])  # fmt: skip
    goal = f"own / bare (goal <= {b['goals']['jpeg_slowdown_vs_bare_max']} for JPEG)"
    return [
        f"Measured {b['date']} on {b['machine']}; {b['frames']}, with a labelImg XML each and the label map given. "
        "Anchor: a bare loop that only reads each file's bytes and writes them into a record. Medians of alternating "
        "runs with the page cache flushed before each; `create_tf_record`'s own time counts from after TensorFlow's import.",
        "",
        *table(["input", "bare loop", "create_tf_record", goal, "with start-up", "record / input size"], rows),
        "",
        "PNG input is re-encoded as JPEG (decoding and encoding a 1368x1096 frame take about 35 ms of CPU).",
        "",
    ]


def classify_bag(b: dict) -> list[str]:
    names = {"car_every_frame": "car bag, every frame (`--labels`)", "car_video": "car bag, every frame, `--video`",
             "car_realtime": "car bag, real time (`--realtime`)", "demo_every_frame": "demo bag, every frame"}  # fmt: skip
    rows = [
        [names.get(k, k), r["frames"], f"{r['bag_seconds']:.1f} s", f"{r['wall_seconds']:.1f} s", f"{r['x_real_time']:.1f}x",
         f"**{r['x_real_time_from_first_frame']:.1f}x**", r["dropped"], _ms(r["model_ms_median"])]
        for k, r in b["results"].items()
    ]  # fmt: skip
    return [
        f"Measured {b['created']} on {b['machine']}; car bag: {b['car_bag']}; demo bag: {b['demo_bag']}. "
        "Anchor: real time, the bag's own duration. The first ratio counts the whole command (Python and TensorFlow "
        "start-up and the model's loading: about 3 s, whatever the bag's length), the second classify_bag's own run "
        "from its first frame, which is what a longer recording approaches.",
        "",
        *table(
            [
                "run",
                "frames",
                "bag time",
                "wall time",
                "x real time",
                "x real time from the first frame",
                "dropped",
                "model ms median",
            ],
            rows,
        ),
        "",
        *_replay_score(b["results"].get("car_every_frame", {}).get("score")),
    ]


def _replay_score(s: dict | None) -> list[str]:
    if not s:
        return []
    return [
        f"Against the frames' labels, the published state was right {100 * s['accuracy']:.1f} % of the time; RED was "
        f"published {s['red_delay_mean']:.2f} s after a labelled RED began on average (worst {s['red_delay_max']:.2f} s, "
        f"{s['red_missed']} of {len(s['red_delays'])} RED stretches never published); GREEN was published for "
        f"{s['false_green_s']:.2f} s while the light was not green; {s['flicker']} flicker(s). (The labelled frames "
        "are in the order of the dataset's YAML, cycled: the state changes more often than on a drive.)",
        "",
    ]


SECTIONS = [
    ("node_latency", "`bench/node_latency`: the node against bare inference and bare ROS transport", node_latency,
     "The real car's 1368x1096 frames, a real roscore and the node; latency = state received - the frame's stamp. "
     "Publishers: rospy in the benchmark's process, and `rosbag play` (C++), as a camera driver would publish."),
    ("node_latency_colour_baseline", "`bench/node_latency` with a slower model (the colour baseline)", node_latency,
     "The same benchmark, earlier layout, with a model slower than the camera: frames are dropped, never queued."),
    ("soak", "`bench/soak`: 30 minutes at 30 Hz", soak,
     "The node under a 30 Hz stream of the car's real 1368x1096 frames with a real roscore; per minute: frames, "
     "states, drops, latency, the node's RSS and CPU. Anchor: the run's own first minutes."),
    ("extract", "`bench/extract`: extract_images against the tutorial's pipeline", extract,
     "The tutorial's pipeline (roscore + Debian's `image_saver` + `rosbag play` once), a bare single-process loop "
     "(rosbag → cv_bridge → `cv2.imwrite`), and `extract_images`, in one run."),
    ("tf_record", "`bench/tf_record`: create_tf_record against a bare loop", tf_record, ""),
    ("classify_bag", "`bench/classify_bag_speed`: classify_bag against real time", classify_bag,
     "The default model through `classify_bag` on real car frames and on the demo bag: how much faster than the "
     "recording it runs (every frame; the issue's goal: at least 5x on two CPU cores), and how many frames the node "
     "would drop here in real time."),
]  # fmt: skip


def build() -> str:
    out = [
        "# Benchmarks",
        "",
        "<!-- Written by `make benchmarks` (tl_classifier.commands.build_benchmarks) from bench/results/*.json; "
        "do not edit by hand. -->",
        "",
        "Speed is measured here, never in tests: each benchmark runs its anchor and this package's code in one run and "
        "writes its figures to `bench/results/NAME.json`. Rerun one with `./env.sh bench/NAME`, then `make benchmarks` "
        "(and `make report`, which quotes node_latency). Figures from different machines are not comparable; each "
        "section names its machine. No GPU figure exists yet. The one GPU machine lent to this project's work so far (an "
        "NVIDIA H200, 2026-11-27) could not run this package's TensorFlow: its image holds none, nothing can be "
        "installed there from a package index, and TensorFlow with its CUDA libraries (the CPU-only wheel alone is "
        "261 MiB) is far over the 64 MiB that can be carried to it.",
        "",
    ]
    for name, title, render, intro in SECTIONS:
        b = _load(name)
        if b is None:
            continue
        out += [f"## {title}", ""]
        if intro:
            out += [intro, ""]
        out += render(b)
    return "\n".join(out).rstrip() + "\n"
