"""A colour-threshold traffic-light detector written as a TensorFlow graph.

It is **not trained**: it marks saturated, bright pixels whose hue is red,
yellow or green, scores every ``cell`` x ``cell`` window by how much of it is
lit in one colour (an average pool), and keeps the best windows with
TensorFlow's own ``combined_non_max_suppression``.  Exported with
:func:`tl_classifier.model.export.export_detector`, it is a real Object Detection
API-format model (the same tensors, the same files), so the node, the tests and
the demo run the real code path end to end.  It finds the lit lamps of
simulator lights well; it is no match for a trained model on the car's camera.

It also makes the RGB/BGR mix-up visible: a red lamp fed in BGR order looks
blue, and blue is no traffic-light colour, so the state becomes UNKNOWN.
"""

from __future__ import annotations

from typing import Any

from tl_classifier.data.label_map import LabelMap
from tl_classifier.fields import DetectionFields as D
from tl_classifier.model.export import DetectFn

#: The tutorial's label map (ids from 1): Green=1 Red=2 Yellow=3 off=4.
LABEL_MAP = LabelMap({1: "Green", 2: "Red", 3: "Yellow", 4: "off"})


def colour_detector(
    cell: int = 12,
    stride: int = 6,
    fill: float = 0.35,
    min_score: float = 0.2,
    max_detections: int = 10,
    cost: int = 0,
) -> DetectFn:
    """Return the detector function (uint8 RGB [1, H, W, 3] -> OD API outputs).

    :param cell: window size in pixels; a lamp about this wide scores highest.
    :param stride: step between windows; ``cell`` must be a multiple of it.
    :param fill: fraction of lit pixels in a window that scores 1.0.
    :param min_score: windows below it are not reported.
    :param cost: extra full-image 3x3 convolutions whose result is added to
        the scores times zero: the same detections, only slower.  The tests use
        it to get a model slower than a 30 Hz camera.
    """
    from tl_classifier.tf_setup import import_tensorflow

    tf = import_tensorflow()

    def detect(image: Any) -> dict[str, Any]:
        x = tf.cast(image, tf.float32) / 255.0
        hsv = tf.image.rgb_to_hsv(x)
        hue, sat, val = hsv[..., 0], hsv[..., 1], hsv[..., 2]
        lit = (sat > 0.45) & (val > 0.55)
        green = lit & (hue >= 0.22) & (hue < 0.5)
        red = lit & ((hue < 0.045) | (hue > 0.93))
        yellow = lit & (hue >= 0.1) & (hue < 0.2)
        masks = tf.cast(tf.stack([green, red, yellow], axis=-1), tf.float32)  # label ids 1, 2, 3
        # A cell x cell window every stride pixels, in two cheap steps: sum
        # disjoint stride x stride blocks, then add neighbouring blocks.
        blocks = tf.nn.avg_pool2d(masks, ksize=stride, strides=stride, padding="VALID")
        frac = tf.nn.avg_pool2d(blocks, ksize=cell // stride, strides=1, padding="VALID")
        scores = tf.clip_by_value(frac / fill, 0.0, 1.0)
        if cost:
            y = x
            kernel = tf.fill([3, 3, 3, 3], 1.0 / 27.0)
            for _ in range(cost):
                y = tf.nn.conv2d(y, kernel, 1, "SAME")
            scores = scores + 0.0 * tf.reduce_mean(y)
        shape = tf.shape(frac)
        gh, gw = shape[1], shape[2]
        height = tf.cast(tf.shape(image)[1], tf.float32)
        width = tf.cast(tf.shape(image)[2], tf.float32)
        iy, ix = tf.meshgrid(tf.range(gh), tf.range(gw), indexing="ij")
        y0 = tf.cast(iy * stride, tf.float32)
        x0 = tf.cast(ix * stride, tf.float32)
        boxes = tf.stack([y0 / height, x0 / width, (y0 + cell) / height, (x0 + cell) / width], axis=-1)
        boxes = tf.reshape(boxes, [-1, 4])
        flat = tf.reshape(scores, [-1, 3])
        # NMS over only the best windows: a frame has tens of thousands of them.
        k = tf.minimum(tf.shape(flat)[0], 20 * max_detections)
        top = tf.math.top_k(tf.reduce_max(flat, axis=-1), k=k).indices
        boxes = tf.gather(boxes, top)[tf.newaxis, :, tf.newaxis, :]
        flat = tf.gather(flat, top)[tf.newaxis]
        nms = tf.image.combined_non_max_suppression(
            boxes,
            flat,
            max_output_size_per_class=max_detections,
            max_total_size=max_detections,
            iou_threshold=0.2,
            score_threshold=min_score,
            clip_boxes=True,
        )
        return {
            D.boxes: nms.nmsed_boxes,
            D.scores: nms.nmsed_scores,
            D.classes: nms.nmsed_classes + 1.0,
            D.num_detections: tf.cast(nms.valid_detections, tf.float32),
        }

    return detect
