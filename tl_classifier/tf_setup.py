"""Importing TensorFlow quietly, and choosing the device it runs on.

GPU memory: TensorFlow's default is to reserve (almost) all memory of every
GPU at start-up.  :func:`configure_devices` turns on memory growth instead, or
caps the memory with a logical device when a limit is given, and makes only
the chosen GPU visible.  It must run before TensorFlow touches a GPU.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from types import ModuleType
from typing import IO

from tl_classifier.errors import DeviceError, ParameterError

#: Set to 1 to let TensorFlow's own start-up and C++ log lines through (for debugging TensorFlow itself).
TF_LOG_ENV = "TL_CLASSIFIER_TF_LOG"


@contextlib.contextmanager
def _stderr_to(sink: IO[bytes]) -> Iterator[None]:
    """Point file descriptor 2 at ``sink`` for a while: C++ code writes there, not to ``sys.stderr``."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no stderr at all (a daemon): nothing to hide it from
        yield
        return
    try:
        os.dup2(sink.fileno(), 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def import_tensorflow() -> ModuleType:
    """Import TensorFlow without its start-up chatter, whatever the CPU and the user's log settings.

    Why this way: TensorFlow >= 2.16 logs through absl, and what it logs before
    ``absl::InitializeLog()`` (the "All log messages before absl::InitializeLog()"
    warning, oneDNN's "custom operations are on", the CPU-feature notice, cuDNN/cuBLAS
    factory errors of GPU builds on machines without a GPU) goes straight to file
    descriptor 2 and ignores ``TF_CPP_MIN_LOG_LEVEL``.  Which lines appear depends on
    the CPU and the build, so no environment setting silences all of them.  All of
    them are written while the shared libraries load, that is during ``import
    tensorflow``, and this is the package's only import of TensorFlow: so descriptor 2
    points at a temporary file for the import alone (shown if the import fails), and
    ``TF_CPP_MIN_LOG_LEVEL`` is set to 2 (errors only) for what TensorFlow's C++ logs
    later.  A command's error output is then its own line(s) only.  ``TL_CLASSIFIER_TF_LOG=1``
    lets everything through.

    :raises DeviceError: if TensorFlow is not installed or does not import.
    """
    loaded = sys.modules.get("tensorflow")
    if loaded is not None and hasattr(loaded, "config"):
        return loaded
    verbose = os.environ.get(TF_LOG_ENV, "") not in ("", "0")
    if not verbose:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    with tempfile.TemporaryFile() as chatter:
        try:
            with contextlib.nullcontext() if verbose else _stderr_to(chatter):
                import tensorflow as tf
        except ImportError as err:  # pragma: no cover - depends on the install
            chatter.seek(0)
            said = chatter.read().decode(errors="replace").strip().splitlines()
            tail = f"; it printed: {said[-1]}" if said else ""
            raise DeviceError(
                f"TensorFlow is not installed or does not import in this Python ({err}{tail}); run `make` or see README.md"
            ) from err
    if not verbose:
        tf.get_logger().setLevel("ERROR")  # its Python-side warnings (deprecations, retracing) too
    return tf


def parse_device(device: str) -> int | None:
    """Parse a device choice: ``auto`` (-1), ``cpu`` (None), ``gpu`` / ``gpu:N`` (N).

    :raises ParameterError: for any other text.
    """
    text = device.strip().lower()
    if text == "auto":
        return -1
    if text == "cpu":
        return None
    if text == "gpu":
        return 0
    if text.startswith("gpu:") and text[4:].isdigit():
        return int(text[4:])
    raise ParameterError(f"device must be auto, cpu, gpu or gpu:N, got {device!r}")


def plan_device(device: str, gpu_count: int) -> int | None:
    """Which GPU index to use (``None``: the CPU) for a device choice, given how many GPUs there are.

    ``auto`` takes GPU 0 when there is one and the CPU otherwise.

    :raises ParameterError: if ``device`` is not a valid choice.
    :raises DeviceError: if a GPU is asked for that does not exist.
    """
    index = parse_device(device)
    if index == -1:
        return 0 if gpu_count else None
    if index is not None and index >= gpu_count:
        have = f"only {gpu_count} GPU(s)" if gpu_count else "no GPU (is tensorflow-cpu installed? see README: GPU)"
        raise DeviceError(f"device {device!r} asked for, but TensorFlow sees {have}")
    return index


def configure_devices(device: str = "auto", memory_limit_mb: int = 0) -> str:
    """Set TensorFlow up for one device and return its name (``/GPU:0`` or ``/CPU:0``).

    On a GPU: only the chosen GPU is made visible; with ``memory_limit_mb`` = 0
    memory growth is on (memory is taken as needed, never all of it up front),
    otherwise a logical device caps it at ``memory_limit_mb`` MiB.

    :raises ParameterError: if ``device`` or ``memory_limit_mb`` is invalid.
    :raises DeviceError: if a GPU is asked for that TensorFlow cannot see, or
        TensorFlow was already initialised on its devices.
    """
    if memory_limit_mb < 0:
        raise ParameterError(f"gpu_memory_limit must be >= 0 MiB (0: no limit, memory growth), got {memory_limit_mb}")
    tf = import_tensorflow()
    gpus = tf.config.list_physical_devices("GPU")
    index = plan_device(device, len(gpus))
    try:
        if index is None:
            if gpus:
                tf.config.set_visible_devices([], "GPU")
            return "/CPU:0"
        gpu = gpus[index]
        tf.config.set_visible_devices([gpu], "GPU")
        if memory_limit_mb:
            tf.config.set_logical_device_configuration(
                gpu, [tf.config.LogicalDeviceConfiguration(memory_limit=int(memory_limit_mb))]
            )
        else:
            tf.config.experimental.set_memory_growth(gpu, True)
    except RuntimeError as err:
        raise DeviceError(f"cannot configure the GPU: {err} (configure devices before any TensorFlow work)") from err
    return "/GPU:0"
