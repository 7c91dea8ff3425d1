"""A built-in detector trainer that needs no Object Detection API.

The detector is CenterNet-style ("Objects as Points"): a Keras applications
MobileNetV2 backbone, a small feature pyramid that brings its stride-16 and
stride-8 features up to stride 4 (traffic lights are often under 20 px wide:
they need fine, multi-scale features), and two heads on the stride-4 grid: a
heatmap per class whose peaks are light centres, and the box size at each
centre; with ``ModelSpec.offsets``, a third: where in its cell the centre is
(CenterNet's offset head; without it a box is centred on its cell, up to half a
cell off, a third of a far light's width).  Decoding is TensorFlow ops only (a 3x3 max-pool keeps the peaks, then
``top_k``), so the exported graph runs anywhere TensorFlow does.

Why this and not an SSD or Faster R-CNN: it is one small network with no
anchors to tune, it trains from scratch on a few hundred images on a CPU, and
its output is exactly the OD API's four tensors after decoding, so it is
exported with :func:`tl_classifier.model.export.export_detector` and treated by the
node and the evaluation like any OD API model.

Training reads the TFRecords that ``create_tf_record`` writes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tl_classifier.errors import TLClassifierError
from tl_classifier.fields import DetectionFields as D
from tl_classifier.fields import TfExampleFields as F
from tl_classifier.tf_setup import import_tensorflow

STRIDE = 4


class TrainError(TLClassifierError):
    """Training cannot start or go on."""


@dataclass(frozen=True)
class ModelSpec:
    """The network's shape: input size (the frame is resized to it), classes, width."""

    num_classes: int
    input_height: int = 384
    input_width: int = 512
    alpha: float = 0.5  #: MobileNetV2 width multiplier
    channels: int = 64  #: feature pyramid and head width
    max_detections: int = 20
    #: a head that says where in its stride-4 cell each centre is (CenterNet's offset); without it, the cell's middle
    offsets: bool = False

    @property
    def channels_out(self) -> int:
        """The network's output channels: heatmaps, width and height, and the centre's offset in its cell if any."""
        return self.num_classes + 2 + (2 if self.offsets else 0)


def build_model(spec: ModelSpec, backbone_weights: str | None = None) -> Any:
    """The Keras model: float RGB image in 0..255, [B, H, W, 3] -> [B, H/4, W/4, spec.channels_out].

    After the heatmaps: the box width and height in stride-4 cells, then (``spec.offsets``) the centre's x and y in
    its cell, 0..1.
    """
    tf = import_tensorflow()
    keras = tf.keras
    inputs = keras.Input((spec.input_height, spec.input_width, 3), name="image")
    x = keras.applications.mobilenet_v2.preprocess_input(inputs)
    try:
        backbone = keras.applications.MobileNetV2(
            input_shape=(spec.input_height, spec.input_width, 3), alpha=spec.alpha, include_top=False,
            weights=backbone_weights,
        )  # fmt: skip
    except Exception as err:  # a download that fails offline, a weights file of another shape
        raise TrainError(f"cannot build the backbone with weights {backbone_weights!r} ({err})") from err
    for layer in backbone.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            # Keras' MobileNetV2 uses momentum 0.999, made for fine-tuning: from scratch, the moving
            # statistics would lag the weights by thousands of steps and inference would see garbage
            layer.momentum = 0.9
    names = ("block_2_add", "block_5_add", "block_12_add")  # strides 4, 8, 16
    features = keras.Model(backbone.input, [backbone.get_layer(n).output for n in names], name="backbone")
    c4, c8, c16 = features(x)
    conv, sep = keras.layers.Conv2D, keras.layers.SeparableConv2D
    fine = spec.channels // 2  # the stride-4 grid is large: thinner, separable convolutions there
    p = conv(spec.channels, 1, name="lat16")(c16)
    p = keras.layers.UpSampling2D(2, interpolation="bilinear")(p)
    p = keras.layers.Add()([p, conv(spec.channels, 1, name="lat8")(c8)])
    p = sep(spec.channels, 3, padding="same", activation="relu", name="smooth8")(p)
    p = keras.layers.UpSampling2D(2, interpolation="bilinear")(conv(fine, 1, name="reduce8")(p))
    p = keras.layers.Add()([p, conv(fine, 1, name="lat4")(c4)])
    p = sep(fine, 3, padding="same", activation="relu", name="smooth4")(p)
    heat = sep(fine, 3, padding="same", activation="relu", name="heat_conv")(p)
    prior = -math.log((1 - 0.01) / 0.01)  # start every class at 1 % (focal-loss init)
    heat = conv(spec.num_classes, 1, bias_initializer=keras.initializers.Constant(prior), name="heatmap")(heat)
    size = sep(fine, 3, padding="same", activation="relu", name="size_conv")(p)
    size = conv(2, 1, name="size")(size)
    heads = [heat, size]
    if spec.offsets:
        offset = sep(fine, 3, padding="same", activation="relu", name="offset_conv")(p)
        heads.append(conv(2, 1, bias_initializer=keras.initializers.Constant(0.5), name="offset")(offset))
    return keras.Model(inputs, keras.layers.Concatenate(name="outputs")(heads), name="tl_centernet")


