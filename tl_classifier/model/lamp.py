"""The colour of a light's lit lamp, and the check that a light's state does not contradict it.

The untrained colour baseline shows that the lit lamp's own colour is a strong,
cheap signal that no recording changes much: a red lamp is red in the simulator,
under clouds and (orange-red) in the sun.  A model may learn something else
(where the light hangs, its housing, the scene), so its GREEN is checked against
the lamp: a light called GREEN whose lit pixels are clearly red is not trusted.
It becomes UNKNOWN (it is kept, shown, and never decides the frame's state;
:func:`tl_classifier.model.detection.decide_state`), so it can never make the car go.

Only the contradiction that matters is checked (GREEN over red lamps): a RED
over green pixels is the safe error, and an orange-looking red in the sun is
not made GREEN or YELLOW by a colour rule.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tl_classifier.model.detection import Detection
from tl_classifier.states import State

#: A lit pixel: bright and saturated (OpenCV HSV: S and V in 0..255).  A lit green lamp is often
#: nearly white-cyan, so green pixels need less saturation than red ones.
LIT_MIN_VALUE = 200
LIT_MIN_SATURATION = 90
GREEN_MIN_SATURATION = 40
#: Hue ranges (OpenCV: 0..179) of a red and a green lamp.  Red stops at 8: the orange-yellow housing
#: of the site's light (hue 5-30 at its edges) must not count as a red lamp.
RED_HUES = ((0, 8), (172, 179))
GREEN_HUES = ((40, 100),)
#: A GREEN is contradicted when at least this many lit pixels are red, and red ones outnumber green ones this many times.
MIN_RED_PIXELS = 6
RED_OVER_GREEN = 2.0
#: Measured on every labelled box of ../shared/realdata (the ros-racers, mistermi87, dataset-sdcnd-capstone and
#: dominikma sets): with these values none of the 898 GREEN boxes is contradicted, and 742 of the 1,240 RED boxes
#: would be (all simulator and sunny-site reds of ros-racers and sdcnd; few of the overcast site's, whose red
#: lamps look pink-white): a safety net that never costs a right GREEN on this data, not a classifier.
#: The label a contradicted light gets.
CONTRADICTED = "unknown (lamp looks red)"


@dataclass(frozen=True)
class LampColour:
    """Lit pixels of a light's box, by colour."""

    red: int
    green: int
    lit: int


def _count(hue: np.ndarray, ranges: Sequence[tuple[int, int]]) -> int:
    return int(sum(((hue >= lo) & (hue <= hi)).sum() for lo, hi in ranges))


def lamp_colour(rgb: np.ndarray, d: Detection) -> LampColour:
    """Count the lit red and green pixels inside a detection's box of an RGB frame."""
    import cv2

    h, w = rgb.shape[:2]
    x0, x1 = max(0, min(d.xmin, w)), max(0, min(d.xmax, w))
    y0, y1 = max(0, min(d.ymin, h)), max(0, min(d.ymax, h))
    if x1 <= x0 or y1 <= y0:
        return LampColour(0, 0, 0)
    hsv = cv2.cvtColor(np.ascontiguousarray(rgb[y0:y1, x0:x1]), cv2.COLOR_RGB2HSV)
    bright = hsv[..., 2] >= LIT_MIN_VALUE
    lit = bright & (hsv[..., 1] >= LIT_MIN_SATURATION)
    greenish = bright & (hsv[..., 1] >= GREEN_MIN_SATURATION)
    return LampColour(_count(hsv[..., 0][lit], RED_HUES), _count(hsv[..., 0][greenish], GREEN_HUES), int(lit.sum()))


def contradicts(state: State, colour: LampColour) -> bool:
    """Whether a light's ``state`` contradicts its lit lamp's colour (GREEN over clearly red lamps)."""
    return state == State.GREEN and colour.red >= MIN_RED_PIXELS and colour.red > RED_OVER_GREEN * colour.green


def check_colours(rgb: np.ndarray, detections: Sequence[Detection]) -> list[Detection]:
    """The detections, with each GREEN whose lit lamp is red turned UNKNOWN (label :data:`CONTRADICTED`)."""
    out = []
    for d in detections:
        if d.state == State.GREEN and contradicts(d.state, lamp_colour(rgb, d)):
            d = dataclasses.replace(d, state=State.UNKNOWN, label=CONTRADICTED)
        out.append(d)
    return out
