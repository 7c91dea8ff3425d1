"""Writing camera frames into ROS 1 bags with the rosbag API."""

from __future__ import annotations

import os
from collections.abc import Iterable

import numpy as np
import rosbag
import rospy

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
