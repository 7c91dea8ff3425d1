"""Exporting a detector in the Object Detection API's own formats.

:func:`export_detector` writes, into one folder (the OD API exporter's layout):

* ``frozen_inference_graph.pb``: a TF1-style frozen graph whose tensors carry
  the OD API's names (``image_tensor:0`` -> ``detection_boxes:0``,
  ``detection_scores:0``, ``detection_classes:0``, ``num_detections:0``);
  variables are folded into constants with TensorFlow's own
  ``convert_variables_to_constants_v2``;
* ``saved_model/``: a TF2 SavedModel with signature ``serving_default``
  (input ``input_tensor``, uint8 [1, H, W, 3]);
* ``label_map.pbtxt``.

The node and every other tool load the result exactly like an OD API export.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tl_classifier.data.label_map import LabelMap
from tl_classifier.fields import (
    CROP_CLASSIFIER_NAME,
    FROZEN_GRAPH_NAME,
    LABEL_MAP_NAME,
    MODEL_INFO_NAME,
    SAVED_MODEL_DIR,
    SECOND_LOOK_NAME,
)  # fmt: skip
from tl_classifier.fields import CropFields as C
from tl_classifier.fields import DetectionFields as D
from tl_classifier.files import atomic_output
from tl_classifier.tf_setup import import_tensorflow

OUTPUT_NAMES = D.OUTPUTS

#: A detector: uint8 [1, H, W, 3] RGB tensor in, a dict of the four OD API outputs out
#: (boxes float32 [1, N, 4] normalised ymin/xmin/ymax/xmax, scores [1, N],
#: classes float32 [1, N] counting from 1, num_detections float32 [1]).
DetectFn = Callable[[Any], dict[str, Any]]
#: A crop classifier: uint8 [1, H, W, 3] RGB and normalised boxes float32 [N, 4] in, a dict of
#: :class:`tl_classifier.fields.CropFields` outputs (label ids and probabilities, float32 [N]) out.
CropFn = Callable[[Any, Any], dict[str, Any]]


def _freeze(fn: Callable[..., dict[str, Any]], signature: list[Any], outputs: tuple[str, ...]) -> Any:
    """Trace ``fn`` for ``signature`` and return a frozen ``GraphDef`` whose outputs are named ``outputs``."""
    tf = import_tensorflow()
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    @tf.function(input_signature=signature)
    def serve(*inputs: Any) -> dict[str, Any]:
        out = fn(*inputs)
        return {n: tf.identity(out[n], name=n) for n in outputs}

    frozen = convert_variables_to_constants_v2(serve.get_concrete_function())
    return frozen.graph.as_graph_def()


def frozen_graph_def(detect: DetectFn) -> Any:
    """Trace ``detect`` and return a frozen ``GraphDef`` with the OD API's tensor names."""
    tf = import_tensorflow()
    return _freeze(detect, [tf.TensorSpec([None, None, None, 3], tf.uint8, name="image_tensor")], OUTPUT_NAMES)


def frozen_crop_graph_def(classify: CropFn) -> Any:
    """Trace a crop classifier and return a frozen ``GraphDef`` with :class:`tl_classifier.fields.CropFields`' names."""
    tf = import_tensorflow()
    signature = [tf.TensorSpec([1, None, None, 3], tf.uint8, name=C.image), tf.TensorSpec([None, 4], tf.float32, name=C.boxes)]
    return _freeze(classify, signature, C.OUTPUTS)


class _Exported:
    """Builds the tf.Module for the SavedModel (kept apart so TF is imported lazily)."""

    @staticmethod
    def module(detect: DetectFn, trackable: Any) -> Any:
        tf = import_tensorflow()
        module = tf.Module()
        module.model = trackable  # tracks any variables, so the SavedModel saves them

        @tf.function(input_signature=[tf.TensorSpec([1, None, None, 3], tf.uint8, name="input_tensor")])
        def serve(input_tensor: Any) -> dict[str, Any]:
            out = detect(input_tensor)
            return {n: tf.identity(out[n], name=n) for n in OUTPUT_NAMES}

        module.serve = serve
        return module


def export_detector(
    detect: DetectFn,
    out_dir: str | os.PathLike[str],
    label_map: LabelMap,
    trackable: Any = None,
    overwrite: bool = False,
    info: dict[str, Any] | None = None,
    crop_classifier: CropFn | None = None,
    second_look: DetectFn | None = None,
) -> Path:
    """Export ``detect`` as a frozen graph, a SavedModel and a label map in ``out_dir``.

    The folder is written under a temporary name and renamed when complete.

    :param trackable: the object holding the detector's variables (a Keras
        model, say); ``None`` for a detector made of constants only.
    :param info: written as ``model.json`` (e.g. ``{"score_threshold": 0.3}``, the model's operating point).
    :param crop_classifier: a two-stage model's second stage alone, written as ``crop_classifier.pb`` (a frozen
        graph) for the lamp proposals (:mod:`tl_classifier.model.proposals`).
    :param second_look: the same detector on a larger input, written as ``second_look.pb`` (a frozen graph with the
        OD API's tensor names), run where the first look decides nothing
        (:meth:`~tl_classifier.model.load.DetectionModel.result`).
    :raises OutputExistsError: if ``out_dir`` exists and ``overwrite`` is false.
    """
    import json

    tf = import_tensorflow()
    out = Path(out_dir)
    with atomic_output(out, overwrite) as tmp:
        tmp.mkdir(parents=True)
        graph_def = frozen_graph_def(detect)
        (tmp / FROZEN_GRAPH_NAME).write_bytes(graph_def.SerializeToString(deterministic=True))
        module = _Exported.module(detect, trackable)
        tf.saved_model.save(module, str(tmp / SAVED_MODEL_DIR), signatures={"serving_default": module.serve})
        (tmp / LABEL_MAP_NAME).write_text(label_map.to_pbtxt(), encoding="utf-8")
        if crop_classifier is not None:
            crops = frozen_crop_graph_def(crop_classifier)
            (tmp / CROP_CLASSIFIER_NAME).write_bytes(crops.SerializeToString(deterministic=True))
        if second_look is not None:
            (tmp / SECOND_LOOK_NAME).write_bytes(frozen_graph_def(second_look).SerializeToString(deterministic=True))
        if info:
            (tmp / MODEL_INFO_NAME).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return out
