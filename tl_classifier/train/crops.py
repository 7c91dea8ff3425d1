"""The second stage: a small CNN that tells a light's state from a crop of the full-resolution frame.

Why two stages (as Autoware's and Apollo's traffic-light stacks): a detector that
sees the whole frame resized (512x384) learns the scene as much as the lamp (a light seen
side-on at the end of a pole, the parking lot's fence) and a far light is a few
pixels wide there.  The detector here only finds lights (one class); each box is
then cut out of the frame at the camera's own resolution, with some context, and
classified by :func:`build_classifier` into background (not a light after all),
Green, Red, Yellow or off.  Both run in one exported graph (:func:`two_stage_fn`),
so the node loads a two-stage model like any Object Detection API model.

A crop whose state the classifier is unsure of (its best state under
:data:`UNSURE_BELOW` of the light's probability, Apollo's rule) gets the label
``unknown``: it is shown, and never decides a frame's state.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tl_classifier.data.annotations import iou_matrix  # IoU is the same whichever of x and y comes first
from tl_classifier.data.label_map import LabelMap
from tl_classifier.fields import DetectionFields as D
from tl_classifier.fields import TfExampleFields as F
from tl_classifier.tf_setup import import_tensorflow

#: Crop size fed to the classifier (height, width): lights are about 2.5 times taller than wide.
CROP_HEIGHT, CROP_WIDTH = 64, 32
#: Context added around a box on each side, as a fraction of its size (detector boxes are not exact).
CONTEXT = 0.15
#: The classifier's classes: index 0 is background, 1-4 are the tutorial's label ids.
CLASSES = ("background", "Green", "Red", "Yellow", "off")
#: The label map of a two-stage model: the tutorial's, and ``unknown`` for crops of an unsure state.
LABEL_MAP = LabelMap({1: "Green", 2: "Red", 3: "Yellow", 4: "off", 5: "unknown"})
UNKNOWN_ID = 5
#: A light whose best state has less than this share of its light probability is ``unknown``.
UNSURE_BELOW = 0.5


def context_boxes(boxes: Any, context: float = CONTEXT) -> Any:
    """Normalised ``[ymin, xmin, ymax, xmax]`` boxes grown by ``context`` of their size on each side (TF or numpy)."""
    ymin, xmin, ymax, xmax = boxes[..., 0], boxes[..., 1], boxes[..., 2], boxes[..., 3]
    dy, dx = (ymax - ymin) * context, (xmax - xmin) * context
    stack = np.stack if isinstance(boxes, np.ndarray) else import_tensorflow().stack
    return stack([ymin - dy, xmin - dx, ymax + dy, xmax + dx], -1)


def cut_crops(image: Any, boxes: Any) -> Any:
    """Crops of a float [1, H, W, 3] image at normalised ``boxes`` [N, 4], with context, as [N, 64, 32, 3]."""
    tf = import_tensorflow()
    boxes = tf.reshape(tf.cast(boxes, tf.float32), [-1, 4])
    index = tf.zeros([tf.shape(boxes)[0]], tf.int32)
    return tf.image.crop_and_resize(image, context_boxes(boxes), index, [CROP_HEIGHT, CROP_WIDTH], extrapolation_value=114.0)


def build_classifier(width: int = 32) -> Any:
    """The crop classifier: float RGB crops in 0..255 [B, 64, 32, 3] -> logits [B, 5] (:data:`CLASSES`).

    Four 3x3 convolution blocks and a dense layer over the 8x4 map: where in the
    crop the lit lamp is (top, middle, bottom) stays known, unlike after a global pool.
    """
    tf = import_tensorflow()
    keras = tf.keras
    inputs = keras.Input((CROP_HEIGHT, CROP_WIDTH, 3), name="crop")
    x = keras.layers.Rescaling(1 / 127.5, offset=-1.0)(inputs)
    for i, n in enumerate((width // 2, width, 2 * width, 2 * width)):
        x = keras.layers.Conv2D(n, 3, padding="same", use_bias=False, name=f"conv{i}")(x)
        x = keras.layers.BatchNormalization(momentum=0.9, name=f"bn{i}")(x)
        x = keras.layers.ReLU()(x)
        if i < 3:
            x = keras.layers.MaxPool2D(2)(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dropout(0.3)(x)
    x = keras.layers.Dense(64, activation="relu", name="fc")(x)
    logits = keras.layers.Dense(len(CLASSES), name="logits")(x)
    return keras.Model(inputs, logits, name="tl_crop_classifier")


# --- training data: crops from labelled frames ------------------------------------------------


@dataclass
class CropSet:
    """Crops (uint8 [N, 64, 32, 3]) and their classes (index into :data:`CLASSES`)."""

    crops: np.ndarray
    labels: np.ndarray

    def counts(self) -> dict[str, int]:
        return {c: int((self.labels == i).sum()) for i, c in enumerate(CLASSES)}

    @staticmethod
    def join(sets: Iterable[CropSet]) -> CropSet:
        sets = list(sets)
        return CropSet(np.concatenate([s.crops for s in sets]), np.concatenate([s.labels for s in sets]))


#: How far off its light a training crop's box is put, as a fraction of the light's size: sideways
#: (:data:`CROP_SHIFT_X`), up or down (:data:`CROP_SHIFT_Y`) and in size (:data:`CROP_SLOP`).  The crop classifier
#: trained so reads where the lit lamp sits in its crop: moved up or down a fifth of the light's height, the boxes of
#: the held-out recordings' lights are read right far less often (docs/probe_position.py).  Trained on boxes moved
#: more (0.25 sideways and 0.2 up or down; or 0.3 up or down), it reads moved boxes almost as well as true ones, and
#: yet the held-out models got no more frames right (docs/training.md: Where the crop classifier looks).
CROP_SHIFT_X, CROP_SHIFT_Y, CROP_SLOP = 0.12, 0.12, 0.12


def jitter(
    boxes: np.ndarray, rng: np.random.Generator, copies: int, amount: float = CROP_SLOP, shift_x: float = CROP_SHIFT_X,
    shift_y: float = CROP_SHIFT_Y,
) -> np.ndarray:  # fmt: skip
    """``copies`` versions of each normalised box, moved by up to ``shift_x`` of its size sideways and ``shift_y`` up
    or down, and scaled by up to ``amount`` (a detector's slop)."""
    boxes = np.repeat(boxes, copies, axis=0)
    h, w = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    cy, cx = (
        (boxes[:, 0] + boxes[:, 2]) / 2 + rng.uniform(-shift_y, shift_y, len(boxes)) * h,
        (boxes[:, 1] + boxes[:, 3]) / 2 + rng.uniform(-shift_x, shift_x, len(boxes)) * w,
    )
    h, w = h * np.exp(rng.uniform(-amount, amount, len(boxes))), w * np.exp(rng.uniform(-amount, amount, len(boxes)))
    return np.stack([cy - h / 2, cx - w / 2, cy + h / 2, cx + w / 2], 1)


def background_boxes(truth: np.ndarray, rng: np.random.Generator, count: int, aspect: float) -> np.ndarray:
    """``count`` random light-shaped normalised boxes that overlap no true box (IoU < 0.05)."""
    out: list[list[float]] = []
    for _ in range(count * 10):
        if len(out) == count:
            break
        h = float(np.exp(rng.uniform(np.log(0.03), np.log(0.35))))
        w = h * float(np.exp(rng.uniform(np.log(0.25), np.log(0.8)))) * aspect
        y, x = rng.uniform(0, 1 - h), rng.uniform(0, max(1 - w, 1e-3))
        box = np.array([[y, x, y + h, x + w]])
        if not len(truth) or iou_matrix(box, truth).max() < 0.05:
            out.append(box[0])
    return np.array(out, np.float32).reshape(-1, 4)


def frame_crops(
    rgb: np.ndarray,
    truth: np.ndarray,
    classes: np.ndarray,
    rng: np.random.Generator,
    copies: int = 6,
    backgrounds: int = 4,
    extra_background: np.ndarray | None = None,
) -> CropSet:
    """Training crops of one frame: ``copies`` jittered crops per true box, random and given background boxes.

    :param truth: normalised true boxes [N, 4]; ``classes`` their index in :data:`CLASSES`.
    :param extra_background: boxes known to hold no light (a detector's false detections), kept where IoU < 0.05.
    """
    tf = import_tensorflow()
    h, w = rgb.shape[:2]
    boxes = [jitter(truth, rng, copies)] if len(truth) else []
    labels = [np.repeat(classes, copies)] if len(truth) else []
    bg = background_boxes(truth, rng, backgrounds, aspect=h / w)
    if extra_background is not None and len(extra_background):
        keep = extra_background if not len(truth) else extra_background[iou_matrix(extra_background, truth).max(1) < 0.05]
        bg = np.concatenate([bg, keep.astype(np.float32)])
    boxes.append(bg)
    labels.append(np.zeros(len(bg), np.int64))
    all_boxes = np.concatenate(boxes).astype(np.float32)
    crops = cut_crops(tf.convert_to_tensor(rgb[None], tf.float32), all_boxes)
    return CropSet(np.clip(np.rint(crops.numpy()), 0, 255).astype(np.uint8), np.concatenate(labels).astype(np.int64))


def crop_dataset(crops: CropSet, batch: int, seed: int) -> Any:
    """An endless, shuffled, augmented ``tf.data`` pipeline of (crop, label), classes balanced by sampling."""
    from tl_classifier.data.augment import colourless, photometric

    tf = import_tensorflow()
    per_class = []
    for i in range(len(CLASSES)):
        idx = np.flatnonzero(crops.labels == i)
        if len(idx):
            ds = tf.data.Dataset.from_tensor_slices((crops.crops[idx], crops.labels[idx]))
            per_class.append(ds.shuffle(len(idx), seed=seed + i, reshuffle_each_iteration=True).repeat())
    weights = [1.0 / len(per_class)] * len(per_class)
    ds = tf.data.Dataset.sample_from_datasets(per_class, weights, seed=seed)

    def augment(crop: Any, label: Any) -> tuple[Any, Any]:
        x = tf.cast(crop, tf.float32)
        x = tf.cond(tf.random.uniform([]) < 0.5, lambda: tf.image.flip_left_right(x), lambda: x)
        # a far light: seen at a few pixels, then enlarged to the crop size
        small = tf.random.uniform([], 0.0, 1.0) < 0.3
        size = tf.cast(tf.random.uniform([], 10.0, float(CROP_HEIGHT)), tf.int32)
        x = tf.cond(
            small,
            lambda: tf.image.resize(tf.image.resize(x, [size, tf.maximum(size // 2, 4)]), [CROP_HEIGHT, CROP_WIDTH]),
            lambda: x,
        )
        return photometric(colourless(tf.ensure_shape(x, [CROP_HEIGHT, CROP_WIDTH, 3]))), label

    return ds.map(augment, num_parallel_calls=tf.data.AUTOTUNE).batch(batch).prefetch(tf.data.AUTOTUNE)


# --- the two stages in one exported graph ---------------------------------------------------


def classify_crops(classifier: Any, image: Any, boxes: Any) -> tuple[Any, Any]:
    """The second stage on normalised ``boxes`` [N, 4] of a float [1, H, W, 3] frame: each crop's label id and probability.

    The label id is in :data:`LABEL_MAP` (1-4, a state), or :data:`UNKNOWN_ID` when the best state has less
    than :data:`UNSURE_BELOW` of the light's probability; the probability is then the light's (any state's).
    Returns float32 tensors [N] (ids, probabilities).
    """
    tf = import_tensorflow()
    probs = tf.nn.softmax(classifier(cut_crops(image, boxes), training=False))  # [N, 5]: background, then the states
    light = probs[:, 1:]
    p_light = tf.reduce_sum(light, axis=-1)
    best = tf.reduce_max(light, axis=-1)
    sure = best >= UNSURE_BELOW * p_light
    ids = tf.where(sure, tf.cast(tf.argmax(light, axis=-1) + 1, tf.float32), float(UNKNOWN_ID))
    return ids, tf.where(sure, best, p_light)


def crop_classifier_fn(classifier: Any) -> Any:
    """The export function of the second stage alone (``crop_classifier.pb``): a uint8 RGB frame and boxes in."""
    from tl_classifier.fields import CropFields as C

    tf = import_tensorflow()

    def classify(image: Any, boxes: Any) -> dict[str, Any]:
        ids, probs = classify_crops(classifier, tf.cast(image, tf.float32)[:1], boxes)
        return {C.classes: ids, C.scores: probs}

    return classify


#: Where :func:`refine_crops` reads a box again: shifted by these fractions of a detector cell (its output stride) up
#: or down and left or right.  The detector puts a light's centre in the middle of the cell its peak is in, so a far
#: light, a cell or two wide, is boxed up to half a cell off: a third of a 7 px light's width at 640x480.
SHIFTS = (0.0, -0.5, 0.5)
#: :func:`refine_crops` reads this many boxes (the detector's likeliest) again; the others once, as they are.
REFINE_MOST = 6


def refine_crops(
    classifier: Any, image: Any, boxes: Any, cell: tuple[float, float], most: int = REFINE_MOST
) -> tuple[Any, Any, Any]:
    """:func:`classify_crops` on each box, and on copies of the first ``most`` shifted by :data:`SHIFTS` of a ``cell``
    (normalised height, width): each of those keeps the reading of the copy with a sure state and the highest
    probability (the box itself on a tie).  Returns ids, probabilities [N] and the boxes [N, 4] those readings are of.
    """
    tf = import_tensorflow()
    boxes = tf.reshape(tf.cast(boxes, tf.float32), [-1, 4])
    head, tail = boxes[:most], boxes[most:]
    moves = [(dy * cell[0], dx * cell[1]) for dy in SHIFTS for dx in SHIFTS]
    copies = tf.stack([tf.clip_by_value(head + tf.constant([dy, dx, dy, dx]), 0.0, 1.0) for dy, dx in moves])  # [M, K, 4]
    ids, probs = classify_crops(classifier, image, tf.concat([tf.reshape(copies, [-1, 4]), tail], 0))
    n = len(moves) * tf.shape(head)[0]
    head_ids, head_probs = tf.reshape(ids[:n], [len(moves), -1]), tf.reshape(probs[:n], [len(moves), -1])
    rank = head_probs + tf.cast(head_ids != UNKNOWN_ID, tf.float32)  # a sure state before an unsure one, then the likelier
    best = tf.argmax(rank, axis=0, output_type=tf.int32)  # [K]; argmax takes the first, the unshifted box, on a tie
    pick = tf.stack([best, tf.range(tf.shape(best)[0])], axis=1)
    return (
        tf.concat([tf.gather_nd(head_ids, pick), ids[n:]], 0),
        tf.concat([tf.gather_nd(head_probs, pick), probs[n:]], 0),
        tf.concat([tf.gather_nd(copies, pick), tail], 0),
    )


def two_stage_fn(detector: Any, spec: Any, classifier: Any, min_score: float = 0.05, refine: bool = False) -> Any:
    """The export function of a two-stage model: uint8 RGB [1, H, W, 3] of any size -> the OD API's four outputs.

    The detector (one class) gives up to ``spec.max_detections`` boxes with an
    objectness; each is classified from its crop of the full-resolution frame.
    A detection's score is objectness x the probability of its state; its class
    is that state's label id, or ``unknown`` (5) when the classifier is unsure.

    :param refine: read only the boxes whose objectness reaches ``min_score``, the likeliest also shifted by half a
        detector cell (:func:`refine_crops`), and give the box of the reading kept; the outputs then hold those boxes
        only (as many as the frame has, not ``spec.max_detections``).
    """
    from tl_classifier.train.network import STRIDE, decode_peaks

    tf = import_tensorflow()
    cell = (STRIDE / spec.input_height, STRIDE / spec.input_width)

    def detect(image: Any) -> dict[str, Any]:
        full = tf.cast(image, tf.float32)
        x = tf.image.resize(full, (spec.input_height, spec.input_width), antialias=True)
        boxes, objectness, _ = decode_peaks(detector(x, training=False), spec)
        boxes, objectness = boxes[0], objectness[0]
        if refine:
            # a box whose objectness is under min_score scores under it whatever its crop says: only the others (the
            # first ones: decode_peaks sorts them) are read, and at least one (Keras' layers refuse an empty batch)
            live = tf.maximum(tf.reduce_sum(tf.cast(objectness >= min_score, tf.int32)), 1)
            boxes, objectness = boxes[:live], objectness[:live]
            cls, share, found = refine_crops(classifier, full[:1], boxes, cell)
        else:
            (cls, share), found = classify_crops(classifier, full[:1], boxes), boxes
        scores = objectness * share
        order = tf.argsort(scores, direction="DESCENDING")
        scores, cls, out_boxes = tf.gather(scores, order), tf.gather(cls, order), tf.gather(found, order)
        keep = scores >= min_score
        return {
            D.boxes: out_boxes[None],  # clipped (decode_peaks, refine_crops)
            D.scores: (scores * tf.cast(keep, tf.float32))[None],
            D.classes: cls[None],
            D.num_detections: tf.reduce_sum(tf.cast(keep, tf.float32))[None],
        }

    return detect


def records_crops(
    records: Sequence[str | Path], label_ids: dict[str, int], seed: int, detector: Any = None, progress: bool = True
) -> CropSet:
    """Training crops from OD API TFRecords; with ``detector`` (a loaded model), its false detections become background.

    :param label_ids: the records' label names -> id in the tutorial's map (Green=1 Red=2 Yellow=3 off=4).
    """
    import cv2
    from tqdm import tqdm

    from tl_classifier.data.records import read_record, record_boxes, record_files
    from tl_classifier.states import state_from_label

    rng = np.random.default_rng(seed)
    by_state = {state_from_label(name): i for name, i in label_ids.items()}
    files = [f for r in records for f in record_files(Path(r))]
    sets = []
    for rec in tqdm(read_record(files), desc="crops", unit="frame", disable=not progress or None, leave=False):
        bgr = cv2.imdecode(np.frombuffer(rec[F.encoded], np.uint8), cv2.IMREAD_COLOR)
        if bgr is None:
            continue
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        h, w = rgb.shape[:2]
        truth, classes = [], []
        for b in record_boxes(rec):
            idx = by_state.get(state_from_label(b.label))
            if idx is not None:
                truth.append([b.ymin / h, b.xmin / w, b.ymax / h, b.xmax / w])
                classes.append(idx)
        extra = None
        if detector is not None:
            boxes, scores, _ = detector.raw(rgb)
            extra = boxes[scores >= 0.1]
        sets.append(
            frame_crops(rgb, np.array(truth, np.float32).reshape(-1, 4), np.array(classes, np.int64), rng, extra_background=extra)
        )
    return CropSet.join(sets)
