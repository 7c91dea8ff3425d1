"""Extracting camera frames from ROS 1 and ROS 2 bags to image files, without roscore.

Replaces the tutorial's ``rosbag play`` + ``image_view image_saver``: the bag
is read directly (ROS 1 bags with ``rosbag``, ROS 2 bags with the ``rosbags``
library), every frame is kept unless asked otherwise, files are named by the
header stamp, decoding and encoding run on every core, and a manifest lists
what was written.  A ROS 1 bag whose recording was cut off (no index) is read
up to its last complete chunk, and what was lost is said.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import cv2
from tqdm import tqdm

from tl_classifier.data.images import (
    FORMATS,
    Names,
    Sampler,
    Sampling,
    TopicCounts,
    image_size,
    read_manifest,
    stamp_name,
    topic_folder,
    write_image,
    write_manifest,
)
from tl_classifier.errors import ImageError, TLClassifierError
from tl_classifier.parallel import ordered_map
from tl_classifier.ros.bags import BagError, RawFrame, Ros1Bag, Ros2Bag, decode, open_bag, pick_topics


@dataclass(frozen=True)
class Job:
    frame: RawFrame
    path: Path
    row: dict[str, str]


def convert_and_write(job: Job, quality: int, overwrite: bool) -> dict[str, str]:
    """Decode one frame, convert it to RGB with cv_bridge, and write it. Runs on a worker thread."""
    from tl_classifier.ros.convert import image_to_rgb

    msg = decode(job.frame)
    rgb = image_to_rgb(msg)
    write_image(job.path, rgb, quality, overwrite)
    encoding = getattr(msg, "encoding", None) or f"compressed {getattr(msg, 'format', '')}".strip()
    return {**job.row, "encoding": encoding, "width": str(rgb.shape[1]), "height": str(rgb.shape[0])}


@dataclass(frozen=True)
class ExtractOptions:
    """What :func:`extract_images` reads and writes (the ``extract_images`` command's options, typed)."""

    bags: Sequence[Path]  #: ROS 1 .bag files, ROS 2 bag folders (or their .db3/.mcap)
    output: Path  #: one subfolder per topic, and manifest.csv
    topics: Sequence[str] = ()  #: default: every image topic
    sampling: Sampling = field(default_factory=Sampling)
    format: str = "jpeg"
    quality: int = 95
    overwrite: bool = False  #: replace existing images (default: keep them, resume)
    jobs: int = os.cpu_count() or 1
    progress: bool = True
    warn: Callable[[str], None] = print  #: told each problem as it happens, one line each

    def __post_init__(self) -> None:
        if not 1 <= self.quality <= 100:
            raise TLClassifierError(f"--quality must be 1-100, got {self.quality}")
        if self.jobs < 1:
            raise TLClassifierError(f"--jobs must be >= 1, got {self.jobs}")
        if self.format not in FORMATS:
            raise TLClassifierError(f"--format must be one of {', '.join(sorted(FORMATS))}, got {self.format}")


@dataclass
class ExtractResult:
    """What :func:`extract_images` did: counts per topic, the manifest, and whether every bag could be read."""

    counts: dict[str, TopicCounts]
    manifest: Path
    rows: int
    seconds: float
    bags_failed: int

    @property
    def written(self) -> int:
        return sum(c.written for c in self.counts.values())

    @property
    def ok(self) -> bool:
        """False when a bag could not be read, nothing was found, or every frame failed."""
        return not (self.bags_failed or (not self.rows and any(c.failed for c in self.counts.values())) or not self.counts)

    def lines(self) -> list[str]:
        out = [
            f"{topic}: read {c.read}, written {c.written}, kept from an earlier run {c.existing}, "
            f"left out by sampling {c.sampled_out}, failed {c.failed}"
            for topic, c in sorted(self.counts.items())
        ]
        rate = self.written / max(self.seconds, 1e-9)
        out.append(
            f"{self.written} image(s) written to {self.manifest.parent} in {self.seconds:.1f} s ({rate:.1f} frames/s); "
            f"manifest: {self.manifest}"
        )
        return out


def extract_images(a: ExtractOptions) -> ExtractResult:
    """Write the image frames of every bag into ``a.output``, named by header stamp, with a manifest.

    A bag that cannot be opened is told through ``a.warn`` and counted; the others are still read.
    Images already there are kept (and listed) unless ``a.overwrite``.
    """
    sampling = a.sampling
    out = a.output
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / "manifest.csv"
    old_rows = {} if a.overwrite else read_manifest(manifest_path)
    ext = FORMATS[a.format]
    cv2.setNumThreads(1)  # parallelism comes from the frame threads
    names = Names()
    counts: dict[str, TopicCounts] = {}
    rows: list[dict[str, str]] = []
    failures = 0
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=a.jobs) as pool:
        for path in a.bags:
            try:
                bag = open_bag(path)
                topics = pick_topics(bag, list(a.topics))
            except BagError as err:
                a.warn(f"extract_images: error: {err}")
                failures += 1
                continue
            if bag.lost:
                a.warn(f"extract_images: warning: {path}: {bag.lost}")
            rows += _extract_bag(bag, topics, a, sampling, out, ext, names, counts, old_rows, pool)
            bag.close()
    write_manifest(manifest_path, rows)
    return ExtractResult(counts, manifest_path, len(rows), time.monotonic() - started, failures)


