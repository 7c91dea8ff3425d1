"""ROS 1 and ROS 2 bags: reading camera frames (``rosbag``, and the ``rosbags`` library for ROS 2), and writing them.

A ROS 1 bag whose recording was cut off (no index) is read up to its last complete chunk, and what was lost is said.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rosbag
import rospy

from tl_classifier.errors import ImageError, TLClassifierError
from tl_classifier.files import atomic_output
from tl_classifier.ros.convert import rgb_to_compressed, rgb_to_image


def write_bag(
    path: str | os.PathLike[str],
    frames: Iterable[np.ndarray],
    topic: str = "/image_color",
    encoding: str = "rgb8",
    rate_hz: float = 10.0,
    start: float = 1_000_000_000.0,
    frame_id: str = "camera",
    overwrite: bool = False,
) -> int:
    """Write RGB frames to a bag, one ``sensor_msgs/Image`` (or ``CompressedImage``) each.

    Frame *i* gets header stamp and bag time ``start + i / rate_hz``.  The bag is
    written under a temporary name and renamed when complete.

    :param encoding: an Image encoding (rgb8, bgr8, ..., bayer_*8), or
        ``jpeg``/``png`` for CompressedImage (on ``topic``, as given).
    :returns: the number of frames written.
    :raises OutputExistsError: if ``path`` exists and ``overwrite`` is false.
    :raises ImageError: for an unsupported encoding.
    """
    count = 0
    with atomic_output(path, overwrite) as tmp, rosbag.Bag(str(tmp), "w") as bag:
        for i, rgb in enumerate(frames):
            msg = rgb_to_compressed(rgb, encoding) if encoding in ("jpeg", "png") else rgb_to_image(rgb, encoding)
            # in whole nanoseconds: a float of 1.5e9 s cannot hold them exactly
            ns = int(round((start - int(start)) * 1e9)) + int(round(i * 1e9 / rate_hz))
            stamp = rospy.Time(int(start) + ns // 1_000_000_000, ns % 1_000_000_000)
            msg.header.stamp = stamp
            msg.header.seq = i
            msg.header.frame_id = frame_id
            bag.write(topic, msg, stamp)
            count += 1
    return count


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

    def stamp(self) -> tuple[int, int]:
        """The header stamp (sec, nsec), read from the serialized bytes without deserializing the image;
        a header without a stamp gets the bag's receive time instead."""
        from tl_classifier.data.images import cdr_header_stamp, ros1_header_stamp

        sec, nsec = cdr_header_stamp(self.raw) if self.cdr else ros1_header_stamp(self.raw)
        if sec == 0 and nsec == 0:
            sec, nsec = int(self.time), int(round((self.time % 1) * 1e9)) % 1_000_000_000
        return sec, nsec

    def stamp_seconds(self) -> float:
        sec, nsec = self.stamp()
        return sec + nsec * 1e-9


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


def pick_topics(bag: Ros1Bag | Ros2Bag, wanted: list[str]) -> list[str]:
    """The image topics to read: ``wanted`` (checked to be image topics), or every image topic of the bag."""
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
