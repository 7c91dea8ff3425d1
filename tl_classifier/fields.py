"""Every name a file format fixes, in one place (as the OD API's ``core/standard_fields.py``).

The TFRecord feature keys and the detector's tensor names are the Object Detection API's; the file
names are those of its exporter and of the tutorial this package grows out of; ``model.json`` is ours.
Base layer: imports nothing.
"""

from __future__ import annotations

from typing import ClassVar, TypedDict


class TfExampleFields:
    """Feature keys of a ``tf.train.Example`` in the OD API's detection records."""

    encoded = "image/encoded"
    format = "image/format"
    height = "image/height"
    width = "image/width"
    filename = "image/filename"
    source_id = "image/source_id"
    key_sha256 = "image/key/sha256"
    class_text = "image/object/class/text"
    class_label = "image/object/class/label"
    #: normalised box corners, by corner name (xmin, xmax, ymin, ymax)
    bbox: ClassVar[dict[str, str]] = {k: f"image/object/bbox/{k}" for k in ("xmin", "xmax", "ymin", "ymax")}
    ALL = (encoded, format, height, width, filename, source_id, key_sha256, *bbox.values(), class_text, class_label)


class DetectionFields:
    """A detector's input and outputs, as the OD API's exporters name them (batch first, boxes ymin xmin ymax xmax)."""

    input_tensor = "image_tensor:0"  #: uint8 [1, H, W, 3], RGB
    boxes = "detection_boxes"  #: float32 [1, N, 4], normalised
    scores = "detection_scores"  #: float32 [1, N]
    classes = "detection_classes"  #: float32 [1, N], counting from 1
    num_detections = "num_detections"  #: float32 [1]
    OUTPUTS = (boxes, scores, classes, num_detections)


FROZEN_GRAPH_NAME = "frozen_inference_graph.pb"
SAVED_MODEL_DIR = "saved_model"
LABEL_MAP_NAME = "label_map.pbtxt"
MODEL_INFO_NAME = "model.json"  #: optional, beside the model
#: optional, beside a two-stage model's frozen graph: its crop classifier alone (tl_classifier.model.proposals)
CROP_CLASSIFIER_NAME = "crop_classifier.pb"
#: optional, beside a two-stage model's frozen graph: the same two stages on a larger detector input, run where the
#: first look decides nothing (the second look, tl_classifier.model.load.DetectionModel.result)
SECOND_LOOK_NAME = "second_look.pb"


class CropFields:
    """The tensors of ``crop_classifier.pb``: a frame and boxes in, each box's state and probability out."""

    image = "image_tensor"  #: uint8 [1, H, W, 3], RGB
    boxes = "boxes"  #: float32 [N, 4], normalised ymin, xmin, ymax, xmax
    classes = "crop_classes"  #: float32 [N]: a label id of the model's label map
    scores = "crop_scores"  #: float32 [N]: the probability of that state
    OUTPUTS = (classes, scores)


PIPELINE_CONFIG_NAME = "pipeline.config"
#: the score threshold of a model whose model.json does not give one (the OD API's visualisation default)
DEFAULT_SCORE_THRESHOLD = 0.5


class ModelInfo(TypedDict, total=False):
    """``model.json``: what the node and ``evaluate`` need to know about a model beyond its graph."""

    score_threshold: float  #: the operating threshold (chosen on validation frames)
    input_size: list[int]  #: [width, height] the detector resizes frames to
    kind: str  #: how it was made: "builtin", "two_stage", "odapi", "colour_baseline"
    trained: dict  #: records, steps, seconds, settings
    threshold_choice: dict  #: how score_threshold was chosen
