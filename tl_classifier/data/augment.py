"""Augmentations for what changes between recordings, in TensorFlow ops (for ``tf.data``).

One implementation serves the detector's and the crop classifier's training.
What changes from one recording to the next, and what each op stands for:

* white balance (a gain per channel): the sunny site's lamps look orange, the overcast ones pink;
* exposure and gamma: washed-out lamps in the sun, dark frames under clouds;
* haze (a bright veil over the whole frame, as sunlight scattered in the lens or the windscreen): the sunny
  site's frames are milky, and their red lamps look white-yellow;
* contrast and saturation: cameras and JPEG settings;
* blur: focus, motion, and a far light upsampled;
* JPEG quality: frames saved by ``image_saver`` or compressed on the car;
* sensor noise;
* for the crop classifier only, colour washed out almost entirely (:func:`colourless`): on the overcast
  site a lit red lamp is a white disc in a yellow housing, and only *which* lamp is lit tells the state.

The hue is left almost alone on purpose (at most 0.01 of the circle): a lamp's
hue is the signal; the red-as-green mix-up must not be taught.
"""

from __future__ import annotations

from typing import Any

from tl_classifier.tf_setup import import_tensorflow


def _blur(tf: Any, image: Any, sigma: Any) -> Any:
    """A separable 5-tap Gaussian blur of a float H x W x 3 image."""
    x = tf.range(-2.0, 3.0)
    k = tf.exp(-(x**2) / (2.0 * sigma**2))
    k = k / tf.reduce_sum(k)
    kh = tf.tile(tf.reshape(k, [1, 5, 1, 1]), [1, 1, 3, 1])
    kv = tf.tile(tf.reshape(k, [5, 1, 1, 1]), [1, 1, 3, 1])
    out = tf.nn.depthwise_conv2d(image[None], kh, [1, 1, 1, 1], "SAME")
    return tf.nn.depthwise_conv2d(out, kv, [1, 1, 1, 1], "SAME")[0]


def photometric(image: Any, strength: float = 1.0) -> Any:
    """Randomly change a float32 H x W x 3 RGB image in 0..255 as another recording would; returns the same range.

    :param strength: scales every range (0: nothing changes).
    """
    tf = import_tensorflow()
    s = float(strength)
    u = lambda lo, hi, shape=(): tf.random.uniform(shape, lo, hi)  # noqa: E731
    x = image / 255.0
    x = x * u(1 - 0.25 * s, 1 + 0.25 * s, [3])  # white balance
    x = x * tf.exp(u(-0.7 * s, 0.7 * s))  # exposure
    x = tf.clip_by_value(x, 0.0, 1.0) ** tf.exp(u(-0.4 * s, 0.4 * s))  # gamma
    veil = u(0.6, 1.0) * u(0.92, 1.0, [3])  # a bright, near-grey (slightly tinted) veil
    amount = tf.where(u(0.0, 1.0) < 0.3 * min(s, 1.0), u(0.0, 0.5 * s), 0.0)
    x = x * (1.0 - amount) + amount * veil  # haze
    mean = tf.reduce_mean(x)
    x = (x - mean) * u(1 - 0.3 * s, 1 + 0.3 * s) + mean  # contrast
    grey = tf.reduce_mean(x, axis=-1, keepdims=True)
    x = (x - grey) * u(1 - 0.4 * s, 1 + 0.3 * s) + grey  # saturation
    x = tf.image.adjust_hue(tf.clip_by_value(x, 0.0, 1.0), u(-0.01 * s, 0.01 * s))
    x = tf.cond(u(0.0, 1.0) < 0.3 * min(s, 1.0), lambda: _blur(tf, x, u(0.5, 0.5 + 1.2 * s)), lambda: x)
    x = x + tf.random.normal(tf.shape(x), 0.0, u(0.0, 0.02 * s))  # noise
    x = tf.clip_by_value(x, 0.0, 1.0)
    x = tf.cond(
        u(0.0, 1.0) < 0.3 * min(s, 1.0),
        lambda: tf.image.adjust_jpeg_quality(x, tf.cast(u(25.0, 95.0), tf.int32)),
        lambda: x,
    )
    return tf.ensure_shape(x, image.shape) * 255.0


def colourless(image: Any, chance: float = 0.25, keep: float = 0.25) -> Any:
    """With probability ``chance``, keep at most ``keep`` of a float H x W x 3 image's saturation (any range).

    A classifier that sees some crops nearly grey must learn where the lit lamp is (top, middle,
    bottom), not only its colour: held out, the overcast site's lit red lamps (white discs in a
    yellow housing) were read as YELLOW.  The hue is not changed, so no red is turned into green;
    the lamp check (:mod:`tl_classifier.model.lamp`) still wants a green glow for a GREEN.
    """
    tf = import_tensorflow()
    grey = tf.reduce_mean(image, axis=-1, keepdims=True)
    left = tf.where(tf.random.uniform([]) < chance, tf.random.uniform([], 0.0, keep), 1.0)
    return grey + (image - grey) * left
