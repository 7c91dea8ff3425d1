"""classify_bag: the node's per-frame pipeline and temporal filter over a real bag, offline; and the live node
under rostest, fed the same bag by rosbag play, publishing the same states frame for frame."""

from __future__ import annotations

import csv
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tl_classifier.params import NodeParams
from tl_classifier.ros.bags import write_bag
from tl_classifier.ros.replay import ReplayOptions, classify_bag, read_labels, score_states
from tl_classifier.states import State
from tl_classifier.testing.realdata import sim_frames

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
MODEL = str(ROOT / "models/default")
#: the scripted drive: GREEN, YELLOW, RED, a few frames without a light, RED again, GREEN (6 frames each)
SCRIPT = [("green", 6), ("yellow", 6), ("red", 6), ("unknown", 4), ("red", 6), ("green", 6)]
RATE = 2.0
START = 1_600_000_000.0


def _script_frames() -> tuple[list[np.ndarray], list[str]]:
    frames = sim_frames()
    out, states, used = [], [], dict.fromkeys(frames, 0)
    for colour, n in SCRIPT:
        for _ in range(n):
            pool = frames[colour]
            out.append(pool[used[colour] % len(pool)])
            used[colour] += 1
            states.append(colour)
    return out, states


@pytest.fixture(scope="module")
def bags(tmp_path_factory: pytest.TempPathFactory, realdata: Path) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("replay_bags")
    frames, _ = _script_frames()
    write_bag(out / "raw.bag", frames, "/image_color", "bgr8", RATE, start=START)
    write_bag(out / "compressed.bag", frames, "/image_color/compressed", "jpeg", RATE, start=START)
    with open(out / "labels.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["start", "end", "state"])
        t = START
        for colour, n in SCRIPT:
            w.writerow([f"{t:.3f}", f"{t + (n - 1) / RATE:.3f}", colour])
            t += n / RATE
    return {"raw": out / "raw.bag", "compressed": out / "compressed.bag", "labels": out / "labels.csv"}


def _options(bag: Path, out: Path, **kw) -> ReplayOptions:
    return ReplayOptions([bag], out, NodeParams(model=MODEL), progress=False, **kw)


@pytest.fixture(scope="module")
def replayed(bags, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("replay") / "raw"
    return classify_bag(_options(bags["raw"], out, labels=bags["labels"], video=True))


def test_every_output_is_written(replayed):
    out = replayed.out
    for name in ("states.csv", "states.bag", "timeline.png", "overlay.mp4", "score.json"):
        assert (out / name).stat().st_size > 0, name
    rows = list(csv.DictReader((out / "states.csv").open()))
    assert len(rows) == sum(n for _, n in SCRIPT) and set(rows[0]) >= {"stamp", "raw_state", "state", "inference_ms"}
    import rosbag

    with rosbag.Bag(str(out / "states.bag")) as bag:
        msgs = list(bag.read_messages(topics=["/traffic_light_state"]))
    assert len(msgs) == len(rows)
    assert [round(m.message.header.stamp.to_sec(), 3) for m in msgs] == [round(float(r["stamp"]), 3) for r in rows]
    assert all(m.timestamp == m.message.header.stamp for m in msgs)  # at their stamps: rqt_bag shows them in place


def test_the_published_sequence_follows_the_drive(replayed):
    """The default model on real simulator frames: each scripted state is published, in order, promptly."""
    published = [c["to"] for c in replayed.changes]
    assert published == ["GREEN", "YELLOW", "RED", "GREEN"], replayed.changes  # the 4 frames without a light hold RED
    red = [c for c in replayed.changes if c["to"] == "RED"]
    assert red[0]["delay"] == 0.0  # RED after one frame (red_count_threshold 1)
    score = json.loads((replayed.out / "score.json").read_text())
    assert score["red_missed"] == 0 and score["flicker"] == 0 and score["false_green_s"] <= 1 / RATE * 3
    assert score["red_delays"][0] == 0.0


def test_compressed_frames_give_the_same_states(bags, replayed, tmp_path: Path):
    again = classify_bag(_options(bags["compressed"], tmp_path / "c"))
    assert [f.state for f in again.frames] == [f.state for f in replayed.frames]


def test_realtime_mode_drops_what_the_node_would_drop(tmp_path: Path, realdata: Path):
    """At 10 kHz no machine keeps up: most frames wait and are replaced, as in the node; none is both."""
    frames, _ = _script_frames()
    bag = tmp_path / "fast.bag"
    write_bag(bag, frames, "/image_color", "rgb8", 10_000.0, start=START)
    result = classify_bag(_options(bag, tmp_path / "rt", realtime=True))
    dropped = [f for f in result.frames if f.dropped]
    done = [f for f in result.frames if f.raw is not None]
    assert dropped and done and len(dropped) + len(done) == len(result.frames)
    assert all(f.state is None for f in dropped)
    assert result.frames[0].raw is not None and result.frames[-1].raw is not None  # the first and the newest


def test_the_live_node_publishes_the_same_states(bags, replayed):
    """classify.launch under rostest, fed the same bag by rosbag play: the same raw and published state per frame."""
    done = subprocess.run(
        ["rostest", str(ROOT / "test/replay/node.test"), f"bag:={bags['raw']}", f"csv:={replayed.out / 'states.csv'}",
         "--text"],
        capture_output=True, text=True, timeout=400,
    )  # fmt: skip
    assert done.returncode == 0 and "* RESULT: SUCCESS" in done.stdout, done.stdout[-3000:]


def test_labels_and_scores(tmp_path: Path):
    labels = tmp_path / "l.csv"
    labels.write_text("start,end,state\n0,1.9,green\n2,3.9,red\n")
    ranges = read_labels(labels)
    assert ranges == [(0.0, 1.9, State.GREEN), (2.0, 3.9, State.RED)]
    from tl_classifier.ros.replay import FrameState

    seq = [State.GREEN] * 4 + [State.GREEN, State.RED, State.RED, State.RED]
    records = [FrameState(0.5 * i, 0.5 * i, s, s) for i, s in enumerate(seq)]
    score = score_states(records, ranges)
    assert score["red_delays"] == [0.5] and score["false_green_s"] == 0.5 and score["flicker"] == 0
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("file,stamp,state\na.jpg,1.0,red\nb.jpg,2.0,green\n")
    assert [s for _, _, s in read_labels(manifest)] == [State.RED, State.GREEN]


def _one_line_error(args: list[str]) -> str:
    done = subprocess.run([str(ROOT / "scripts/classify_bag"), *args, "--no_progress"], capture_output=True, text=True)
    assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
    return done.stderr


def test_bad_inputs(bags, tmp_path: Path):
    assert "no such file" in _one_line_error([str(tmp_path / "missing.bag"), "-o", str(tmp_path / "a")])
    junk = tmp_path / "junk.bag"
    junk.write_bytes(b"not a bag at all")
    assert "not a ROS bag" in _one_line_error([str(junk), "-o", str(tmp_path / "a")])
    err = _one_line_error([str(bags["raw"]), "--topic", "/image_raw", "-o", str(tmp_path / "a")])
    assert "has no topic /image_raw" in err
    bad = tmp_path / "bad.csv"
    bad.write_text("when,what\n1,2\n")
    assert "columns" in _one_line_error([str(bags["raw"]), "--labels", str(bad), "-o", str(tmp_path / "a")])
    (tmp_path / "exists").mkdir()
    assert "exists already" in _one_line_error([str(bags["raw"]), "-o", str(tmp_path / "exists")])
    assert not (tmp_path / "a").exists() and not list((tmp_path / "exists").iterdir())


def test_a_ros2_bag_gives_the_same_states(replayed, tmp_path: Path):
    """The scripted drive in a ROS 2 bag (written with the rosbags library, CDR, bgr8): the same states, no roscore."""
    from rosbags.rosbag2 import Writer
    from rosbags.typesys import Stores, get_typestore

    ts = get_typestore(Stores.LATEST)
    image, header, stamp = (ts.types[n] for n in ("sensor_msgs/msg/Image", "std_msgs/msg/Header", "builtin_interfaces/msg/Time"))
    frames, _ = _script_frames()
    path = tmp_path / "ros2bag"
    with Writer(path, version=9) as w:
        conn = w.add_connection("/image_color", image.__msgtype__, typestore=ts)
        for i, rgb in enumerate(frames):
            ns = int(START * 1e9) + int(i * 1e9 / RATE)
            bgr = np.ascontiguousarray(rgb[..., ::-1])
            h, wd = bgr.shape[:2]
            msg = image(header(stamp(ns // 10**9, ns % 10**9), "camera"), h, wd, "bgr8", 0, 3 * wd, bgr.reshape(-1))
            w.write(conn, ns, ts.serialize_cdr(msg, image.__msgtype__))
    again = classify_bag(_options(path, tmp_path / "r2"))
    assert [f.state for f in again.frames] == [f.state for f in replayed.frames]
    assert [round(f.stamp, 3) for f in again.frames] == [round(f.stamp, 3) for f in replayed.frames]
