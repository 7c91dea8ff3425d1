"""The augmentation for what changes between recordings: ranges, the lamp's hue kept, haze present."""

from __future__ import annotations

import numpy as np

from tl_classifier.data.augment import colourless, photometric
from tl_classifier.tf_setup import import_tensorflow


def _draws(image: np.ndarray, n: int, strength: float = 1.0) -> np.ndarray:
    tf = import_tensorflow()
    tf.random.set_seed(0)
    x = tf.constant(image, tf.float32)
    return np.stack([photometric(x, strength).numpy() for _ in range(n)])


def test_shape_range_and_strength_zero():
    rng = np.random.default_rng(0)
    image = rng.uniform(0, 255, (16, 8, 3)).astype(np.float32)
    out = _draws(image, 20)
    assert out.shape == (20, 16, 8, 3) and out.min() >= 0 and out.max() <= 255
    same = _draws(image, 1, strength=0.0)[0]
    assert np.abs(same - image).max() < 1e-3


def test_a_red_lamp_never_turns_green():
    """The hue is the signal: whatever the draw, a lit red lamp stays redder than it is green."""
    lamp = np.zeros((16, 8, 3), np.float32)
    lamp[4:12, 2:6] = (255, 40, 30)
    out = _draws(lamp, 200)[:, 4:12, 2:6].mean(axis=(1, 2))  # the lamp's mean colour per draw
    assert (out[:, 0] > out[:, 1]).all()


def test_haze_lifts_the_dark_parts_of_some_frames():
    """Only the haze veil brightens a black frame (exposure, gamma and contrast scale it, noise is a few levels)."""
    out = _draws(np.zeros((16, 8, 3), np.float32), 200)
    hazed = (out.mean(axis=(1, 2, 3)) > 20).mean()
    assert 0.1 <= hazed <= 0.5, hazed


def test_colourless_greys_some_crops_and_keeps_the_hue():
    """A share ``chance`` of draws keeps at most ``keep`` of the saturation; the lamp stays red, never turns green."""
    tf = import_tensorflow()
    tf.random.set_seed(0)
    lamp = np.zeros((16, 8, 3), np.float32)
    lamp[4:12, 2:6] = (250, 40, 30)
    x = tf.constant(lamp)
    draws = np.stack([colourless(x, chance=0.25, keep=0.25).numpy() for _ in range(400)])[:, 4:12, 2:6].mean(axis=(1, 2))
    spread = draws[:, 0] - draws[:, 1]  # red minus green of the lamp: 210 when untouched
    greyed = spread < 210 * 0.25 + 1e-3
    assert 0.15 <= greyed.mean() <= 0.35, greyed.mean()
    assert np.allclose(spread[~greyed], 210, atol=1e-3)
    assert (spread >= 0).all()  # never greener than red
    assert np.allclose(colourless(x, chance=0.0).numpy(), lamp)
    assert np.allclose(colourless(x, chance=1.0, keep=1e-6).numpy(), lamp.mean(axis=-1, keepdims=True), atol=1e-2)
