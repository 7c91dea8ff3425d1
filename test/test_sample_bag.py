"""Synthetic frames and the demo's sample bag, written with the rosbag API and read back."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
import rosbag

from tl_classifier.data.synth import demo_sequence, render_frame
from tl_classifier.ros.bags import write_bag
from tl_classifier.ros.convert import image_to_rgb
from tl_classifier.states import State

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent


def test_rendered_states_are_detected(baseline_dir: Path):
    from tl_classifier.model.load import load_model

    model = load_model(baseline_dir)
    rng = np.random.default_rng(7)
    for size in ((800, 600), (1368, 1096)):
        for state in (State.RED, State.YELLOW, State.GREEN, State.OFF, State.UNKNOWN):
            rgb, lights = render_frame(state, *size, rng=rng)
            assert rgb.shape == (size[1], size[0], 3) and rgb.dtype == np.uint8
            assert len(lights) == (0 if state is State.UNKNOWN else 1)
            # the colour baseline cannot see an unlit light
            assert model.detect(rgb).state is (State.UNKNOWN if state is State.OFF else state)


def test_write_bag_every_encoding(tmp_path: Path):
    frames = [render_frame(s, 64, 48, np.random.default_rng(i))[0] for i, s in enumerate(demo_sequence(1))]
    for enc in ("rgb8", "bgr8", "mono8", "bayer_grbg8", "jpeg", "png"):
        path = tmp_path / f"{enc}.bag"
        assert write_bag(path, frames, "/image_raw", enc, rate_hz=5.0) == len(frames)
        with rosbag.Bag(str(path)) as bag:
            msgs = list(bag.read_messages())
        assert [m.topic for m in msgs] == ["/image_raw"] * len(frames)
        stamps = [m.message.header.stamp.to_sec() for m in msgs]
        assert np.allclose(np.diff(stamps), 0.2)
        decoded = image_to_rgb(msgs[1].message)
        if enc in ("rgb8", "bgr8", "png"):
            np.testing.assert_array_equal(decoded, frames[1])


def test_synthesize_bag_command(tmp_path: Path):
    out = tmp_path / "s.bag"
    cmd = [str(ROOT / "scripts" / "synthesize"), str(out), "--frames-per-state", "2", "--size", "80x64"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    with rosbag.Bag(str(out)) as bag:
        assert bag.get_message_count("/image_color") == 12
    again = subprocess.run(cmd, capture_output=True, text=True)
    assert again.returncode == 1
    assert again.stderr.count("\n") == 1 and str(out) in again.stderr and "--overwrite" in again.stderr


def test_synthesize_images_with_voc(tmp_path: Path, realdata: Path):
    from defusedxml import ElementTree

    out = tmp_path / "set"
    cmd = [str(ROOT / "scripts" / "synthesize"), str(out), "--count", "12", "--size", "1368x1096", "--lights", "3", "--voc"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    images = sorted(out.glob("*.jpg"))
    assert len(images) == 12 and len(list(out.glob("*.xml"))) == 12
    # the same layout and fields as labelImg's files in the real data
    real = ElementTree.parse(next((realdata / "ros-racers/tl_classification/data/images_sim").glob("*.xml.xml"))).getroot()
    names = {"Red", "Yellow", "Green", "off"}
    for img in images:
        root = ElementTree.parse(img.with_suffix(".xml")).getroot()
        assert [c.tag for c in root if c.tag != "object"] == [c.tag for c in real if c.tag != "object"]
        assert root.findtext("filename") == img.name
        assert (root.findtext("size/width"), root.findtext("size/height")) == ("1368", "1096")
        for obj in root.iter("object"):
            assert obj.findtext("name") in names
            box = [int(obj.findtext(f"bndbox/{k}")) for k in ("xmin", "ymin", "xmax", "ymax")]
            assert 0 <= box[0] < box[2] <= 1368 and 0 <= box[1] < box[3] <= 1096
    before = images[0].stat().st_mtime_ns
    again = subprocess.run(cmd, capture_output=True, text=True)
    assert again.returncode == 0 and "0 new images" in again.stdout
    assert images[0].stat().st_mtime_ns == before


def test_demo_ends_like_a_finished_job(tmp_path: Path):
    """`make demo`'s command: the states and their summary, exit status 0, and no red banner or error line."""
    import os
    import socket

    bag = tmp_path / "sample.bag"
    cmd = [str(ROOT / "scripts" / "synthesize"), str(bag), "--frames-per-state", "3"]
    assert subprocess.run(cmd, capture_output=True).returncode == 0
    with socket.socket() as s:  # a master of its own (roslaunch starts it on the URI's port)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "ROS_MASTER_URI": f"http://localhost:{port}"}
    done = subprocess.run([str(ROOT / "scripts" / "demo"), str(bag)], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[-1].startswith("states published: ") and "RED" in lines[-1] and "GREEN" in lines[-1]
    assert all(line.split()[1].startswith("state=") for line in lines[:-1])
    assert done.stderr == ""
    assert "\033[31m" not in done.stdout and "REQUIRED" not in done.stdout and "has died" not in done.stdout
    assert (tmp_path / "roslaunch.log").is_file()
