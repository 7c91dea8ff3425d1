"""Shared fixtures: the real data in ../shared/realdata, and models exported by our own code."""

from __future__ import annotations

import os
from pathlib import Path

# TensorFlow's start-up chatter forced on, for this process and every command the tests start:
# a command's error output must be its own line(s) on any CPU, not only where TensorFlow is quiet.
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"
os.environ["TF_ENABLE_ONEDNN_OPTS"] = "1"
os.environ.pop("TL_CLASSIFIER_TF_LOG", None)

import numpy as np
import pytest

from tl_classifier.testing.realdata import REALDATA, sim_frames


@pytest.fixture(scope="session")
def realdata() -> Path:
    """../shared/realdata; the suite fails (it does not skip) without it."""
    if not REALDATA.is_dir():
        pytest.fail(f"the real data is missing: {REALDATA} (tests read it from ../shared/realdata)")
    return REALDATA


@pytest.fixture(scope="session")
def baseline_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The colour-threshold detector, exported by our exporter into a fresh folder."""
    from tl_classifier.model.baseline import LABEL_MAP, colour_detector
    from tl_classifier.model.export import export_detector

    return export_detector(colour_detector(), tmp_path_factory.mktemp("models") / "baseline", LABEL_MAP)


@pytest.fixture(scope="session")
def frames(realdata: Path) -> dict[str, list[np.ndarray]]:
    """Real simulator frames, RGB, by their folder's state (red, yellow, green, unknown)."""
    return sim_frames()
