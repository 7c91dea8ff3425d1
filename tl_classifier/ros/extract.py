"""``extract_images``: camera frames from ROS 1 and ROS 2 bags to image files, without roscore.

Replaces the tutorial's ``rosbag play`` + ``image_view image_saver``: the bag
is read directly (ROS 1 bags with ``rosbag``, ROS 2 bags with the ``rosbags``
library), every frame is kept unless asked otherwise, files are named by the
header stamp, decoding and encoding run on every core, and a manifest lists
what was written.  A ROS 1 bag whose recording was cut off (no index) is read
up to its last complete chunk, and what was lost is said.
"""

from __future__ import annotations

import argparse
import io
import os
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
from tqdm import tqdm

from tl_classifier.cli import run_main
from tl_classifier.errors import ImageError, TLClassifierError
from tl_classifier.extract import (
    FORMATS,
    Names,
    Sampler,
    Sampling,
    TopicCounts,
    cdr_header_stamp,
    image_size,
    read_manifest,
    ros1_header_stamp,
    stamp_name,
    topic_folder,
    write_image,
    write_manifest,
)
from tl_classifier.parallel import ordered_map

IMAGE = "sensor_msgs/Image"
COMPRESSED = "sensor_msgs/CompressedImage"
_ROS2_TYPES = {"sensor_msgs/msg/Image": IMAGE, "sensor_msgs/msg/CompressedImage": COMPRESSED}


class BagError(TLClassifierError):
    """A bag cannot be read, or holds nothing to extract."""


@dataclass(frozen=True)
class RawFrame:
    """One serialized image message as stored in a bag."""

    topic: str
    msgtype: str  #: IMAGE or COMPRESSED
    raw: bytes
    time: float  #: bag time, seconds since the epoch
    cdr: bool  #: ROS 2 CDR serialization (else ROS 1)


class Ros1Bag:
    """A ROS 1 bag read with ``rosbag``; unindexed (cut-off) bags are recovered read-only."""

    def __init__(self, path: Path) -> None:
        import rosbag

        self.path = path
        self.lost: str | None = None
        try:
            self.bag = rosbag.Bag(str(path), "r")
        except rosbag.ROSBagUnindexedException:
            self.bag = self._recover(rosbag)
        except (rosbag.ROSBagException, OSError, ValueError, EOFError) as err:
            raise BagError(f"not a readable ROS 1 bag ({err or type(err).__name__})", path) from err
        info = self.bag.get_type_and_topic_info().topics
        self.topics = {t: (i.msg_type, i.message_count) for t, i in info.items()}
        self.start = self.bag.get_start_time() if self.bag.get_message_count() else 0.0

    def _recover(self, rosbag: Any) -> Any:
        """Index a bag whose recording was cut off, in memory, without writing to it."""
        bag = rosbag.Bag(str(self.path), "r", allow_unindexed=True)
        try:
            for _ in bag.reindex():
                pass
        except io.UnsupportedOperation:
            pass  # reindex() would truncate the broken tail: only in append mode, never here
        except rosbag.ROSBagException as err:
            raise BagError(f"not a readable ROS 1 bag ({err})", self.path) from err
        good = set(bag._chunk_headers)  # chunks read completely
        dropped = [e for entries in bag._connection_indexes.values() for e in entries if e.chunk_pos not in good]
        for conn, entries in bag._connection_indexes.items():
            bag._connection_indexes[conn] = [e for e in entries if e.chunk_pos in good]
        bag._connection_indexes_read = True  # the index is complete now: rosbag must not read it again from disk
        if not good:
            raise BagError(
                f"not a readable ROS 1 bag: not indexed, and no chunk is complete ({self.path.stat().st_size} bytes)", self.path
            )
        size = self.path.stat().st_size
        cut = min((e.chunk_pos for e in dropped), default=None)
        recovered = sum(len(v) for v in bag._connection_indexes.values())
        last = max(c.end_time.to_sec() for c in bag._chunks)
        tail = (
            f"from byte {cut} ({(size - cut) / 1e6:.1f} MB, at least {len(dropped)} message(s))"
            if cut
            else "after the last chunk"
        )
        self.lost = (
            f"not indexed (its recording was cut off): recovered {recovered} message(s) in {len(good)} complete chunk(s) "
            f"up to bag time {last:.3f}; the cut-off tail {tail} is lost"
        )
        return bag

    def frames(self, topics: Sequence[str]) -> Iterator[RawFrame]:
        for topic, (_datatype, data, _md5, _pos, _cls), t in self.bag.read_messages(topics=list(topics), raw=True):
            yield RawFrame(topic, self.topics[topic][0], data, t.to_sec(), cdr=False)

    def close(self) -> None:
        self.bag.close()


