"""The capstone template's interface: BGR frames in, styx values out, the node's own per-frame decision."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from tl_classifier.errors import ImageError
from tl_classifier.model.capstone import TLClassifier, default_model
from tl_classifier.model.classify import FrameClassifier
from tl_classifier.model.detection import TemporalFilter
from tl_classifier.states import to_styx
from tl_classifier.testing.realdata import ROS_RACERS, SIM_TEST

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def classifier(realdata: Path) -> TLClassifier:
    return TLClassifier()


def test_it_agrees_with_the_node_on_real_frames(classifier: TLClassifier):
    """Real simulator and car frames, read as the template gets them (BGR): the styx value of the node's raw state."""
    node = FrameClassifier(classifier.model, TemporalFilter(1), None, (800, 600))  # the node's per-frame core
    paths = [p for folder in (SIM_TEST, ROS_RACERS / "test_images_real") for p in sorted(folder.rglob("*.jpg"))][::3]
    assert len(paths) > 20
    expected = {
        "red": TLClassifier.RED,
        "yellow": TLClassifier.YELLOW,
        "green": TLClassifier.GREEN,
        "unknown": TLClassifier.UNKNOWN,
    }
    right = 0
    for p in paths:
        bgr = cv2.imread(str(p))
        answer = classifier.get_classification(bgr)
        result, _ = node.classify(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        assert answer == to_styx(result.state), p
        right += answer == expected[p.parent.name]
    assert right / len(paths) >= 0.9


def test_bgr_is_not_rgb(classifier: TLClassifier):
    """A red simulator light given in RGB order (the usual mix-up) is not read as the same state by a model that reads
    colour (the colour baseline: its red lamp turns blue).  The default model's crop classifier also reads which lamp
    is lit, so it reads most lights the same either way (measured on the 30 simulator test frames: all 10 RED and 10
    GREEN, 7 of 10 YELLOW): there the mix-up hides, and this model shows that the template converts."""
    by_colour = TLClassifier(Path(__file__).resolve().parent.parent / "models/colour_baseline")
    bgr = cv2.imread(str(sorted((SIM_TEST / "red").glob("*.jpg"))[0]))
    assert by_colour.get_classification(bgr) == TLClassifier.RED
    assert by_colour.get_classification(np.ascontiguousarray(bgr[..., ::-1])) != TLClassifier.RED
    assert classifier.get_classification(bgr) == TLClassifier.RED


def test_bad_input_and_the_default_model(classifier: TLClassifier):
    assert default_model().is_dir()
    assert classifier.model.path.resolve() in (
        default_model().resolve(),
        (default_model() / "frozen_inference_graph.pb").resolve(),
    )
    with pytest.raises(ImageError, match="BGR"):
        classifier.get_classification(np.zeros((10, 10), np.uint8))
