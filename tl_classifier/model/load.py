"""Loading and running detection models in the Object Detection API's formats.

Two formats are read, both as the OD API exports them:

* a TF1-era frozen graph (``frozen_inference_graph.pb``): input
  ``image_tensor:0`` (uint8, [1, H, W, 3], RGB), outputs
  ``detection_boxes:0``, ``detection_scores:0``, ``detection_classes:0`` and
  ``num_detections:0``.  It is imported with ``tf.compat.v1.wrap_function`` and
  pruned to those tensors, so TensorFlow 2 runs it eagerly like any function:
  no ``Session``, and any TF 2 release that still has the graph's ops loads it.
* a TF2 SavedModel (a folder with ``saved_model.pb``), signature ``serving_default``.

Class ids count from 1 and are named by a ``label_map.pbtxt``.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tl_classifier.data.label_map import LabelMap, load_label_map
from tl_classifier.errors import ImageError, ModelError, first_line
from tl_classifier.fields import (
    CROP_CLASSIFIER_NAME,
    DEFAULT_SCORE_THRESHOLD,
    FROZEN_GRAPH_NAME,
    LABEL_MAP_NAME,
    MODEL_INFO_NAME,
    SAVED_MODEL_DIR,
    SECOND_LOOK_NAME,
)
from tl_classifier.fields import CropFields as C
from tl_classifier.fields import DetectionFields as D
from tl_classifier.files import require_file
from tl_classifier.model.detection import SECOND_LOOK_MIN_SCORE, Detection, FrameResult, decide_state
from tl_classifier.model.lamp import check_colours
from tl_classifier.model.proposals import MIN_PROBABILITY, OBJECTNESS, PROPOSAL_THRESHOLD, lamp_proposals
from tl_classifier.params import Roi
from tl_classifier.states import State
from tl_classifier.tf_setup import import_tensorflow

INPUT_TENSOR = D.input_tensor
OUTPUT_NAMES = D.OUTPUTS


class DetectionModel:
    """A loaded detector: RGB images in, :class:`FrameResult` out.

    :param fn: callable taking a uint8 tensor [1, H, W, 3] and returning the
        four OD API outputs in :data:`OUTPUT_NAMES` order.
    :param crops: a two-stage model's crop classifier alone (``crop_classifier.pb`` beside it): a uint8 tensor
        [1, H, W, 3] and normalised boxes [N, 4] in, label ids and probabilities [N] out; with it, lit lamps
        propose lights where the detector decides nothing (:mod:`tl_classifier.model.proposals`).
    :param second: a two-stage model's second look (``second_look.pb`` beside it): like ``fn``, the same networks on a
        larger detector input, run where the first look decides nothing.
    """

    def __init__(
        self, fn: Callable[[Any], Any], label_map: LabelMap, path: Path, kind: str, device: str,
        score_threshold: float = DEFAULT_SCORE_THRESHOLD, crops: Callable[[Any, Any], Any] | None = None,
        second: Callable[[Any], Any] | None = None,
    ) -> None:  # fmt: skip
        self._fn = fn
        self._crops = crops
        self._second = second
        #: whether lit lamps propose lights where the detector decides nothing (only with a crop classifier)
        self.lamp_proposals = crops is not None
        #: whether the second look runs where the first decides nothing (only with a second_look.pb)
        self.second_look = second is not None
        #: the model's own operating point (from model.json beside it), used when none is given
        self.score_threshold = score_threshold
        self.label_map = label_map
        self.path = path
        self.kind = kind
        self.device = device
        self._tf = import_tensorflow()

    def raw(self, rgb: np.ndarray, second: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Run the model on one RGB image; return normalised boxes, scores and class ids.

        Boxes are ``[ymin, xmin, ymax, xmax]`` in 0..1, as the OD API gives them.

        :param second: run the second look's graph (``second_look.pb``) instead of the model's.
        :raises ImageError: if ``rgb`` is not a uint8 H x W x 3 array with at least one pixel.
        :raises ModelError: if ``second`` and the model has no second look.
        """
        if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3 or not rgb.size:
            raise ImageError(f"the model takes uint8 H x W x 3 RGB images, got {rgb.dtype} {rgb.shape}")
        if not second:
            return self._run(self._fn, rgb)
        if self._second is None:
            raise ModelError(f"has no {SECOND_LOOK_NAME} beside it", self.path)
        return self._run(self._second, rgb)

    def _run(self, fn: Callable[[Any], Any], rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        tf = self._tf
        with tf.device(self.device):
            boxes, scores, classes, num = fn(tf.convert_to_tensor(rgb[np.newaxis]))
        n = int(np.asarray(num).reshape(-1)[0])
        return (
            np.asarray(boxes)[0, :n],
            np.asarray(scores)[0, :n],
            np.asarray(classes)[0, :n].astype(np.int64),
        )

    def detect(self, rgb: np.ndarray, score_threshold: float | None = None, roi: Roi | None = None) -> FrameResult:
        """Detect lights in one RGB image and decide its state; its ``inference_time`` is all the stages took.

        :param score_threshold: detections below it are dropped; ``None``: the model's own
            (:attr:`score_threshold`).
        :param roi: detections whose centre is outside it are dropped; ``None``: the whole frame.
        :raises ImageError: if ``rgb`` is not a uint8 H x W x 3 array with at least one pixel.
        """
        start = time.perf_counter()
        boxes, scores, classes = self.raw(rgb)
        result = self.result(boxes, scores, classes, rgb.shape[1], rgb.shape[0], score_threshold, 0.0, rgb, roi)
        # every stage this frame took: on a frame the first look decides nothing on, the second look and the lamps too
        return dataclasses.replace(result, inference_time=time.perf_counter() - start)

    def result(
        self, boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, width: int, height: int,
        score_threshold: float | None = None, inference_time: float = 0.0, rgb: np.ndarray | None = None,
        roi: Roi | None = None,
    ) -> FrameResult:  # fmt: skip
        """Turn the :meth:`raw` outputs for a ``width`` x ``height`` frame into a :class:`FrameResult`.

        This is the one place where the node (through :meth:`detect`) and
        ``evaluate`` turn model outputs into detections in pixels and a frame
        state (:func:`tl_classifier.model.detection.decide_state`).

        :param score_threshold: detections below it are dropped; ``None``: the model's own.
        :param rgb: the frame; given, a GREEN light whose lit lamp is red becomes UNKNOWN
            (:func:`tl_classifier.model.lamp.check_colours`) before the state is decided.
        :param roi: detections whose box centre lies outside it are dropped (:class:`tl_classifier.params.Roi`:
            the car's hood, say); ``None``: the whole frame.
        """
        if score_threshold is None:
            score_threshold = self.score_threshold
        dets = self._detections(boxes, scores, classes, width, height, score_threshold, rgb, roi)
        state, confidence = decide_state(dets, score_threshold)
        if state == State.UNKNOWN and rgb is not None and self.second_look and self._second is not None:
            # the second look: the same networks on a larger input (far lights), its lights held to a higher score
            threshold = max(score_threshold, SECOND_LOOK_MIN_SCORE)
            second = self._detections(*self.raw(rgb, second=True), width, height, threshold, rgb, roi)
            state, confidence = decide_state(second, threshold)
            dets = sorted(dets + [dataclasses.replace(d, label=f"{d.label} (second look)") for d in second],
                          key=lambda d: -d.score)  # fmt: skip
        if state == State.UNKNOWN and rgb is not None and self.lamp_proposals:
            lamps = self.lamp_detections(rgb, roi)
            state, confidence = decide_state(lamps, PROPOSAL_THRESHOLD)  # judged by the classifier, not the threshold
            dets = sorted(dets + lamps, key=lambda d: -d.score)
        return FrameResult(state, confidence, tuple(dets), inference_time)

    def _detections(
        self, boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, width: int, height: int, score_threshold: float,
        rgb: np.ndarray | None, roi: Roi | None,
    ) -> list[Detection]:  # fmt: skip
        """The raw outputs scoring at least ``score_threshold``, in pixels, centred in ``roi``, best first, checked
        against their lamps' colours where ``rgb`` is given."""
        dets = []
        for box, score, cls in zip(boxes, scores, classes, strict=True):
            if score < score_threshold:
                continue
            ymin, xmin, ymax, xmax = np.clip(box, 0.0, 1.0)
            dets.append(
                Detection(
                    state=self.label_map.state(int(cls)),
                    label=self.label_map.name(int(cls)),
                    class_id=int(cls),
                    score=float(score),
                    xmin=int(round(xmin * width)),
                    ymin=int(round(ymin * height)),
                    xmax=int(round(xmax * width)),
                    ymax=int(round(ymax * height)),
                )
            )
        if roi is not None and not roi.whole:
            dets = [d for d in dets if roi.contains(d, width, height)]
        dets.sort(key=lambda d: -d.score)
        return check_colours(rgb, dets) if rgb is not None else dets

    def lamp_detections(self, rgb: np.ndarray, roi: Roi | None = None) -> list[Detection]:
        """The lights that lit lamps propose in ``rgb``, as the crop classifier reads them (:mod:`.proposals`).

        The classifier reads each proposal's light at every width it has
        (:data:`~tl_classifier.model.proposals.LIGHT_WIDTHS`).  A proposal becomes a detection only where a reading
        gives it the state of the lamp's own colour with at least
        :data:`~tl_classifier.model.proposals.MIN_PROBABILITY`; the surest such reading counts, with its box.  Its
        score is that probability times :data:`~tl_classifier.model.proposals.OBJECTNESS`, its label the state's with
        " (lamp)" added.  The lamp checks (:func:`~tl_classifier.model.lamp.check_colours`) apply as to any
        detection.  Empty without a crop classifier.
        """
        if self._crops is None:
            return []
        height, width = rgb.shape[:2]

        def in_pixels(state: State, box: tuple[float, ...]) -> Detection:
            return Detection(state, "", 0, 0.0, int(round(box[1] * width)), int(round(box[0] * height)),
                             int(round(box[3] * width)), int(round(box[2] * height)))  # fmt: skip

        found = lamp_proposals(rgb)
        if roi is not None and not roi.whole:  # those whose light is centred outside the region are not read
            found = [p for p in found if roi.contains(in_pixels(p.state, p.box), width, height)]
        if not found:
            return []
        boxes = [(i, p, box) for i, p in enumerate(found) for box in p.boxes]
        ids, probs = self.read_crops(rgb, [box for _, _, box in boxes])
        surest: dict[int, Detection] = {}  # per proposal (its index in found), its surest reading in its lamp's colour
        for (i, p, box), cls, prob in zip(boxes, ids, probs, strict=True):
            score = float(prob) * OBJECTNESS
            if self.label_map.state(int(cls)) != p.state or prob < MIN_PROBABILITY:
                continue
            if i not in surest or score > surest[i].score:
                surest[i] = dataclasses.replace(in_pixels(p.state, box), label=f"{self.label_map.name(int(cls))} (lamp)",
                                                class_id=int(cls), score=score)  # fmt: skip
        return check_colours(rgb, list(surest.values()))

    def warm_up(self, width: int = 800, height: int = 600, runs: int = 2) -> float:
        """Run every stage on black frames so that no real frame pays a graph's first call; return the time of the
        first look's last run.

        The fallbacks too: the second look (``second_look.pb``) and the crop classifier the lamp proposals use
        run only on frames the first look decides nothing on, and a graph's first call takes far longer than the
        next ones (its kernels are chosen and its memory set up).  Without this, the node's first frame without a
        light took that long, and frames arriving meanwhile were replaced before they were classified.
        """
        blank = np.zeros((height, width, 3), np.uint8)
        elapsed = 0.0
        for _ in range(runs):
            start = time.perf_counter()
            self.raw(blank)
            elapsed = time.perf_counter() - start
        for _ in range(runs):
            if self._second is not None:
                self.raw(blank, second=True)
            if self._crops is not None:
                self.read_crops(blank, [(0.4, 0.45, 0.6, 0.55)])
        return elapsed

    def read_crops(self, rgb: np.ndarray, boxes: Sequence[Sequence[float]]) -> tuple[np.ndarray, np.ndarray]:
        """The crop classifier (``crop_classifier.pb``) on normalised ``[ymin, xmin, ymax, xmax]`` boxes of ``rgb``:
        each box's label id (int64) and probability.

        :raises ModelError: if the model has no crop classifier.
        """
        if self._crops is None:
            raise ModelError("has no crop classifier beside it", self.path)
        tf = self._tf
        with tf.device(self.device):
            ids, probs = self._crops(tf.convert_to_tensor(rgb[np.newaxis]), tf.constant(boxes, tf.float32))
        return np.asarray(ids).astype(np.int64), np.asarray(probs)


def _find_model(path: Path) -> tuple[Path, str]:
    """Resolve ``path`` to (file or folder, kind) where kind is ``frozen`` or ``saved_model``."""
    if path.is_dir():
        if (path / "saved_model.pb").is_file() or (path / "saved_model.pbtxt").is_file():
            return path, "saved_model"
        if (path / FROZEN_GRAPH_NAME).exists():
            return path / FROZEN_GRAPH_NAME, "frozen"
        if (path / SAVED_MODEL_DIR / "saved_model.pb").exists():
            return path / SAVED_MODEL_DIR, "saved_model"
        raise ModelError(f"holds neither {FROZEN_GRAPH_NAME} nor a SavedModel (saved_model.pb)", path)
    if path.name == "saved_model.pb":
        return path.parent, "saved_model"
    return path, "frozen"


def _load_frozen(p: Path, tf: Any) -> Callable[[Any], Any]:
    graph_def = tf.compat.v1.GraphDef()
    try:
        graph_def.ParseFromString(p.read_bytes())
    except Exception as err:  # protobuf's DecodeError, or a RuntimeWarning-turned-error
        raise ModelError(f"is not a TensorFlow graph (protobuf cannot parse it: {err})", p) from err
    nodes = {n.name: n for n in graph_def.node}
    wanted = ["image_tensor", *OUTPUT_NAMES]
    missing = [n for n in wanted if n not in nodes]
    if missing:
        if not nodes:
            raise ModelError("is not a TensorFlow graph (it parses, but holds no node)", p)
        inputs = sorted(n for n, d in nodes.items() if d.op == "Placeholder")[:5]
        raise ModelError(
            f"is a TensorFlow graph but not an Object Detection API detector: it lacks "
            f"{', '.join(m + ':0' for m in missing)} (its inputs: {', '.join(inputs) or 'none'})",
            p,
        )

    try:
        fn = _pruned(graph_def, tf, [INPUT_TENSOR], [f"{n}:0" for n in OUTPUT_NAMES])
    except (ValueError, TypeError, tf.errors.OpError) as err:
        raise ModelError(
            f"cannot be loaded by TensorFlow {tf.__version__} ({first_line(err)}); "
            "re-export it with this package's exporter or a newer Object Detection API",
            p,
        ) from err
    return fn


def _pruned(graph_def: Any, tf: Any, feeds: list[str], fetches: list[str]) -> Callable[..., Any]:
    """A frozen graph imported into a TF2 function that takes the tensors ``feeds`` (in order) and returns ``fetches``.

    :raises KeyError, ValueError, TypeError, tf.errors.OpError: as TensorFlow raises them (a tensor the graph lacks, an
        op this TensorFlow lacks); the callers say which file.
    """
    wrapped = tf.compat.v1.wrap_function(lambda: tf.compat.v1.import_graph_def(graph_def, name=""), [])
    get = wrapped.graph.get_tensor_by_name
    return wrapped.prune(feeds=[get(n) for n in feeds], fetches=[get(n) for n in fetches])


def _load_saved_model(path: Path, tf: Any) -> Callable[[Any], Any]:
    try:
        loaded = tf.saved_model.load(str(path))
    except Exception as err:  # TF raises many types here (OSError, ValueError, RuntimeError, OpError)
        raise ModelError(f"is not a SavedModel that TensorFlow {tf.__version__} can load ({first_line(err)})", path) from err
    signatures = getattr(loaded, "signatures", {})
    if "serving_default" not in signatures:
        have = ", ".join(signatures) or "none"
        raise ModelError(f"has no 'serving_default' signature (signatures: {have}); not a detection model", path)
    sig = signatures["serving_default"]
    outputs = set(sig.structured_outputs)
    missing = [n for n in OUTPUT_NAMES if n not in outputs]
    if missing:
        raise ModelError(f"'serving_default' lacks the outputs {', '.join(missing)}; not a detection model", path)
    (input_name,) = sig.structured_input_signature[1] or {"input_tensor": None}

    def fn(images: Any) -> tuple[Any, ...]:
        out = sig(**{input_name: images})
        return tuple(out[n] for n in OUTPUT_NAMES)

    fn.loaded = loaded  # type: ignore[attr-defined]  # keep the SavedModel alive
    return fn


def load_model(
    path: str | os.PathLike[str], label_map: str | os.PathLike[str] | LabelMap | None = None, device: str = "/CPU:0"
) -> DetectionModel:
    """Load a detector exported in the OD API's formats.

    :param path: a ``frozen_inference_graph.pb``, a SavedModel folder, or an
        export folder holding either (the frozen graph is preferred).
    :param label_map: a ``label_map.pbtxt`` path or a :class:`LabelMap`;
        by default ``label_map.pbtxt`` beside the model.
    :param device: TensorFlow device name to run on (see
        :func:`tl_classifier.tf_setup.configure_devices`).
    :raises ModelError: if the model is missing, corrupt (a Git-LFS pointer,
        an HTML page saved as .pb, ...), not a detector, or not loadable by
        this TensorFlow.
    :raises LabelMapError: if the label map is missing or malformed.
    """
    tf = import_tensorflow()
    given = Path(path)
    if not given.exists():
        raise ModelError("no such file or folder (expected a frozen graph or a SavedModel)", given)
    model_path, kind = _find_model(given)
    if kind == "frozen":
        require_file(model_path, ModelError, "frozen inference graph (.pb)")
    else:
        require_file(model_path / "saved_model.pb", ModelError, "SavedModel (saved_model.pb)")
    if label_map is None:
        found = _beside(model_path, kind, LABEL_MAP_NAME)
        if found is None:
            raise ModelError(f"no {LABEL_MAP_NAME} beside the model; pass the label map explicitly", given)
        label_map = found
    labels = label_map if isinstance(label_map, LabelMap) else load_label_map(label_map)
    fn = _load_frozen(model_path, tf) if kind == "frozen" else _load_saved_model(model_path, tf)
    crops_path = _beside(model_path, kind, CROP_CLASSIFIER_NAME)
    crops = _load_crop_classifier(crops_path, tf) if crops_path is not None else None
    second_path = _beside(model_path, kind, SECOND_LOOK_NAME)
    second = _load_frozen(second_path, tf) if second_path is not None else None
    return DetectionModel(fn, labels, model_path, kind, device, _model_info(model_path, kind), crops, second)


def _load_crop_classifier(p: Path, tf: Any) -> Callable[[Any, Any], Any]:
    """A two-stage model's ``crop_classifier.pb``: (uint8 frame [1, H, W, 3], boxes [N, 4]) -> (ids, probabilities).

    :raises ModelError: if it is not a frozen graph with :class:`tl_classifier.fields.CropFields`' tensors.
    """
    graph_def = tf.compat.v1.GraphDef()
    try:
        graph_def.ParseFromString(p.read_bytes())
        return _pruned(graph_def, tf, [f"{C.image}:0", f"{C.boxes}:0"], [f"{n}:0" for n in C.OUTPUTS])
    except Exception as err:  # protobuf's DecodeError, a missing tensor (KeyError/ValueError), an op TF lacks
        raise ModelError(f"is not a crop classifier graph ({first_line(err)})", p) from err


def _beside(model_path: Path, kind: str, name: str) -> Path | None:
    """The file ``name`` beside a model: in its folder, or (for a SavedModel) in the export folder above it."""
    folder = model_path if model_path.is_dir() else model_path.parent
    candidates = [folder / name] + ([folder.parent / name] if kind == "saved_model" else [])
    return next((c for c in candidates if c.is_file()), None)


def _model_info(model_path: Path, kind: str) -> float:
    """The score threshold in ``model.json`` beside the model, else the default.

    :raises ModelError: if ``model.json`` exists but is not valid.
    """
    import json

    info = _beside(model_path, kind, MODEL_INFO_NAME)
    if info is None:
        return DEFAULT_SCORE_THRESHOLD
    try:
        value = float(json.loads(info.read_text(encoding="utf-8"))["score_threshold"])
    except (ValueError, KeyError, TypeError) as err:
        raise ModelError(f"is not a model description with a score_threshold ({err})", info) from err
    if not 0.0 <= value <= 1.0:
        raise ModelError(f"score_threshold {value} is not between 0 and 1", info)
    return value