class Ros2Bag:
    """A ROS 2 bag (folder with metadata.yaml, or its .db3/.mcap file) read with ``rosbags``."""

    def __init__(self, path: Path) -> None:
        from rosbags.rosbag2 import Reader

        self.path = path
        self.lost = None
        folder = path if path.is_dir() else path.parent
        try:
            self.reader = Reader(folder)
            self.reader.open()
        except Exception as err:  # rosbags raises its ReaderError and others
            raise BagError(f"not a readable ROS 2 bag ({err})", path) from err
        self.connections = {c.topic: c for c in self.reader.connections}
        self.topics = {c.topic: (_ROS2_TYPES.get(c.msgtype, c.msgtype), c.msgcount) for c in self.reader.connections}
        self.start = self.reader.start_time / 1e9 if self.reader.message_count else 0.0

    def frames(self, topics: Sequence[str]) -> Iterator[RawFrame]:
        conns = [self.connections[t] for t in topics]
        for conn, t, raw in self.reader.messages(connections=conns):
            yield RawFrame(conn.topic, self.topics[conn.topic][0], bytes(raw), t / 1e9, cdr=True)

    def close(self) -> None:
        self.reader.close()


def open_bag(path: Path) -> Ros1Bag | Ros2Bag:
    """Open a ROS 1 or ROS 2 bag by what it is.

    :raises BagError: if it does not exist or is not a bag.
    """
    if not path.exists():
        raise BagError("no such file or folder", path)
    if path.is_dir() or path.suffix in (".db3", ".mcap"):
        return Ros2Bag(path)
    from tl_classifier.files import sniff_impostor

    why = sniff_impostor(path)
    if why:
        raise BagError(f"{why}; expected a bag", path)
    with path.open("rb") as f:
        head = f.read(13)
    if head != b"#ROSBAG V2.0\n":
        raise BagError("not a ROS bag (it does not start with '#ROSBAG V2.0')", path)
    return Ros1Bag(path)


_typestore: Any = None


def decode(frame: RawFrame) -> Any:
    """Deserialize a frame's message (ROS 1 with genpy, ROS 2 with rosbags).

    :raises ImageError: if the bytes do not deserialize.
    """
    global _typestore
    try:
        if frame.cdr:
            if _typestore is None:
                from rosbags.typesys import Stores, get_typestore

                _typestore = get_typestore(Stores.LATEST)
            ros2 = {v: k for k, v in _ROS2_TYPES.items()}[frame.msgtype]
            return _typestore.deserialize_cdr(frame.raw, ros2)
        from sensor_msgs.msg import CompressedImage, Image

        msg = (Image if frame.msgtype == IMAGE else CompressedImage)()
        msg.deserialize(frame.raw)
        return msg
    except Exception as err:  # genpy and rosbags raise several types
        raise ImageError(f"cannot deserialize a {frame.msgtype} message: {err}") from err


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


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="extract_images",
        description="Write the camera frames of ROS 1 / ROS 2 bags to image files, named by header stamp. No roscore needed.",
    )
    p.add_argument("bags", nargs="+", metavar="BAG", help="ROS 1 .bag files, ROS 2 bag folders (or their .db3/.mcap)")
    p.add_argument("-o", "--output", required=True, metavar="OUTDIR", help="output folder; one subfolder per topic")
    p.add_argument("--topic", action="append", default=[], help="image topic to extract (repeatable; default: every image topic)")
    p.add_argument("--every", type=float, default=0.0, metavar="SEC", help="keep at most one frame per SEC seconds of bag time")
    p.add_argument("--every-n", type=int, default=1, metavar="N", help="keep every N-th frame of each topic")
    p.add_argument("--start", type=float, default=0.0, metavar="SEC", help="skip frames before SEC seconds from the bag's start")
    p.add_argument("--end", type=float, default=None, metavar="SEC", help="skip frames after SEC seconds from the bag's start")
    p.add_argument("--format", choices=sorted(FORMATS), default="jpeg", help="image format (default: jpeg)")
    p.add_argument("--quality", type=int, default=95, help="JPEG quality 1-100 (default: 95)")
    p.add_argument("--overwrite", action="store_true", help="replace existing images (default: keep them, resume)")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="decoding/encoding threads (default: all cores)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def _pick_topics(bag: Ros1Bag | Ros2Bag, wanted: list[str]) -> list[str]:
    images = {t: ty for t, (ty, _) in bag.topics.items() if ty in (IMAGE, COMPRESSED)}
    if wanted:
        missing = [t for t in wanted if t not in bag.topics]
        if missing:
            have = ", ".join(sorted(images)) or "none"
            raise BagError(f"has no topic {', '.join(missing)} (its image topics: {have})", bag.path)
        wrong = [f"{t} ({bag.topics[t][0]})" for t in wanted if t not in images]
        if wrong:
            raise BagError(f"topic {', '.join(wrong)} is not sensor_msgs/Image or CompressedImage", bag.path)
        return wanted
    if not images:
        listed = ", ".join(f"{t} ({ty})" for t, (ty, _) in sorted(bag.topics.items())) or "no topic at all"
        raise BagError(f"has no image topic (sensor_msgs/Image or CompressedImage); it has {listed}", bag.path)
    return sorted(images)


