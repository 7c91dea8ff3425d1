"""Where the real data lies, for pytest and the rostest nodes alike."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np

from tl_classifier.files import atomic_output
from tl_classifier.params import SITE_ROI, Roi

_ROOT = Path(__file__).resolve().parents[2]  #: the repository
REALDATA = Path(os.environ.get("TL_REALDATA", _ROOT.parent / "shared" / "realdata"))
if not REALDATA.is_dir():  # run from the catkin workspace's link folder
    REALDATA = Path(os.path.realpath(__file__)).parents[3] / "shared" / "realdata"
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


SDCND = REALDATA / "dataset-sdcnd-capstone"
RACERS = ROS_RACERS

#: recording -> its domain, the records made of it, and every set of its frames (name -> path) to evaluate on.
RECORDINGS: dict[str, dict] = {
    "car_overcast": {
        "domain": "car",
        "what": "the site's overcast traffic_light_training recording, 800x600 (ros-racers, mistermi87)",
        "records": ["racers_real", "racers_real_val", "mistermi87"],
        "data": {
            "racers_real": RACERS / "data" / "images_real",
            "racers_real_val": RACERS / "data" / "images_real_val",
            "racers_real_test": RACERS / "test_images_real",
            "mistermi87": REALDATA / "mistermi87" / "rosbag_data",
        },
    },
    "car_sunny": {
        "domain": "car",
        "what": "the site's sunny just_traffic_light / loop_with_traffic_light recordings, 1368x1096 (dataset-sdcnd-capstone)",
        "records": ["sdcnd_real"],
        "data": {"sdcnd_real": SDCND / "real_training_data" / "real_data_annotations.yaml"},
    },
    "sim_rosracers": {
        "domain": "sim",
        "what": "ros-racers' simulator drives, 800x600",
        "records": ["racers_sim", "racers_sim_val"],
        "data": {
            "racers_sim": RACERS / "data" / "images_sim",
            "racers_sim_val": RACERS / "data" / "images_sim_val",
            "racers_sim_test": RACERS / "test_images_sim",
        },
    },
    "sim_sdcnd": {
        "domain": "sim",
        "what": "the dataset-sdcnd-capstone simulator drives, 800x600",
        "records": ["sdcnd_sim"],
        "data": {"sdcnd_sim": SDCND / "sim_training_data" / "sim_data_annotations.yaml"},
    },
    "sim_dominikma": {
        "domain": "sim",
        "what": "dominikma's simulator drives, 800x600 (VoTT)",
        "records": ["dominikma"],
        "data": {"dominikma": REALDATA / "dominikma" / "vott-json-export" / "SimData-export.json"},
    },
}


def launch_roi(recording: str) -> Roi:
    """The region of interest ``classify.launch`` gives the node for a recording of :data:`RECORDINGS`: ``site:=true``'s
    :data:`~tl_classifier.params.SITE_ROI` on the car (its hood left out), the whole frame in the simulator."""
    return SITE_ROI if RECORDINGS[recording]["domain"] == "car" else Roi()


#: Lights grouped by width in the frame's own pixels (the widest of a frame, or each light): far lights
#: are what a held-out model misses (docs/leave_one_out.py, docs/probe_stages.py).
SIZE_BINS = ((0, 20, "under 20 px"), (20, 40, "20-40 px"), (40, 10**6, "40 px and wider"))


def size_bin(width: float) -> str:
    """The :data:`SIZE_BINS` label of a light ``width`` pixels wide."""
    return next(label for lo, hi, label in SIZE_BINS if lo <= width < hi)


def write_recording_rows(path: Path, head: dict, rows: Iterable[dict]) -> list[dict]:
    """Write ``head`` and ``rows`` (one per recording of :data:`RECORDINGS`, named by its ``recording`` key) to the
    JSON file ``path``, keeping the rows it holds of the recordings not in ``rows`` (another run's: a held-out model
    trained again is run alone), in :data:`RECORDINGS`' order, under a temporary name first; returns the rows written."""
    old = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    merged = {r["recording"]: r for r in old.get("recordings", [])} | {r["recording"]: r for r in rows}
    ordered = [merged[n] for n in RECORDINGS if n in merged]
    with atomic_output(path, overwrite=True) as tmp:
        tmp.write_text(json.dumps({**head, "recordings": ordered}, indent=2) + "\n", encoding="utf-8")
    return ordered
