"""Device choice (the GPU path's logic runs here on the CPU too), and a quiet TensorFlow import."""

import os
import subprocess
import sys

import pytest

from tl_classifier.errors import DeviceError, ParameterError
from tl_classifier.tf_setup import configure_devices, parse_device, plan_device


@pytest.mark.parametrize(
    ("device", "gpus", "index"),
    [("auto", 0, None), ("auto", 2, 0), ("cpu", 2, None), ("gpu", 1, 0), ("gpu:1", 2, 1), ("GPU:0", 1, 0)],
)
def test_plan(device, gpus, index):
    assert plan_device(device, gpus) == index


@pytest.mark.parametrize(("device", "gpus"), [("gpu", 0), ("gpu:2", 2)])
def test_missing_gpu(device, gpus):
    with pytest.raises(DeviceError, match="TensorFlow sees"):
        plan_device(device, gpus)


@pytest.mark.parametrize("device", ["tpu", "gpu:x", "", "gpu0"])
def test_bad_choice(device):
    with pytest.raises(ParameterError):
        parse_device(device)


def test_configure_on_this_machine():
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    name = configure_devices("auto")
    assert name == ("/GPU:0" if gpus else "/CPU:0")
    if not gpus:
        with pytest.raises(DeviceError):
            configure_devices("gpu")
    with pytest.raises(ParameterError):
        configure_devices("auto", memory_limit_mb=-5)


def test_import_prints_nothing_whatever_the_log_settings():
    """conftest forces TensorFlow's chatter on (log level 0, oneDNN on): the import still prints nothing."""
    code = (
        "import sys; from tl_classifier.tf_setup import import_tensorflow; tf = import_tensorflow(); "
        "tf.constant(1) + 1; print('mine', file=sys.stderr)"
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "0", "TF_ENABLE_ONEDNN_OPTS": "1"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "mine\n"
    assert done.stdout == ""