def _extract(argv: list[str]) -> int:
    a = _parser().parse_args(argv)
    if not 1 <= a.quality <= 100:
        raise TLClassifierError(f"--quality must be 1-100, got {a.quality}")
    if a.jobs < 1:
        raise TLClassifierError(f"--jobs must be >= 1, got {a.jobs}")
    sampling = Sampling(a.every, a.every_n, a.start, a.end)
    out = Path(a.output)
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
        for bag_arg in a.bags:
            path = Path(bag_arg)
            try:
                bag = open_bag(path)
                topics = _pick_topics(bag, a.topic)
            except BagError as err:
                print(f"extract_images: error: {err}", flush=True)
                failures += 1
                continue
            if bag.lost:
                print(f"extract_images: warning: {path}: {bag.lost}", flush=True)
            rows += _extract_bag(bag, topics, a, sampling, out, ext, names, counts, old_rows, pool)
            bag.close()
    write_manifest(manifest_path, rows)
    elapsed = time.monotonic() - started
    for topic, c in sorted(counts.items()):
        print(
            f"{topic}: read {c.read}, written {c.written}, kept from an earlier run {c.existing}, "
            f"left out by sampling {c.sampled_out}, failed {c.failed}"
        )
    written = sum(c.written for c in counts.values())
    rate = written / max(elapsed, 1e-9)
    print(f"{written} image(s) written to {out} in {elapsed:.1f} s ({rate:.1f} frames/s); manifest: {manifest_path}")
    if failures or (not rows and any(c.failed for c in counts.values())) or not counts:
        return 1
    return 0


def _extract_bag(
    bag: Ros1Bag | Ros2Bag,
    topics: list[str],
    a: argparse.Namespace,
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
    bar = tqdm(total=total, desc=bag.path.name, unit="frame", disable=a.no_progress or None, leave=False)

    def jobs() -> Iterator[Job]:
        """The frames to convert; frames left out, or kept from an earlier run, are counted here."""
        for frame in bag.frames(topics):
            bar.update()
            c = counts[frame.topic]
            c.read += 1
            if not samplers[frame.topic].keep(frame.time - bag.start):
                c.sampled_out += 1
                continue
            sec, nsec = cdr_header_stamp(frame.raw) if frame.cdr else ros1_header_stamp(frame.raw)
            if sec == 0 and nsec == 0:  # no stamp in the header: the bag's receive time stands in
                sec, nsec = int(frame.time), int(round((frame.time % 1) * 1e9)) % 1_000_000_000
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
                print(
                    f"extract_images: warning: {bag.path}: {job.frame.topic}: {result.message}; such frames are skipped",
                    flush=True,
                )
        else:
            rows.append(result)
            c.written += 1
    bar.close()
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    """``rosrun tl_classifier extract_images BAG [BAG...] -o OUTDIR``."""
    return run_main(_extract, argv, "extract_images")
