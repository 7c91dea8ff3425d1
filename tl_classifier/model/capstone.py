"""A drop-in for the Udacity capstone template's ``light_classification/tl_classifier.py``.

The template's ``tl_detector`` calls ``TLClassifier().get_classification(image)`` once per
camera frame, with the BGR ``cv::Mat`` that ``cv_bridge`` gives, and keeps its own
3-frame counter.  This class has the same constructor-and-method shape and answers with
``styx_msgs/TrafficLight`` values (RED=0, YELLOW=1, GREEN=2, UNKNOWN=4) without
depending on ``styx_msgs``.  A frame's state is decided exactly as the node decides it
(:meth:`tl_classifier.model.load.DetectionModel.detect`: the lamp-colour check and the
careful multi-light rule); the temporal filter is the template's own.

The two lines a capstone user changes in ``tl_detector.py``::

    from tl_classifier.model.capstone import TLClassifier      # was: from light_classification.tl_classifier import TLClassifier
    self.light_classifier = TLClassifier()               # unchanged; TLClassifier(model="...") for another model
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from tl_classifier.errors import ImageError
from tl_classifier.model.detection import FrameResult
from tl_classifier.states import STYX_GREEN, STYX_RED, STYX_UNKNOWN, STYX_YELLOW, to_styx


def default_model() -> Path:
    """The package's default model: beside this source tree, or in the installed package's share folder."""
    here = Path(__file__).resolve().parent.parent / "models" / "default"
    if here.is_dir():
        return here
    try:  # an installed catkin package: share/tl_classifier/models/default
        import rospkg

        return Path(rospkg.RosPack().get_path("tl_classifier")) / "models" / "default"
    except Exception:  # rospkg missing or the package unknown: say where it was looked for
        return here


class TLClassifier:
    """``get_classification(bgr_image) -> styx value``, one frame at a time.

    :param model: a model folder, frozen graph or SavedModel; default: the package's default model.
    :param score_threshold: ``None``: the model's own.
    :param device: ``auto``, ``cpu``, ``gpu`` or ``gpu:N``.
    :raises ModelError, LabelMapError, DeviceError: as :func:`tl_classifier.model.load.load_model`.
    """

    RED, YELLOW, GREEN, UNKNOWN = STYX_RED, STYX_YELLOW, STYX_GREEN, STYX_UNKNOWN

    def __init__(
        self,
        model: str | os.PathLike[str] | None = None,
        label_map: str | os.PathLike[str] | None = None,
        score_threshold: float | None = None,
        device: str = "auto",
        warmup_size: tuple[int, int] = (800, 600),
    ) -> None:
        from tl_classifier.model.load import load_model
        from tl_classifier.tf_setup import configure_devices

        self.model = load_model(model or default_model(), label_map, configure_devices(device))
        self.model.warm_up(*warmup_size)
        self.score_threshold = score_threshold
        self.last_result: FrameResult | None = None  #: the last frame's full result (lights, scores, boxes), for debugging

    def get_classification(self, image: np.ndarray) -> int:
        """The state of one BGR frame (as ``cv_bridge.imgmsg_to_cv2(msg, "bgr8")`` gives it), as a styx value.

        :raises ImageError: if ``image`` is not a uint8 H x W x 3 array.
        """
        if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ImageError(f"get_classification takes a uint8 H x W x 3 BGR image, got {getattr(image, 'shape', image)!r}")
        rgb = np.ascontiguousarray(image[..., ::-1])
        result = self.model.detect(rgb, self.score_threshold)
        self.last_result = result
        return to_styx(result.state)