# --- targets and loss -------------------------------------------------------------------


def make_targets(boxes: Any, classes: Any, spec: ModelSpec) -> Any:
    """Heatmaps (a Gaussian per box), sizes and a centre mask on the stride-4 grid.

    :param boxes: float [N, 4] normalised ymin, xmin, ymax, xmax.
    :param classes: int [N], from 1.
    :returns: float [H/4, W/4, spec.channels_out + 1]: heatmaps, width, height, (``spec.offsets``) the centre's x
        and y in its cell, mask.
    """
    tf = import_tensorflow()
    gh, gw = spec.input_height // STRIDE, spec.input_width // STRIDE
    ymin, xmin, ymax, xmax = (boxes[:, i] for i in range(4))
    cy, cx = (ymin + ymax) / 2 * gh, (xmin + xmax) / 2 * gw
    bh, bw = (ymax - ymin) * gh, (xmax - xmin) * gw
    ys = tf.range(gh, dtype=tf.float32)[:, None, None] + 0.5
    xs = tf.range(gw, dtype=tf.float32)[None, :, None] + 0.5
    sy, sx = tf.maximum(bh / 6.0, 0.5), tf.maximum(bw / 6.0, 0.5)
    g = tf.exp(-((ys - cy) ** 2 / (2 * sy**2) + (xs - cx) ** 2 / (2 * sx**2)))  # [gh, gw, N]
    onehot = tf.one_hot(classes - 1, spec.num_classes)  # [N, C]
    heat = tf.reduce_max(g[..., :, None] * onehot[None, None], axis=2)  # [gh, gw, C]
    iy = tf.clip_by_value(tf.cast(tf.floor(cy), tf.int32), 0, gh - 1)
    ix = tf.clip_by_value(tf.cast(tf.floor(cx), tf.int32), 0, gw - 1)
    idx = tf.stack([iy, ix], axis=1)
    peak = tf.scatter_nd(idx, tf.ones_like(cy), [gh, gw])
    heat = tf.maximum(heat, peak[..., None] * onehot_at(idx, classes, spec, tf))
    wh = tf.scatter_nd(idx, tf.stack([bw, bh], axis=1), [gh, gw, 2])
    mask = tf.minimum(peak, 1.0)[..., None]
    if not spec.offsets:
        return tf.concat([heat, wh, mask], axis=-1)
    # two lights in one cell: scatter_nd adds their offsets; their mean is as good a centre as either
    inside = tf.stack([cx - tf.cast(ix, tf.float32), cy - tf.cast(iy, tf.float32)], axis=1)
    offset = tf.scatter_nd(idx, inside, [gh, gw, 2]) / tf.maximum(peak, 1.0)[..., None]
    return tf.concat([heat, wh, offset, mask], axis=-1)


def onehot_at(idx: Any, classes: Any, spec: ModelSpec, tf: Any) -> Any:
    """A [gh, gw, C] map with 1 at each box centre in its class channel (exact peaks for the focal loss)."""
    gh, gw = spec.input_height // STRIDE, spec.input_width // STRIDE
    full = tf.concat([idx, classes[:, None] - 1], axis=1)
    return tf.minimum(tf.scatter_nd(full, tf.ones_like(classes, tf.float32), [gh, gw, spec.num_classes]), 1.0)


