"""extract_images on real bags written with the rosbag API (real and synthetic frames), and on bad input."""

from __future__ import annotations

import csv
import os
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest
import rosbag
import rospy
from std_msgs.msg import String

from tl_classifier.commands.extract_images import main as extract
from tl_classifier.data.images import Sampler, Sampling, write_image
from tl_classifier.ros.bags import write_bag
from tl_classifier.ros.convert import rgb_to_image
from tl_classifier.testing.realdata import read_rgb, site_frames

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = str(ROOT / "scripts" / "extract_images")


@pytest.fixture(scope="module")
def sim(frames) -> list[np.ndarray]:
    return [frames["red"][0], frames["green"][0], frames["yellow"][0], frames["red"][1], frames["green"][1], frames["unknown"][0]]


def run(*args: str | os.PathLike) -> int:
    return extract([str(a) for a in args] + ["--no-progress"])


def manifest(out: Path) -> list[dict[str, str]]:
    with (out / "manifest.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def images(out: Path, topic_dir: str) -> list[Path]:
    return sorted((out / topic_dir).iterdir())


@pytest.mark.parametrize("encoding", ["rgb8", "bgr8", "rgba8", "bgra8", "png"])
def test_lossless_encodings_to_png_are_exact(tmp_path: Path, sim, encoding: str):
    bag = tmp_path / "b.bag"
    write_bag(bag, sim, "/image_color", encoding)
    assert run(bag, "-o", tmp_path / "out", "--format", "png") == 0
    files = images(tmp_path / "out", "image_color")
    assert len(files) == len(sim)
    for f, rgb in zip(files, sim, strict=True):
        np.testing.assert_array_equal(read_rgb(f), rgb)


@pytest.mark.parametrize(
    "encoding", ["rgb8", "bgr8", "bayer_rggb8", "bayer_bggr8", "bayer_gbrg8", "bayer_grbg8", "jpeg", "mono8"]
)
def test_jpeg_output_keeps_colours(tmp_path: Path, sim, encoding: str):
    bag = tmp_path / "b.bag"
    write_bag(bag, sim[:2], "/image_color", encoding)
    assert run(bag, "-o", tmp_path / "out") == 0
    red = read_rgb(images(tmp_path / "out", "image_color")[0])
    src = sim[0]
    assert red.shape == src.shape
    lamp = (src[..., 0] > 200) & (src[..., 1] < 80) & (src[..., 2] < 80)
    assert lamp.sum() > 50
    if encoding == "mono8":
        assert np.abs(red[..., 0].astype(int) - red[..., 2].astype(int)).max() <= 3  # grey stays grey
    else:
        assert np.abs(red.astype(int) - src.astype(int)).mean() < 12
        assert red[lamp][:, 0].mean() > 2.5 * red[lamp][:, 2].mean(), "red lamps must stay red (no RGB/BGR swap)"


def test_car_frames_names_manifest_and_sorting(tmp_path: Path):
    car = site_frames()[:5]
    bag = tmp_path / "car.bag"
    write_bag(bag, car, "/image_raw", "rgb8", rate_hz=10.0, start=1_500_000_000.25)
    out = tmp_path / "out"
    assert run(bag, "-o", out) == 0
    files = images(out, "image_raw")
    assert [f.name for f in files] == [
        "1500000000.250000000.jpg", "1500000000.350000000.jpg", "1500000000.450000000.jpg",
        "1500000000.550000000.jpg", "1500000000.650000000.jpg",
    ]  # fmt: skip
    rows = manifest(out)
    assert [r["file"] for r in rows] == [f"image_raw/{f.name}" for f in files]
    assert {(r["topic"], r["encoding"], r["width"], r["height"], r["bag"]) for r in rows} == {
        ("/image_raw", "rgb8", "1368", "1096", str(bag))
    }
    assert rows[2]["stamp"] == "1500000000.450000000"
    for f, rgb in zip(files, car, strict=True):
        assert np.abs(read_rgb(f).astype(int) - rgb.astype(int)).mean() < 3


def test_sampling_by_bag_time_count_and_window(tmp_path: Path, sim):
    frames = [sim[i % len(sim)] for i in range(30)]  # 3 s at 10 Hz
    bag = tmp_path / "b.bag"
    write_bag(bag, frames, "/image_color", "rgb8", rate_hz=10.0)
    cases = {("--every", "0.5"): 6, ("--every-n", "4"): 8, ("--start", "1.0", "--end", "1.95"): 10}
    for args, expected in cases.items():
        out = tmp_path / "_".join(args)
        assert run(bag, "-o", out, *args) == 0
        assert len(manifest(out)) == expected, args
    stamps = [float(r["stamp"]) for r in manifest(tmp_path / "--every_0.5")]
    assert np.allclose(np.diff(stamps), 0.5)


def test_sampler_rules():
    s = Sampler(Sampling(every=0.25))
    assert [s.keep(t / 10) for t in range(6)] == [True, False, False, True, False, False]
    with pytest.raises(Exception, match="--end"):
        Sampling(start=2.0, end=1.0)


def test_resume_and_overwrite(tmp_path: Path, sim):
    bag = tmp_path / "b.bag"
    write_bag(bag, sim, "/image_color", "rgb8", rate_hz=10.0)
    out = tmp_path / "out"
    assert run(bag, "-o", out, "--end", "0.25") == 0  # an earlier run that stopped after 3 frames
    first = images(out, "image_color")
    assert len(first) == 3
    mtimes = {f: f.stat().st_mtime_ns for f in first}
    assert run(bag, "-o", out) == 0
    assert len(images(out, "image_color")) == 6 and len(manifest(out)) == 6
    assert all(f.stat().st_mtime_ns == t for f, t in mtimes.items()), "existing images were rewritten"
    assert run(bag, "-o", out, "--overwrite") == 0
    assert any(f.stat().st_mtime_ns != t for f, t in mtimes.items())
    assert not list(out.rglob("*.part"))


def test_interrupted_write_leaves_nothing(tmp_path: Path, sim, monkeypatch):
    def interrupted(*_args):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_image(tmp_path / "a.jpg", sim[0])
    assert list(tmp_path.iterdir()) == []


def test_several_topics_and_duplicate_stamps(tmp_path: Path, sim):
    bag = tmp_path / "b.bag"
    with rosbag.Bag(str(bag), "w") as b:
        for i, rgb in enumerate(sim[:3]):
            for topic in ("/image_color", "/camera/image_raw"):
                msg = rgb_to_image(rgb, "bgr8")
                msg.header.stamp = rospy.Time(100, 0)  # a driver that stamps every frame alike
                b.write(topic, msg, rospy.Time(100 + i))
    out = tmp_path / "out"
    assert run(bag, "-o", out) == 0
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["camera_image_raw", "image_color"]
    assert [p.name for p in images(out, "image_color")] == [
        "0000000100.000000000.jpg", "0000000100.000000000_1.jpg", "0000000100.000000000_2.jpg",
    ]  # fmt: skip
    assert run(bag, "-o", tmp_path / "one", "--topic", "/image_color") == 0
    assert [p.name for p in (tmp_path / "one").iterdir() if p.is_dir()] == ["image_color"]


def test_ros2_bag(tmp_path: Path, sim):
    from rosbags.rosbag2 import Writer
    from rosbags.typesys import Stores, get_typestore

    ts = get_typestore(Stores.LATEST)
    Image, Header, Time = (
        ts.types["sensor_msgs/msg/Image"],
        ts.types["std_msgs/msg/Header"],
        ts.types["builtin_interfaces/msg/Time"],
    )
    path = tmp_path / "ros2bag"
    with Writer(path, version=9) as w:
        conn = w.add_connection("/image_color", Image.__msgtype__, typestore=ts)
        for i, rgb in enumerate(sim[:3]):
            bgr = np.ascontiguousarray(rgb[..., ::-1])
            msg = Image(Header(Time(200 + i, 5), "cam"), 600, 800, "bgr8", 0, 2400, bgr.reshape(-1))
            w.write(conn, (200 + i) * 10**9, ts.serialize_cdr(msg, Image.__msgtype__))
    out = tmp_path / "out"
    assert run(path, "-o", out, "--format", "png") == 0
    files = images(out, "image_color")
    assert [f.name for f in files] == [f"0000000{200 + i}.000000005.png" for i in range(3)]
    for f, rgb in zip(files, sim, strict=False):
        np.testing.assert_array_equal(read_rgb(f), rgb)


def cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([SCRIPT, *map(str, args), "--no-progress"], capture_output=True, text=True, timeout=120)


def error_lines(done: subprocess.CompletedProcess) -> list[str]:
    return [line for line in (done.stdout + done.stderr).splitlines() if "error:" in line or "warning:" in line]


def test_missing_and_not_a_bag(tmp_path: Path, realdata: Path):
    done = cli(tmp_path / "nope.bag", "-o", tmp_path / "o")
    assert done.returncode == 1 and error_lines(done) == [
        f"extract_images: error: {tmp_path / 'nope.bag'}: no such file or folder"
    ]
    jpg = realdata / "bstld/images/dataset_sample.jpg"
    done = cli(jpg, "-o", tmp_path / "o")
    assert done.returncode == 1 and len(error_lines(done)) == 1 and "JPEG image" in done.stdout
    text = tmp_path / "notes.bag"
    text.write_text("not a bag at all\n")
    done = cli(text, "-o", tmp_path / "o")
    assert done.returncode == 1 and "#ROSBAG V2.0" in error_lines(done)[0]


def test_truncated_bag_extracts_what_is_readable(tmp_path: Path):
    car = site_frames()
    bag = tmp_path / "full.bag"
    write_bag(bag, [car[i % len(car)] for i in range(20)], "/image_raw", "rgb8")
    data = bag.read_bytes()
    cut = tmp_path / "cut.bag"
    cut.write_bytes(data[: int(len(data) * 0.55)])
    cut.chmod(0o444)  # the recovery must not write to the user's bag
    done = cli(cut, "-o", tmp_path / "o")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = error_lines(done)
    assert len(lines) == 1 and "warning:" in lines[0] and "cut off" in lines[0] and "lost" in lines[0]
    rows = list(csv.DictReader((tmp_path / "o/manifest.csv").open()))
    assert 5 <= len(rows) < 20
    assert cut.read_bytes() == data[: int(len(data) * 0.55)]
    first = cv2.imread(str(tmp_path / "o" / rows[0]["file"]))
    assert first is not None and first.shape == (1096, 1368, 3)


def test_no_image_topic_and_unsupported_encoding(tmp_path: Path, sim):
    bag = tmp_path / "strings.bag"
    with rosbag.Bag(str(bag), "w") as b:
        b.write("/chatter", String(data="hi"), rospy.Time(1))
    done = cli(bag, "-o", tmp_path / "o")
    assert done.returncode == 1 and len(error_lines(done)) == 1
    assert "has no image topic" in done.stdout and "/chatter (std_msgs/String)" in done.stdout

    depth = tmp_path / "depth.bag"
    with rosbag.Bag(str(depth), "w") as b:
        for i in range(3):
            msg = rgb_to_image(sim[0], "rgb8")
            msg.encoding, msg.step = "16UC1", msg.width * 2
            msg.data = msg.data[: msg.step * msg.height]
            msg.header.stamp = rospy.Time(1 + i)
            b.write("/depth", msg, rospy.Time(1 + i))
    done = cli(depth, "-o", tmp_path / "d")
    assert done.returncode == 1
    lines = error_lines(done)
    assert len(lines) == 1 and "unsupported image encoding '16UC1'" in lines[0]
    assert "failed 3" in done.stdout

    done = cli(depth, "-o", tmp_path / "d", "--topic", "/nothing")
    assert done.returncode == 1 and "has no topic /nothing" in error_lines(done)[0]
