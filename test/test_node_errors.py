"""The node with a broken model or parameter: one clear line and a non-zero exit (real roscore)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tl_classifier.testing.rostest import start_master, stop

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
NODE = ROOT / "scripts" / "tl_classifier_node"


@pytest.fixture(scope="module")
def master():
    proc, uri = start_master()
    yield {**os.environ, "ROS_MASTER_URI": uri}
    stop(proc)


def run_node(env, *params: str) -> subprocess.CompletedProcess:
    name = f"tl_classifier_{len(params)}_{abs(hash(params))}"  # private params stay on the master: a name per run
    return subprocess.run([str(NODE), f"__name:={name}", *params], env=env, capture_output=True, text=True, timeout=120)


def fatal_lines(done: subprocess.CompletedProcess) -> list[str]:
    return [line for line in (done.stdout + done.stderr).splitlines() if "FATAL" in line]


def test_lfs_pointer_model(master, realdata: Path):
    model = (
        realdata
        / "negative/ananevans-lfs-pointer/ros/src/tl_detector/light_classification/models/model_ssd/frozen_inference_graph.pb"
    )
    done = run_node(master, f"_model:={model}", f"_label_map:={ROOT / 'models/colour_baseline/label_map.pbtxt'}")
    assert done.returncode == 1
    lines = fatal_lines(done)
    assert len(lines) == 1 and str(model) in lines[0] and "Git-LFS pointer" in lines[0], done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def test_html_model_is_named_before_the_missing_label_map(master, realdata: Path):
    model = realdata / "negative/sunshine2050-html-as-pb/ros/src/tl_detector/light_classification/frozen_inference_graph.pb"
    done = run_node(master, f"_model:={model}")
    assert done.returncode == 1
    lines = fatal_lines(done)
    assert len(lines) == 1 and str(model) in lines[0] and "HTML page" in lines[0], done.stderr


def test_bad_parameter(master):
    done = run_node(master, f"_model:={ROOT / 'models/colour_baseline'}", "_score_threshold:=2.0")
    assert done.returncode == 1
    lines = fatal_lines(done)
    assert len(lines) == 1 and "~score_threshold" in lines[0], done.stderr


def broken_after(calls: int, folder: Path) -> Path:
    """A real SavedModel (OD API outputs) that fails for good after ``calls`` calls, as a GPU that died would."""
    import tensorflow as tf

    module = tf.Module()
    module.calls = tf.Variable(0)

    @tf.function(input_signature=[tf.TensorSpec([1, None, None, 3], tf.uint8, name="input_tensor")])
    def serve(input_tensor):
        module.calls.assign_add(1)
        with tf.control_dependencies([tf.debugging.assert_less_equal(module.calls, calls, message="the device is gone")]):
            score = tf.reduce_mean(tf.cast(input_tensor, tf.float32)) * 0.0 + 0.9
        return {
            "detection_boxes": tf.constant([[[0.1, 0.1, 0.5, 0.3]]]),
            "detection_scores": tf.reshape(score, [1, 1]),
            "detection_classes": tf.constant([[2.0]]),
            "num_detections": tf.constant([1.0]),
        }

    tf.saved_model.save(module, str(folder), signatures={"serving_default": serve})
    return folder


def test_a_model_that_breaks_while_running_stops_the_node(master, tmp_path: Path):
    """Not a zombie: one [FATAL] line naming the model, and a non-zero exit, once the model fails on every frame."""
    model = broken_after(5, tmp_path / "broken")  # 2 warm-up calls, then 3 frames, then nothing works
    node = subprocess.Popen(
        [str(NODE), "__name:=tl_broken", f"_model:={model}", f"_label_map:={ROOT / 'models/colour_baseline/label_map.pbtxt'}",
         "_warmup_width:=16", "_warmup_height:=16", "_camera_topic:=/broken_camera"],
        env=master, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    frame = "{height: 16, width: 16, encoding: rgb8, step: 48, data: [" + ",".join(["200"] * 768) + "]}"
    camera = subprocess.Popen(
        ["rostopic", "pub", "-r", "10", "/broken_camera", "sensor_msgs/Image", frame],
        env=master, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        output, _ = node.communicate(timeout=120)
    finally:
        stop(camera)
        if node.poll() is None:
            node.kill()
    assert node.returncode == 1, output
    lines = [line for line in output.splitlines() if "FATAL" in line]
    assert len(lines) == 1, output
    assert str(model) in lines[0] and "the device is gone" in lines[0] and "blank 16x16 frame" in lines[0]
    assert "Traceback" not in output