def centernet_loss(num_classes: int, offsets: bool = False) -> Any:
    """Focal loss on the heatmaps (CenterNet's) plus 0.1 x L1 on the sizes at centres (and, with ``offsets``, 1 x L1
    on the centres' offsets in their cells, CenterNet's weights)."""
    tf = import_tensorflow()

    def loss(y_true: Any, y_pred: Any) -> Any:
        heat_t, wh_t, mask = y_true[..., :num_classes], y_true[..., num_classes : num_classes + 2], y_true[..., -1:]
        centres = tf.maximum(tf.reduce_sum(mask), 1.0)
        heat_p = tf.clip_by_value(tf.sigmoid(y_pred[..., :num_classes]), 1e-4, 1 - 1e-4)
        pos = tf.cast(heat_t >= 1.0 - 1e-6, tf.float32)
        pos_loss = -tf.math.log(heat_p) * (1 - heat_p) ** 2 * pos
        neg_loss = -tf.math.log(1 - heat_p) * heat_p**2 * (1 - heat_t) ** 4 * (1 - pos)
        n = tf.maximum(tf.reduce_sum(pos), 1.0)
        focal = (tf.reduce_sum(pos_loss) + tf.reduce_sum(neg_loss)) / n
        size = tf.reduce_sum(tf.abs(y_pred[..., num_classes : num_classes + 2] - wh_t) * mask) / centres
        if not offsets:
            return focal + 0.1 * size
        off_t, off_p = y_true[..., num_classes + 2 : num_classes + 4], y_pred[..., num_classes + 2 : num_classes + 4]
        return focal + 0.1 * size + tf.reduce_sum(tf.abs(off_p - off_t) * mask) / centres

    return loss


# --- decoding, export ---------------------------------------------------------------------