def _extract_bag(
    bag: Ros1Bag | Ros2Bag,
    topics: list[str],
    a: ExtractOptions,
    sampling: Sampling,
    out: Path,
    ext: str,
    names: Names,
    counts: dict[str, TopicCounts],
    old_rows: dict[str, dict[str, str]],
    pool: ThreadPoolExecutor,
) -> list[dict[str, str]]:
    samplers = {t: Sampler(sampling) for t in topics}
    for t in topics:
        counts.setdefault(t, TopicCounts())
        (out / topic_folder(t)).mkdir(exist_ok=True)
    rows: list[dict[str, str]] = []
    total = sum(bag.topics[t][1] for t in topics)
    bar = tqdm(total=total, desc=bag.path.name, unit="frame", disable=not a.progress or None, leave=False)

    def jobs() -> Iterator[Job]:
        """The frames to convert; frames left out, or kept from an earlier run, are counted here."""
        for frame in bag.frames(topics):
            bar.update()
            c = counts[frame.topic]
            c.read += 1
            if not samplers[frame.topic].keep(frame.time - bag.start):
                c.sampled_out += 1
                continue
            sec, nsec = frame.stamp()  # the header's, or the bag's receive time where the header has none
            folder = topic_folder(frame.topic)
            rel = f"{folder}/{names.take(folder, stamp_name(sec, nsec))}{ext}"
            row = {"file": rel, "bag": str(bag.path), "topic": frame.topic, "stamp": f"{sec}.{nsec:09d}"}
            target = out / rel
            if target.exists() and not a.overwrite:
                c.existing += 1
                old = old_rows.get(rel)
                if old is None:
                    width, height = image_size(target)
                    old = {**row, "encoding": "", "width": str(width), "height": str(height)}
                rows.append(old)
                continue
            yield Job(frame, target, row)

    def convert(job: Job) -> dict[str, str]:
        return convert_and_write(job, a.quality, a.overwrite)

    for job, result in ordered_map(pool, convert, jobs(), 2 * a.jobs + 2, ImageError):
        c = counts[job.frame.topic]
        if isinstance(result, ImageError):
            c.failed += 1
            if result.message not in c.errors:
                c.errors.add(result.message)
                a.warn(f"extract_images: warning: {bag.path}: {job.frame.topic}: {result.message}; such frames are skipped")
        elif isinstance(result, dict):
            rows.append(result)
            c.written += 1
    bar.close()
    return rows
