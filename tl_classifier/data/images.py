"""The ROS-free part of frame extraction: which frames to keep, their file names, writing them, the manifest.

:mod:`tl_classifier.ros.extract` reads the bags and decodes messages; this
module decides and writes, and knows nothing of ROS.
"""

from __future__ import annotations

import csv
import os
import re
import struct
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from tl_classifier.errors import ImageError, ParameterError
from tl_classifier.files import atomic_output

#: Manifest columns.
MANIFEST_FIELDS = ("file", "bag", "topic", "stamp", "encoding", "width", "height")
FORMATS = {"jpeg": ".jpg", "jpg": ".jpg", "png": ".png"}


@dataclass(frozen=True)
class Sampling:
    """Which frames to keep, per topic, by bag time (seconds from the bag's start).

    :param every: keep at most one frame per ``every`` seconds of bag time (0: all).
    :param every_n: keep every n-th frame (1: all).
    :param start: skip frames before ``start`` seconds.
    :param end: skip frames after ``end`` seconds (``None``: to the end).
    :raises ParameterError: for negative or inconsistent values.
    """

    every: float = 0.0
    every_n: int = 1
    start: float = 0.0
    end: float | None = None

    def __post_init__(self) -> None:
        if self.every < 0:
            raise ParameterError(f"--every must be >= 0 seconds, got {self.every}")
        if self.every_n < 1:
            raise ParameterError(f"--every-n must be >= 1, got {self.every_n}")
        if self.start < 0:
            raise ParameterError(f"--start must be >= 0 seconds, got {self.start}")
        if self.end is not None and self.end < self.start:
            raise ParameterError(f"--end ({self.end}) is before --start ({self.start})")


class Sampler:
    """Applies a :class:`Sampling` to one topic's frames, in bag order."""

    def __init__(self, sampling: Sampling) -> None:
        self.sampling = sampling
        self._seen = 0
        self._last_kept: float | None = None

    def keep(self, t: float) -> bool:
        """Whether the frame at ``t`` seconds from the bag's start is kept."""
        s = self.sampling
        if t < s.start or (s.end is not None and t > s.end):
            return False
        index = self._seen
        self._seen += 1
        if index % s.every_n:
            return False
        if s.every and self._last_kept is not None and t - self._last_kept < s.every - 1e-9:
            return False
        self._last_kept = t
        return True


def topic_folder(topic: str) -> str:
    """A folder name for a topic: ``/camera/image_raw`` -> ``camera_image_raw``."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", topic.strip("/"))
    return name or "root"


def stamp_name(sec: int, nsec: int) -> str:
    """A sortable file stem from a stamp: ``0001500000000.000123456`` style, 10+9 digits."""
    return f"{sec:010d}.{nsec:09d}"


def ros1_header_stamp(raw: bytes) -> tuple[int, int]:
    """The header stamp (sec, nsec) at the start of a ROS 1 serialized message with a Header."""
    _seq, sec, nsec = struct.unpack_from("<III", raw, 0)
    return sec, nsec


def cdr_header_stamp(raw: bytes | memoryview) -> tuple[int, int]:
    """The header stamp (sec, nanosec) at the start of a ROS 2 CDR message with a Header."""
    little = raw[1] == 1
    sec, nsec = struct.unpack_from("<iI" if little else ">iI", raw, 4)
    return sec, nsec


class Names:
    """Hands out unique file stems per folder (two frames with one stamp get ``_1``, ``_2``..., sorting after it)."""

    def __init__(self) -> None:
        self._used: dict[str, set[str]] = defaultdict(set)

    def take(self, folder: str, stem: str) -> str:
        used = self._used[folder]
        name, k = stem, 0
        while name in used:
            k += 1
            name = f"{stem}_{k}"
        used.add(name)
        return name


def write_image(path: Path, rgb: np.ndarray, quality: int = 95, overwrite: bool = False) -> bool:
    """Encode ``rgb`` by ``path``'s suffix (.jpg or .png) and write it atomically.

    The bytes go to a temporary file in the same folder, then are renamed, so an
    interrupted run leaves no half-written image under the final name.

    :returns: ``False`` if ``path`` existed and ``overwrite`` is false (nothing written).
    :raises ImageError: if the image cannot be encoded.
    """
    if path.exists() and not overwrite:
        return False
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)] if path.suffix == ".jpg" else [cv2.IMWRITE_PNG_COMPRESSION, 1]
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR) if rgb.ndim == 3 else rgb
    ok, buf = cv2.imencode(path.suffix, bgr, params)
    if not ok:
        raise ImageError(f"cannot encode {rgb.shape} image as {path.suffix}", path)
    with atomic_output(path, overwrite=True) as tmp, tmp.open("wb") as f:
        f.write(buf.data)
    return True


@dataclass
class TopicCounts:
    """What happened to one topic's frames."""

    read: int = 0
    written: int = 0
    existing: int = 0  #: already there from an earlier run (resumed)
    sampled_out: int = 0  #: left out by --every / --every-n / --start / --end
    failed: int = 0  #: could not be decoded
    errors: set[str] = field(default_factory=set)


def read_manifest(path: Path) -> dict[str, dict[str, str]]:
    """Rows of an existing manifest, by file; empty if there is none."""
    if not path.is_file():
        return {}
    with path.open(newline="", encoding="utf-8") as f:
        return {row["file"]: row for row in csv.DictReader(f) if "file" in row}


def write_manifest(path: Path, rows: list[dict[str, str]]) -> None:
    """Write the manifest CSV (atomically), sorted by file."""
    with atomic_output(path, overwrite=True) as tmp, tmp.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=MANIFEST_FIELDS)
        w.writeheader()
        for row in sorted(rows, key=lambda r: r["file"]):
            w.writerow({k: row.get(k, "") for k in MANIFEST_FIELDS})


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) of an image file, read from its data."""
    img = cv2.imread(os.fspath(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise ImageError("cannot read image", path)
    return img.shape[1], img.shape[0]
