"""Every camera encoding becomes the right RGB (cv_bridge; no master needed)."""

from __future__ import annotations

import numpy as np
import pytest

from tl_classifier.errors import ImageError
from tl_classifier.ros.convert import ENCODINGS, image_to_rgb, mosaic, rgb_to_compressed, rgb_to_image


@pytest.fixture(scope="module")
def red(frames):
    return frames["red"][0]


@pytest.mark.parametrize("encoding", ["rgb8", "bgr8", "rgba8", "bgra8"])
def test_colour_encodings_are_exact(red, encoding):
    msg = rgb_to_image(red, encoding)
    assert msg.encoding == encoding and (msg.height, msg.width) == red.shape[:2]
    np.testing.assert_array_equal(image_to_rgb(msg), red)


def test_bgr8_bytes_really_are_bgr(red):
    msg = rgb_to_image(red, "bgr8")
    raw = np.frombuffer(msg.data, np.uint8).reshape(red.shape)
    np.testing.assert_array_equal(raw[..., 0], red[..., 2])


def test_mono8_is_grey_in_all_channels(red):
    rgb = image_to_rgb(rgb_to_image(red, "mono8"))
    assert rgb.shape == red.shape
    assert (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all()


@pytest.mark.parametrize("encoding", [e for e in ENCODINGS if e.startswith("bayer_")])
def test_bayer_patterns_keep_colours(red, encoding):
    rgb = image_to_rgb(rgb_to_image(red, encoding))
    assert rgb.shape == red.shape
    # demosaicing is not lossless, but colours must stay where they were
    diff = np.abs(rgb.astype(int) - red.astype(int)).mean(axis=(0, 1))
    assert (diff < 12).all(), diff
    reds = (red[..., 0] > 200) & (red[..., 1] < 80)
    assert reds.sum() > 50
    assert rgb[reds][:, 0].mean() > 2 * rgb[reds][:, 2].mean()


def test_mosaic_places_red_and_blue():
    rgb = np.zeros((4, 4, 3), np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 10, 20, 30
    assert mosaic(rgb, "rggb")[0, 0] == 10 and mosaic(rgb, "rggb")[1, 1] == 30 and mosaic(rgb, "rggb")[0, 1] == 20
    assert mosaic(rgb, "bggr")[0, 0] == 30 and mosaic(rgb, "grbg")[0, 1] == 10 and mosaic(rgb, "gbrg")[1, 0] == 10


def test_compressed_png_is_exact_and_jpeg_close(red):
    np.testing.assert_array_equal(image_to_rgb(rgb_to_compressed(red, "png")), red)
    jpeg = image_to_rgb(rgb_to_compressed(red, "jpeg", 95))
    assert np.abs(jpeg.astype(int) - red.astype(int)).mean() < 3


def test_unsupported_and_broken(red):
    msg = rgb_to_image(red, "rgb8")
    msg.encoding = "16UC1"
    with pytest.raises(ImageError, match="unsupported image encoding"):
        image_to_rgb(msg)
    msg = rgb_to_image(red, "rgb8")
    msg.data = msg.data[:100]
    with pytest.raises(ImageError):
        image_to_rgb(msg)
    bad = rgb_to_compressed(red)
    bad.data = b"not a jpeg"
    with pytest.raises(ImageError):
        image_to_rgb(bad)
    with pytest.raises(ImageError):
        rgb_to_image(red, "yuv422")
