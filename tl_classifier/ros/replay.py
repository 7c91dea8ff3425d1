"""``classify_bag``: what the node would have published on a recording, offline, in bag time, without a roscore.

Every frame goes through the node's own per-frame pipeline (:func:`tl_classifier.ros.convert.image_to_rgb`, then
:class:`tl_classifier.model.classify.FrameClassifier` built by the same ``from_params`` with the same temporal
filter), so the states are the node's.  Two modes:

* every frame (the default): the model's answer on each frame, as the node gives it when it keeps up;
* real time (``realtime``): frames arrive at their recorded times, and the time each frame really took here
  (decoding and inference) decides which frames the node would have dropped: like the node, a frame that arrives
  while one is being classified waits, and only the newest waiting frame is kept.

Writes, into a new folder (all at once: a failed run leaves nothing): ``states.csv``, ``states.bag`` (the
``TrafficLightState`` messages on ``/traffic_light_state`` at their frames' stamps), ``timeline.png`` and, with
``video``, ``overlay.mp4`` (the node's debug image); with labels, ``score.json``.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from tl_classifier.errors import ImageError, ParameterError, TLClassifierError
from tl_classifier.files import atomic_output
from tl_classifier.model.classify import FrameClassifier, FrameFailed
from tl_classifier.parallel import ordered_map
from tl_classifier.params import NodeParams
from tl_classifier.ros.bags import COMPRESSED, IMAGE, BagError, RawFrame, decode, open_bag, pick_topics
from tl_classifier.states import State

CSV_FIELDS = ("stamp", "bag_time", "raw_state", "state", "confidence", "lights", "inference_ms", "dropped")


@dataclass(frozen=True)
class ReplayOptions:
    """What :func:`classify_bag` reads, how the node is set up, and where the results go."""

    bags: Sequence[Path]
    out: Path
    params: NodeParams  #: the node's parameters (model, thresholds, temporal filter), as classify.launch sets them
    topic: str | None = None  #: the camera topic (default: the bag's only image topic)
    realtime: bool = False  #: drop the frames the node would have dropped on this machine
    video: bool = False  #: write overlay.mp4
    labels: Path | None = None  #: CSV of stamp ranges (start,end,state) or an extract_images manifest with a state
    overwrite: bool = False
    progress: bool = True


@dataclass
class FrameState:
    """One frame of the recording and what the node did with it."""

    stamp: float  #: header stamp (the bag time if the header has none)
    bag_time: float
    raw: State | None = None  #: the frame's own state; None if dropped or failed
    state: State | None = None  #: the published state after it; None if nothing was published for it
    confidence: float = 0.0
    lights: int = 0
    inference_ms: float = 0.0
    dropped: bool = False
    failed: str = ""


@dataclass
class ReplayResult:
    out: Path
    frames: list[FrameState]
    seconds: float  #: wall time of the run
    duration: float  #: the recording's span in bag time
    changes: list[dict[str, Any]]  #: each published change: to, at (s), delay (s) after the raw state first showed it
    score: dict[str, Any] | None = None
    published: dict[str, int] = field(default_factory=dict)
    video: bool = False

    def lines(self) -> list[str]:
        done = [f for f in self.frames if f.raw is not None]
        speed = self.duration / max(self.seconds, 1e-9)
        out = [
            f"{len(self.frames)} frames over {self.duration:.1f} s of bag time, classified {len(done)}, "
            f"dropped {sum(f.dropped for f in self.frames)}, failed {sum(bool(f.failed) for f in self.frames)}; "
            f"{self.seconds:.1f} s here ({speed:.1f}x real time)",
            "published: " + (", ".join(f"{k} {v}" for k, v in self.published.items()) or "nothing"),
        ]
        for c in self.changes:
            out.append(f"  {c['at']:8.2f} s -> {c['to']:<7} {1e3 * c['delay']:6.0f} ms after the first {c['to']} frame")
        if self.score:
            s = self.score
            out.append(
                f"against the labels: published state right {100 * s['accuracy']:.1f} % of the time, "
                f"RED detection delay {s['red_delay_mean']:.2f} s (worst {s['red_delay_max']:.2f} s), "
                f"false GREEN {s['false_green_s']:.2f} s, {s['flicker']} flicker(s)"
            )
        out.append(f"written: {self.out / 'states.csv'}, states.bag, timeline.png" + (", overlay.mp4" if self.video else ""))
        out.append(f"timeline: {self.out / 'timeline.png'}")
        return out


def _camera_topic(bag: Any, topic: str | None) -> tuple[str, int]:
    """The camera topic of a bag (``topic``, or its only image topic) and its number of frames.

    :raises BagError: no such topic, not an image topic, no image topic, or several and none chosen.
    """
    images = sorted(t for t, (ty, _) in bag.topics.items() if ty in (IMAGE, COMPRESSED))
    if topic is None and len(images) > 1:
        raise BagError(f"has several image topics ({', '.join(images)}): choose one with --topic", bag.path)
    chosen = pick_topics(bag, [topic] if topic else [])[0]
    return chosen, bag.topics[chosen][1]


def _frames(options: ReplayOptions) -> Iterator[RawFrame]:
    for path in options.bags:
        bag = open_bag(path)
        try:
            yield from bag.frames([_camera_topic(bag, options.topic)[0]])
        finally:
            bag.close()


def classify_bag(options: ReplayOptions) -> ReplayResult:
    """What the node would have published on the bags' camera frames (see the module's docstring).

    :raises TLClassifierError: a bag, model or label file that cannot be read; an existing ``out``.
    """
    from tqdm import tqdm

    from tl_classifier.model.load import load_model
    from tl_classifier.ros.convert import image_to_rgb
    from tl_classifier.tf_setup import configure_devices

    labels = read_labels(options.labels) if options.labels else None
    counts = 0
    for path in options.bags:  # every bag is opened (and its topic checked) before the model loads
        bag = open_bag(path)
        try:
            counts += _camera_topic(bag, options.topic)[1]
        finally:
            bag.close()
    device = configure_devices(options.params.device, options.params.gpu_memory_limit)
    model = load_model(options.params.model, options.params.label_map or None, device=device)
    started = time.monotonic()
    records: list[FrameState] = []
    results: list[tuple[FrameState, Any]] = []
    classifier: FrameClassifier | None = None
    writer = None

    def prepare(frame: RawFrame) -> tuple[FrameState, Any]:
        """Deserialize and convert one frame to RGB, as the node does before its model."""
        msg = decode(frame)
        rec = FrameState(frame.stamp_seconds(), frame.time)
        try:
            return rec, image_to_rgb(msg)
        except ImageError as err:
            return rec, err

    def run(rec: FrameState, rgb: Any, tmp: Path) -> None:
        """Classify one frame as the node would, with the node's classifier (built at the first frame's size)."""
        nonlocal classifier, writer
        if isinstance(rgb, Exception):
            rec.failed = str(rgb)
            return
        if classifier is None:  # the node warms up at the camera's size before its first frame
            h, w = rgb.shape[:2]
            model.warm_up(w, h)
            classifier = FrameClassifier.from_params(model, replace(options.params, warmup_width=w, warmup_height=h))
        try:
            result, state = classifier.classify(rgb, rec.stamp)
        except FrameFailed as err:
            rec.failed = str(err)
            return
        rec.raw, rec.state = result.state, state
        rec.confidence, rec.lights = result.confidence, len(result.detections)
        rec.inference_ms = 1e3 * result.inference_time
        results.append((rec, result))
        if options.video:
            writer = _video_frame(writer, tmp / "overlay.mp4", rgb, result, state)

    with atomic_output(options.out, options.overwrite) as tmp:
        tmp.mkdir(parents=True)
        bar = tqdm(total=counts, unit="frame", desc="classify_bag", disable=not options.progress or None)
        if not options.realtime:
            # every frame: the next frames are decoded on a second thread while the model works
            with ThreadPoolExecutor(max_workers=1) as pool:
                for frame, got in ordered_map(pool, prepare, _frames(options), 4, ImageError):
                    bar.update()
                    if isinstance(got, BaseException):
                        records.append(FrameState(frame.time, frame.time, failed=str(got)))
                        continue
                    rec, rgb = got
                    records.append(rec)
                    run(rec, rgb, tmp)
        else:
            # real time: one worker, as in the node; it takes the newest waiting frame whenever it is free, and
            # is busy for as long as this machine really took (decoding, conversion and the model)
            busy_until = -1e18
            waiting: RawFrame | None = None  #: the newest frame that came while the worker was busy

            def work(frame: RawFrame, at: float) -> float:
                t0 = time.perf_counter()
                try:
                    rec, rgb = prepare(frame)
                except ImageError as err:
                    records.append(FrameState(frame.time, frame.time, failed=str(err)))
                    return at + (time.perf_counter() - t0)
                records.append(rec)
                run(rec, rgb, tmp)
                return at + (time.perf_counter() - t0)

            for frame in _frames(options):
                bar.update()
                if waiting is not None and busy_until <= frame.time:
                    busy_until = work(waiting, busy_until)
                    waiting = None
                if busy_until <= frame.time:
                    busy_until = work(frame, frame.time)
                else:
                    if waiting is not None:  # replaced by a newer frame before the worker was free
                        records.append(FrameState(waiting.stamp_seconds(), waiting.time, dropped=True))
                    waiting = frame
            if waiting is not None:
                work(waiting, max(busy_until, waiting.time))
            records.sort(key=lambda r: r.bag_time)
        bar.close()
        if not records:
            raise TLClassifierError("holds no camera frame on the chosen topic", options.bags[0])
        if writer is not None:
            writer[0].release()
        seconds = time.monotonic() - started
        duration = records[-1].bag_time - records[0].bag_time if len(records) > 1 else 0.0
        changes = published_changes(records)
        score = score_states(records, labels) if labels is not None else None
        _write_csv(tmp / "states.csv", records)
        _write_states_bag(tmp / "states.bag", results)
        timeline_png(records, tmp / "timeline.png", labels)
        if score is not None:
            (tmp / "score.json").write_text(json.dumps(score, indent=2) + "\n", encoding="utf-8")
    published: dict[str, int] = {}
    for r in records:
        if r.state is not None:
            published[r.state.name] = published.get(r.state.name, 0) + 1
    return ReplayResult(options.out, records, seconds, duration, changes, score, published, options.video)


def _video_frame(writer: Any, path: Path, rgb: np.ndarray, result: Any, state: State) -> Any:
    import cv2

    from tl_classifier.model.draw import draw_result

    picture = draw_result(rgb, result, state)
    size = (picture.shape[1], picture.shape[0])
    if writer is None:
        writer = (cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), 10.0, size), size)
    if size == writer[1]:  # a video has one frame size: frames of another size are left out of it
        writer[0].write(cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
    return writer


def _write_csv(path: Path, records: Sequence[FrameState]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as out:
        w = csv.writer(out)
        w.writerow(CSV_FIELDS)
        for r in records:
            w.writerow([
                f"{r.stamp:.9f}", f"{r.bag_time:.9f}", r.raw.name if r.raw is not None else "",
                r.state.name if r.state is not None else "", f"{r.confidence:.4f}", r.lights, f"{r.inference_ms:.2f}",
                int(r.dropped),
            ])  # fmt: skip


def _write_states_bag(path: Path, results: Sequence[tuple[FrameState, Any]]) -> None:
    import rosbag
    import rospy
    from std_msgs.msg import Header

    from tl_classifier.ros.node import result_to_msg

    with rosbag.Bag(str(path), "w") as bag:
        for seq, (rec, result) in enumerate(results):
            stamp = rospy.Time.from_sec(rec.stamp)
            msg = result_to_msg(result, rec.state if rec.state is not None else State.UNKNOWN, Header(seq=seq, stamp=stamp))
            bag.write("/traffic_light_state", msg, stamp)


def published_changes(records: Sequence[FrameState]) -> list[dict[str, Any]]:
    """Each change of the published state: to what, when (s from the start), and how long after the frames
    began to show it (the first frame of the run of raw states that led to it)."""
    out = []
    t0 = records[0].bag_time if records else 0.0
    last: State | None = None
    run_start: dict[State, float] = {}
    previous_raw: State | None = None
    for r in records:
        if r.raw is None:
            continue
        if r.raw != previous_raw:
            run_start = {r.raw: r.bag_time}
            previous_raw = r.raw
        if r.state is not None and r.state != (last if last is not None else State.UNKNOWN):
            began = run_start.get(r.state, r.bag_time)
            out.append({"to": r.state.name, "at": round(r.bag_time - t0, 4), "delay": round(r.bag_time - began, 4)})
        if r.state is not None:
            last = r.state
    return out


# --- labels and scores --------------------------------------------------------------------------


def read_labels(path: Path) -> list[tuple[float, float, State]]:
    """Labelled stamp ranges: a CSV of ``start,end,state``, or an ``extract_images`` manifest with a ``state`` column
    (each frame's stamp, until the next frame's).

    :raises TLClassifierError: naming the file and the line of the first problem.
    """
    from tl_classifier.states import state_from_label

    try:
        rows = list(csv.DictReader(path.open(encoding="utf-8")))
    except OSError as err:
        raise TLClassifierError(f"cannot read the labels ({err.strerror})", path) from err
    out: list[tuple[float, float, State]] = []
    try:
        if rows and {"start", "end", "state"} <= set(rows[0]):
            for r in rows:
                out.append((float(r["start"]), float(r["end"]), state_from_label(r["state"])))
        elif rows and {"stamp", "state"} <= set(rows[0]):
            stamps = sorted((float(r["stamp"]), state_from_label(r["state"])) for r in rows)
            for (t, s), nxt in zip(stamps, [*stamps[1:], None], strict=True):
                out.append((t, nxt[0] if nxt else t + 1e-6, s))
        else:
            raise TLClassifierError("has neither start,end,state nor stamp,state columns", path)
    except (ValueError, KeyError, TypeError) as err:
        raise TLClassifierError(f"line {len(out) + 2}: {err}", path) from err
    if not out:
        raise TLClassifierError("holds no labelled range", path)
    bad = [i for i, (a, b, _) in enumerate(out) if b < a]
    if bad:
        raise ParameterError(f"{path}: line {bad[0] + 2}: the range ends before it starts")
    return out


def label_at(labels: Sequence[tuple[float, float, State]], stamp: float) -> State | None:
    for start, end, state in labels:
        if start <= stamp <= end:
            return state
    return None


def score_states(records: Sequence[FrameState], labels: Sequence[tuple[float, float, State]]) -> dict[str, Any]:
    """The published sequence against the labels, over time (each published state holds until the next frame):
    the share of labelled time it was right, each labelled RED's detection delay, the time GREEN was published
    while the light was not green, and flicker (a published state that lasted a single frame)."""
    timed = [r for r in records if r.state is not None]
    right = total = false_green = 0.0
    for r, nxt in zip(timed, [*timed[1:], None], strict=True):
        span = (nxt.stamp - r.stamp) if nxt else 0.0
        truth = label_at(labels, r.stamp)
        if truth is None or span <= 0:
            continue
        total += span
        right += span if r.state == truth else 0.0
        false_green += span if r.state == State.GREEN and truth != State.GREEN else 0.0
    delays = []
    for start, end, state in labels:
        if state != State.RED:
            continue
        first = next((r.stamp for r in timed if start <= r.stamp <= end and r.state == State.RED), None)
        delays.append(round(first - start, 4) if first is not None else None)
    found = [d for d in delays if d is not None]
    flicker = sum(1 for a, b, c in zip(timed, timed[1:], timed[2:], strict=False) if a.state == c.state != b.state)
    return {
        "accuracy": right / total if total else 0.0,
        "labelled_seconds": round(total, 4),
        "red_delays": delays,
        "red_missed": sum(d is None for d in delays),
        "red_delay_mean": float(np.mean(found)) if found else 0.0,
        "red_delay_max": float(max(found)) if found else 0.0,
        "false_green_s": round(false_green, 4),
        "flicker": flicker,
    }


# --- the timeline -------------------------------------------------------------------------------

_COLOURS = {State.UNKNOWN: "#888888", State.RED: "#d62728", State.YELLOW: "#e6b800", State.GREEN: "#2ca02c",
            State.OFF: "#333333"}  # fmt: skip


def timeline_png(records: Sequence[FrameState], path: Path, labels: Sequence[tuple[float, float, State]] | None) -> None:
    """Raw and published state over bag time, the confidence, and the time each frame took."""
    from tl_classifier.model.draw import pyplot

    plt = pyplot()
    t0 = records[0].bag_time
    fig, (ax, conf, ms) = plt.subplots(3, 1, figsize=(10, 5.5), dpi=110, sharex=True,
                                        gridspec_kw={"height_ratios": [2, 1, 1]})  # fmt: skip
    order = [State.UNKNOWN, State.OFF, State.GREEN, State.YELLOW, State.RED]
    y = {s: i for i, s in enumerate(order)}
    done = [r for r in records if r.raw is not None]
    xs = [r.bag_time - t0 for r in done]
    raws = [r.raw for r in done if r.raw is not None]
    ax.scatter(xs, [y[r] + 0.15 for r in raws], c=[_COLOURS[r] for r in raws], s=10, label="frame (raw)")
    ax.step(xs, [y[r.state] - 0.15 if r.state is not None else np.nan for r in done], where="post", color="black",
            lw=1.5, label="published")  # fmt: skip
    if labels:
        for start, end, state in labels:
            ax.axvspan(start - records[0].stamp, end - records[0].stamp, color=_COLOURS[state], alpha=0.12, lw=0)
    dropped = [r.bag_time - t0 for r in records if r.dropped]
    if dropped:
        ax.scatter(dropped, [-0.6] * len(dropped), marker="|", color="#999999", label="dropped")
    ax.set_yticks(range(len(order)), [s.name for s in order])
    ax.set_ylim(-1, len(order) - 0.5)
    ax.legend(loc="upper right", fontsize=7, ncol=3)
    ax.grid(alpha=0.3)
    conf.plot(xs, [r.confidence for r in done], lw=1)
    conf.set_ylabel("confidence")
    conf.set_ylim(0, 1.05)
    conf.grid(alpha=0.3)
    ms.plot(xs, [r.inference_ms for r in done], lw=1)
    ms.set_ylabel("ms / frame")
    ms.set_xlabel("bag time (s)")
    ms.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