def decode_peaks(out: Any, spec: ModelSpec) -> tuple[Any, Any, Any]:
    """The network's output [B, H/4, W/4, spec.channels_out] -> the ``max_detections`` best peaks: boxes, scores,
    class ids from 1.

    A 3x3 max-pool keeps the local maxima of each class's heatmap, then ``top_k``
    takes the best; boxes are normalised ``[ymin, xmin, ymax, xmax]``, best first, centred where the offset head
    says in their cell (``spec.offsets``), else in its middle.
    """
    tf = import_tensorflow()
    heat = tf.sigmoid(out[..., : spec.num_classes])
    peaks = tf.cast(tf.equal(heat, tf.nn.max_pool2d(heat, 3, 1, "SAME")), tf.float32) * heat
    gh, gw = spec.input_height // STRIDE, spec.input_width // STRIDE
    flat = tf.reshape(peaks, [tf.shape(peaks)[0], -1])
    scores, index = tf.math.top_k(flat, k=spec.max_detections)
    cls = index % spec.num_classes
    cell = index // spec.num_classes
    cy = tf.cast(cell // gw, tf.float32)
    cx = tf.cast(cell % gw, tf.float32)
    if spec.offsets:
        off = tf.gather(tf.reshape(out[..., spec.num_classes + 2 :], [tf.shape(out)[0], -1, 2]), cell, batch_dims=1)
        cx, cy = cx + tf.clip_by_value(off[..., 0], 0.0, 1.0), cy + tf.clip_by_value(off[..., 1], 0.0, 1.0)
    else:
        cx, cy = cx + 0.5, cy + 0.5
    wh = tf.gather(tf.reshape(out[..., spec.num_classes : spec.num_classes + 2], [tf.shape(out)[0], -1, 2]), cell, batch_dims=1)
    w, h = tf.maximum(wh[..., 0], 0.5), tf.maximum(wh[..., 1], 0.5)
    boxes = tf.stack([(cy - h / 2) / gh, (cx - w / 2) / gw, (cy + h / 2) / gh, (cx + w / 2) / gw], axis=-1)
    return tf.clip_by_value(boxes, 0.0, 1.0), scores, cls + 1


def detector_fn(model: Any, spec: ModelSpec, min_score: float = 0.05) -> Any:
    """The export function: uint8 RGB [1, H, W, 3] of any size -> the OD API's four outputs."""
    tf = import_tensorflow()

    def detect(image: Any) -> dict[str, Any]:
        x = tf.image.resize(tf.cast(image, tf.float32), (spec.input_height, spec.input_width), antialias=True)
        boxes, scores, cls = decode_peaks(model(x, training=False), spec)
        keep = scores >= min_score
        # top_k sorts by score, so the kept detections come first
        return {
            D.boxes: boxes,
            D.scores: scores * tf.cast(keep, tf.float32),
            D.classes: tf.cast(cls, tf.float32),
            D.num_detections: tf.reduce_sum(tf.cast(keep, tf.float32), axis=1),
        }

    return detect


# --- data -------------------------------------------------------------------------------------


def dataset(
    records: Sequence[str | Path],
    spec: ModelSpec,
    batch: int,
    training: bool,
    seed: int,
    class_agnostic: bool = False,
    mosaic: float = 0.0,
    paste: float = 0.0,
    bank: LightBank | None = None,
) -> Any:
    """A batched ``tf.data`` pipeline of (image, targets) from OD API TFRecords, augmented when training.

    Augmentation: horizontal flips, zoom in and out (crops of 60-150 % of the frame: far lights
    get smaller), and :func:`tl_classifier.data.augment.photometric` (white balance, exposure, blur,
    JPEG quality, ...).

    :param class_agnostic: every box is of class 1 ("a light"), whatever its label: the
        detector of a two-stage model only finds lights, the crop classifier tells their state.
    :param mosaic: when training, this share of the images are four training frames side by side
        at half size (YOLOv4's mosaic): every light half as wide, in another place and beside other
        scenes.  Tried for the far lights of a simulator drive a held-out detector missed: 0.5 got
        56.7 % of its frames right against 54.2 % without (docs/training.md), so the recipe leaves it off.
    :param paste: when training, this share of the images get one to three far lights pasted in
        (:func:`paste_lights`, from ``bank``; Kisantal et al.'s copy-paste augmentation for small objects).
        Needs ``class_agnostic``: a pasted light is of class 1.
    """
    from tl_classifier.data.augment import photometric

    tf = import_tensorflow()
    feature = {
        F.encoded: tf.io.FixedLenFeature([], tf.string),
        F.class_label: tf.io.VarLenFeature(tf.int64),
        **{F.bbox[k]: tf.io.VarLenFeature(tf.float32) for k in ("ymin", "xmin", "ymax", "xmax")},
    }

    def parse(raw: Any) -> tuple[Any, Any, Any]:
        ex = tf.io.parse_single_example(raw, feature)
        image = tf.io.decode_jpeg(ex[F.encoded], channels=3)
        # kept (and cached) at 1.5x the input size, as bytes: enough detail for the zoom-in crops
        big = (int(spec.input_height * 1.5), int(spec.input_width * 1.5))
        image = tf.cast(tf.clip_by_value(tf.image.resize(image, big, antialias=True), 0, 255), tf.uint8)
        boxes = tf.stack([tf.sparse.to_dense(ex[F.bbox[k]]) for k in ("ymin", "xmin", "ymax", "xmax")], axis=1)
        classes = tf.cast(tf.sparse.to_dense(ex[F.class_label]), tf.int32)
        if class_agnostic:
            classes = tf.ones_like(classes)
        return image, boxes, classes

    def augment(image: Any, boxes: Any, classes: Any) -> tuple[Any, Any, Any]:
        image = tf.cast(image, tf.float32)
        flip = tf.random.uniform([]) < 0.5
        image = tf.cond(flip, lambda: tf.image.flip_left_right(image), lambda: image)
        boxes = tf.cond(flip, lambda: tf.stack([boxes[:, 0], 1 - boxes[:, 3], boxes[:, 2], 1 - boxes[:, 1]], 1), lambda: boxes)
        # zoom in (scale < 1) or out (> 1: the frame shrinks inside a grey border, lights get smaller)
        scale = tf.exp(tf.random.uniform([], math.log(0.6), math.log(1.5)))
        oy = tf.random.uniform([], tf.minimum(0.0, 1 - scale), tf.maximum(0.0, 1 - scale))
        ox = tf.random.uniform([], tf.minimum(0.0, 1 - scale), tf.maximum(0.0, 1 - scale))
        crop = tf.stack([oy, ox, oy + scale, ox + scale])
        image = tf.image.crop_and_resize(
            image[None], crop[None], [0], [spec.input_height, spec.input_width], extrapolation_value=114.0
        )[0]
        boxes = (boxes - tf.stack([oy, ox, oy, ox])) / scale
        centre_y, centre_x = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
        inside = (centre_y > 0) & (centre_y < 1) & (centre_x > 0) & (centre_x < 1)
        boxes, classes = tf.clip_by_value(tf.boolean_mask(boxes, inside), 0.0, 1.0), tf.boolean_mask(classes, inside)
        image = tf.ensure_shape(image, [spec.input_height, spec.input_width, 3])
        if paste > 0 and bank is not None:
            image, boxes, classes = tf.cond(
                tf.random.uniform([]) < paste,
                lambda: paste_lights(image, boxes, classes, bank),
                lambda: (image, boxes, classes),
            )
        return photometric(image), boxes, classes

    def four(images: Any, boxes: Any, classes: Any) -> tuple[Any, Any, Any]:
        """Four frames (padded boxes: class 0) -> their mosaic (with probability ``mosaic``) or the first."""

        def first() -> tuple[Any, Any, Any]:
            keep = classes[0] > 0
            return images[0], tf.boolean_mask(boxes[0], keep), tf.boolean_mask(classes[0], keep)

        return tf.cond(tf.random.uniform([]) < mosaic, lambda: mosaic_of(images, boxes, classes), first)

    def fit(image: Any, boxes: Any, classes: Any) -> tuple[Any, Any, Any]:
        return tf.image.resize(tf.cast(image, tf.float32), (spec.input_height, spec.input_width), antialias=True), boxes, classes

    def target(image: Any, boxes: Any, classes: Any) -> tuple[Any, Any]:
        return image, make_targets(boxes, classes, spec)

    ds = tf.data.TFRecordDataset([str(r) for r in records]).map(parse, num_parallel_calls=tf.data.AUTOTUNE)
    if training:
        ds = ds.cache().shuffle(2048, seed=seed, reshuffle_each_iteration=True).repeat()
        if mosaic > 0:
            ds = ds.padded_batch(4, padding_values=(tf.constant(0, tf.uint8), -1.0, 0)).map(four)
        ds = ds.map(augment, num_parallel_calls=tf.data.AUTOTUNE)
    else:
        ds = ds.map(fit, num_parallel_calls=tf.data.AUTOTUNE).cache()
    return ds.map(target, num_parallel_calls=tf.data.AUTOTUNE).batch(batch).prefetch(tf.data.AUTOTUNE)


#: Size the bank keeps each light at (height, width): enough for the 2-16 px wide far lights it is pasted as.
PATCH_HEIGHT, PATCH_WIDTH = 48, 20
#: Width of a pasted light in the detector's input, pixels (a 6-25 px light of an 800 px frame at 512 px).
PASTE_WIDTH = (3.0, 16.0)


@dataclass(frozen=True)
class LightBank:
    """Labelled lights cut from training frames at their own box (no context), for :func:`paste_lights`."""

    patches: Any  #: uint8 [N, PATCH_HEIGHT, PATCH_WIDTH, 3]
    aspects: Any  #: float32 [N]: each light's height / width in its frame

    def __len__(self) -> int:
        return len(self.aspects)


def light_bank(records: Sequence[str | Path], seed: int, limit: int = 3000, min_width: int = 10) -> LightBank:
    """Every labelled light at least ``min_width`` px wide in the ``records`` (at most ``limit``, drawn at random).

    :raises TrainError: if the records hold no such light.
    """
    import cv2
    import numpy as np

    from tl_classifier.data.records import read_record, record_boxes, record_files

    patches, aspects = [], []
    for rec in read_record([f for r in records for f in record_files(Path(r))]):
        boxes = [b for b in record_boxes(rec) if b.xmax - b.xmin >= min_width and b.ymax > b.ymin]
        if not boxes:
            continue
        bgr = cv2.imdecode(np.frombuffer(rec[F.encoded], np.uint8), cv2.IMREAD_COLOR)
        if bgr is None:
            continue
        for b in boxes:
            y0, x0, y1, x1 = (int(round(v)) for v in (b.ymin, b.xmin, b.ymax, b.xmax))
            cut = bgr[max(y0, 0) : y1, max(x0, 0) : x1]
            if cut.size:
                patches.append(cv2.resize(cut, (PATCH_WIDTH, PATCH_HEIGHT), interpolation=cv2.INTER_AREA)[..., ::-1])
                aspects.append((b.ymax - b.ymin) / (b.xmax - b.xmin))
    if not patches:
        raise TrainError(f"no labelled light of at least {min_width} px to paste in the training records")
    keep = np.random.default_rng(seed).permutation(len(patches))[:limit]
    return LightBank(np.stack(patches)[keep], np.array(aspects, np.float32)[keep])


def paste_lights(image: Any, boxes: Any, classes: Any, bank: LightBank, most: int = 3) -> tuple[Any, Any, Any]:
    """One to ``most`` lights of ``bank`` pasted into a float [H, W, 3] image at far-light sizes, anywhere; with their boxes.

    Each is a labelled light of another frame, shrunk to :data:`PASTE_WIDTH` pixels wide (its own aspect
    kept): a far light as the camera sees one, in front of whatever this frame shows there.
    """
    tf = import_tensorflow()
    patches = tf.constant(bank.patches)
    aspects = tf.constant(bank.aspects)
    size = tf.shape(image)
    height, width = size[0], size[1]
    count = tf.random.uniform([], 1, most + 1, tf.int32)
    pasted = []
    for i in range(most):  # every paste is drawn; the first ``count`` of them are used
        pick = tf.random.uniform([], 0, len(bank), tf.int32)
        w = tf.exp(tf.random.uniform([], math.log(PASTE_WIDTH[0]), math.log(PASTE_WIDTH[1])))
        h = tf.clip_by_value(w * aspects[pick], 2.0, tf.cast(height, tf.float32) / 3)
        pw, ph = tf.maximum(2, tf.cast(tf.round(w), tf.int32)), tf.maximum(2, tf.cast(tf.round(h), tf.int32))
        light = tf.image.resize(tf.cast(patches[pick], tf.float32), tf.stack([ph, pw]), antialias=True)
        y0 = tf.random.uniform([], 0, height - ph + 1, tf.int32)
        x0 = tf.random.uniform([], 0, width - pw + 1, tf.int32)
        pad = tf.stack([[y0, height - ph - y0], [x0, width - pw - x0], [0, 0]])
        mask = tf.pad(tf.ones(tf.stack([ph, pw, 1])), pad) * tf.cast(i < count, tf.float32)
        image = image * (1 - mask) + mask * tf.pad(light, pad)
        pasted.append(tf.cast(tf.stack([y0, x0, y0 + ph, x0 + pw]), tf.float32))
    used = tf.boolean_mask(tf.stack(pasted), tf.range(most) < count) / tf.cast(tf.stack([height, width] * 2), tf.float32)
    return image, tf.concat([boxes, used], 0), tf.concat([classes, tf.ones([count], classes.dtype)], 0)


def mosaic_of(images: Any, boxes: Any, classes: Any) -> tuple[Any, Any, Any]:
    """Four uint8 frames [4, H, W, 3] side by side at half size, 2 x 2, as one [H, W, 3] frame, and their boxes.

    :param boxes: normalised ``[ymin, xmin, ymax, xmax]`` per frame [4, N, 4], padded where ``classes`` [4, N] is 0.
    :returns: the mosaic, its boxes [M, 4] and their classes [M] (the padding dropped).
    """
    tf = import_tensorflow()
    size = tf.shape(images)[1:3]
    half = tf.image.resize(tf.cast(images, tf.float32), size // 2, antialias=True)
    image = tf.concat([tf.concat([half[0], half[1]], 1), tf.concat([half[2], half[3]], 1)], 0)
    image = tf.image.resize(image, size)  # an odd height or width: back to the frame's own
    corner = tf.constant([[0.0, 0.0], [0.0, 0.5], [0.5, 0.0], [0.5, 0.5]])  # (y, x) of each quarter
    moved = tf.cast(boxes, tf.float32) * 0.5 + tf.tile(corner, [1, 2])[:, None, :]
    keep = classes > 0
    return tf.cast(tf.clip_by_value(image, 0, 255), tf.uint8), tf.boolean_mask(moved, keep), tf.boolean_mask(classes, keep)


def strategy_for(name: str, logical_cpus: int = 0) -> Any:
    """``default``, ``mirrored`` (every GPU of this machine, or ``logical_cpus`` CPU devices), ``multiworker``.

    :raises TrainError: for another name.
    """
    tf = import_tensorflow()
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        if logical_cpus and not tf.config.list_physical_devices("GPU"):
            cpu = tf.config.list_physical_devices("CPU")[0]
            tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * logical_cpus)
            return tf.distribute.MirroredStrategy([f"/cpu:{i}" for i in range(logical_cpus)])
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()  # the cluster comes from TF_CONFIG
    raise TrainError(f"--strategy must be default, mirrored or multiworker, got {name!r}")
