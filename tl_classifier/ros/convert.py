"""Camera messages to RGB arrays and back, with cv_bridge doing the encodings.

cv_bridge is ROS's own converter: it knows every ``sensor_msgs/Image``
encoding (rgb8, bgr8, rgba8, bgra8, mono8, the four bayer_*8 patterns, ...)
and decodes ``sensor_msgs/CompressedImage``.  Everything leaves here as RGB,
because the models are trained on RGB: never hand a model cv2's BGR.
"""

from __future__ import annotations

import cv2
import numpy as np
from cv_bridge import CvBridge, CvBridgeError
from sensor_msgs.msg import CompressedImage, Image

from tl_classifier.errors import ImageError

#: Encodings of sensor_msgs/Image the node accepts.
ENCODINGS = (
    "rgb8",
    "bgr8",
    "rgba8",
    "bgra8",
    "mono8",
    "bayer_rggb8",
    "bayer_bggr8",
    "bayer_gbrg8",
    "bayer_grbg8",
)
_BAYER_OFFSETS = {  # where R and B sit in each 2x2 tile: (row, col)
    "rggb": ((0, 0), (1, 1)),
    "bggr": ((1, 1), (0, 0)),
    "gbrg": ((1, 0), (0, 1)),
    "grbg": ((0, 1), (1, 0)),
}
_CHANNELS = {e: 3 if e in ("rgb8", "bgr8") else 4 if e in ("rgba8", "bgra8") else 1 for e in ENCODINGS}
_bridge = CvBridge()


def check_layout(width: int, height: int, step: int, size: int, channels: int) -> None:
    """Check a raw image's header against its data, before anything reads it.

    :raises ImageError: for an empty image, a row step shorter than a row of pixels,
        or data shorter than ``step`` x ``height`` (a header that promises more than it carries).
    """
    if width <= 0 or height <= 0:
        raise ImageError(f"empty image ({width}x{height})")
    if step < width * channels:
        raise ImageError(f"row step {step} is shorter than a row of {width} pixels x {channels} bytes")
    if size < step * height:
        raise ImageError(f"data has {size} bytes, the header promises {step} x {height} = {step * height}")


def image_to_rgb(msg: Image | CompressedImage) -> np.ndarray:
    """Decode a camera message (``sensor_msgs/Image`` or ``CompressedImage``) into a uint8 H x W x 3 RGB array.

    :raises ImageError: if the encoding is not one of :data:`ENCODINGS`, the
        data do not match the header, or a compressed image does not decode.
    """
    try:
        # By type name, not isinstance: rosbag hands out classes generated from
        # the bag's own definitions, which are not sensor_msgs.msg's classes.
        # (ROS 2 messages read by the rosbags library name their type in __msgtype__.)
        kind = str(getattr(msg, "_type", None) or getattr(msg, "__msgtype__", ""))
        if kind.endswith("CompressedImage"):
            # OpenCV directly (cv_bridge's compressed path is imdecode + cvtColor, and on bytes that do
            # not decode it fails inside cvtColor with an assertion text that names no cause)
            data = np.frombuffer(bytes(msg.data), np.uint8)
            bgr = cv2.imdecode(data, cv2.IMREAD_COLOR) if len(data) else None
            if bgr is None or bgr.ndim != 3 or not bgr.size:
                what = "no data" if not len(data) else f"{len(data)} bytes that do not decode as an image"
                raise ImageError(f"compressed image ({msg.format or 'no format'}): {what}")
            return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        if msg.encoding not in ENCODINGS:
            raise ImageError(f"unsupported image encoding {msg.encoding!r} (supported: {', '.join(ENCODINGS)})")
        check_layout(msg.width, msg.height, msg.step, len(msg.data), _CHANNELS[msg.encoding])
        if msg.encoding == "rgb8" and msg.step == 3 * msg.width and len(msg.data) == msg.step * msg.height:
            # Already RGB and packed: a read-only view of the message's bytes, no copy
            # (cv_bridge would copy 4.5 MB of a car camera frame to convert nothing).
            return np.frombuffer(msg.data, np.uint8).reshape(msg.height, msg.width, 3)
        return _bridge.imgmsg_to_cv2(msg, "rgb8")
    except (CvBridgeError, cv2.error, TypeError, ValueError) as err:
        raise ImageError(f"cannot decode image: {err}") from err


def mosaic(rgb: np.ndarray, pattern: str) -> np.ndarray:
    """Sample an RGB image into one Bayer pattern (``rggb``, ``bggr``, ``gbrg``, ``grbg``), as a camera sensor would."""
    (ry, rx), (by, bx) = _BAYER_OFFSETS[pattern]
    raw = rgb[..., 1].copy()
    raw[ry::2, rx::2] = rgb[ry::2, rx::2, 0]
    raw[by::2, bx::2] = rgb[by::2, bx::2, 2]
    return raw


def rgb_to_image(rgb: np.ndarray, encoding: str = "rgb8") -> Image:
    """Encode an RGB array as a ``sensor_msgs/Image`` in ``encoding`` (one of :data:`ENCODINGS`).

    :raises ImageError: for an unsupported encoding.
    """
    if encoding not in ENCODINGS:
        raise ImageError(f"unsupported image encoding {encoding!r} (supported: {', '.join(ENCODINGS)})")
    if encoding.startswith("bayer_"):
        return _bridge.cv2_to_imgmsg(mosaic(rgb, encoding[6:10]), encoding)
    convert = {
        "rgb8": None,
        "bgr8": cv2.COLOR_RGB2BGR,
        "rgba8": cv2.COLOR_RGB2RGBA,
        "bgra8": cv2.COLOR_RGB2BGRA,
        "mono8": cv2.COLOR_RGB2GRAY,
    }[encoding]
    data = rgb if convert is None else cv2.cvtColor(rgb, convert)
    return _bridge.cv2_to_imgmsg(np.ascontiguousarray(data), encoding)


def rgb_to_compressed(rgb: np.ndarray, fmt: str = "jpeg", quality: int = 90) -> CompressedImage:
    """Encode an RGB array as a ``sensor_msgs/CompressedImage`` (``jpeg`` or ``png``)."""
    ext = {"jpeg": ".jpg", "jpg": ".jpg", "png": ".png"}[fmt]
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)] if ext == ".jpg" else []
    ok, buf = cv2.imencode(ext, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), params)
    if not ok:
        raise ImageError(f"cannot encode image as {fmt}")
    msg = CompressedImage()
    msg.format = "jpeg" if ext == ".jpg" else "png"
    msg.data = buf.tobytes()
    return msg
