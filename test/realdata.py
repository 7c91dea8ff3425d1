"""Where the real data lies, for pytest and the rostest nodes alike."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

_ROOT = Path(__file__).resolve().parent.parent
REALDATA = Path(os.environ.get("TL_REALDATA", _ROOT.parent / "shared" / "realdata"))
if not REALDATA.is_dir():  # run from the catkin workspace's link folder
    REALDATA = Path(os.path.realpath(__file__)).parent.parent.parent / "shared" / "realdata"
ROS_RACERS = REALDATA / "ros-racers" / "tl_classification"
SIM_TEST = ROS_RACERS / "test_images_sim"
REAL_TEST = ROS_RACERS / "test_images_real"
SITE_FRAMES = REALDATA / "alexvogel" / "data_raw" / "real_training_data"
SUNNY_SITE = REALDATA / "dataset-sdcnd-capstone" / "real_training_data"  #: the car's sunny site recordings, 1368x1096
NEGATIVE = REALDATA / "negative"


def read_rgb(path: Path) -> np.ndarray:
    bgr = cv2.imread(os.fspath(path))
    if bgr is None:
        raise FileNotFoundError(path)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def sim_frames() -> dict[str, list[np.ndarray]]:
    """Real simulator frames (800x600), RGB, by state folder."""
    if not SIM_TEST.is_dir():
        raise FileNotFoundError(f"the real data is missing: {SIM_TEST}")
    return {s: [read_rgb(p) for p in sorted((SIM_TEST / s).glob("*.jpg"))] for s in ("red", "yellow", "green", "unknown")}


def site_frames() -> list[np.ndarray]:
    """The real car's 1368x1096 frames."""
    paths = sorted(SITE_FRAMES.rglob("*.jpg"))
    frames = [read_rgb(p) for p in paths]
    return [f for f in frames if f.shape[:2] == (1096, 1368)]


def sunny_site_frames(every: int = 1) -> list[np.ndarray]:
    """Every ``every``-th of the car's 1368x1096 frames of the sunny site recordings (dataset-sdcnd-capstone), RGB."""
    frames = [read_rgb(p) for p in sorted(SUNNY_SITE.rglob("*.jpg"))[::every]]
    return [f for f in frames if f.shape[:2] == (1096, 1368)]
