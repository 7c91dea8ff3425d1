"""Lit lamps as a second source of lights for a two-stage model, where its detector finds none.

On a recording it was not trained on, the detector misses far lights (a few pixels wide in its
512x384 input) that its crop classifier, given their box at the camera's resolution, reads right:
held out, the classifier reads 97-100 % of every recording's lights on their true boxes, the detector
finds 56 % of one simulator drive's (docs/REPORT.md, "Which stage loses a held-out recording's lights").
A lit lamp is easy to find without learning: a small, round, bright, saturated blob of a lamp's hue
(the colour baseline's signal). Each such blob gives the box of the light it would belong to: a red
lamp is the top one of three, a yellow one the middle, a green one the bottom. The crop classifier
then reads that box like a detector's, and its answer counts only when it is sure and names the
blob's own colour: a blob on a tail light, a sign or foliage is background to it, or another state.

This runs only when the detector's lights decide nothing (the frame would be UNKNOWN), so it never
changes a frame the detector decides; see :meth:`tl_classifier.model.load.DetectionModel.result`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tl_classifier.model.detection import GREEN_MARGIN
from tl_classifier.states import State

#: A lit lamp's pixel (OpenCV HSV: S, V in 0..255): the colour baseline's 0.45 and 0.55 of full scale.
LIT_MIN_SATURATION = 115
LIT_MIN_VALUE = 150
#: Hue ranges (OpenCV: 0..179) of each lamp, and where that lamp sits in its light (share of the light's height).
LAMP_HUES: dict[State, tuple[tuple[int, int], ...]] = {
    State.RED: ((0, 8), (170, 179)),
    State.YELLOW: ((15, 35),),
    State.GREEN: ((45, 100),),
}
LAMP_PLACE = {State.RED: 1 / 6, State.YELLOW: 1 / 2, State.GREEN: 5 / 6}
#: A blob is a lamp when it has at least MIN_AREA pixels, is at most MAX_SIZE px across, at most ROUND times
#: longer than wide, and fills at least FILL of its bounding box (a disc fills 0.79).
MIN_AREA = 3
MAX_SIZE = 60
ROUND = 2.5
FILL = 0.4
#: The light around a lamp blob d px across: LIGHT_WIDTH * d wide, LIGHT_ASPECT times taller than wide
#: (the labelled simulator lights are 2.2-2.3 times taller than wide, the car's 2.7).
LIGHT_WIDTH = 1.6
LIGHT_ASPECT = 2.4
#: At most this many blobs, the largest first, are read by the classifier in one frame.
MOST = 12
#: A proposal counts only where the classifier gives its state at least this probability.  Measured held out
#: (each recording's model trained without it, on every frame its detector left UNKNOWN): 0.8 keeps 57 of the 61
#: simulator frames that proposals make right (sim_dominikma) and drops the one false GREEN they made on the
#: car's recordings (a round white-cyan reflector on a fence frame, read GREEN at 0.52).
MIN_PROBABILITY = 0.8
#: A proposal's score is the classifier's probability times this: a lamp found by colour is worth half a detection.
OBJECTNESS = 0.5
#: The score threshold the proposals are decided at (instead of the model's): they are judged by the crop classifier
#: (MIN_PROBABILITY), not by a threshold chosen for the detector's objectness, so every proposal that passes counts, a
#: GREEN one too (its score, at least OBJECTNESS * MIN_PROBABILITY, is GREEN_MARGIN times this).  Found when the
#: default model of 2026-11-27 chose 0.40 on validation: at that threshold no GREEN proposal could count (0.5 at most,
#: against 1.5 x 0.40), and the lamps alone read 72 of ros-racers' 107 simulator frames right instead of 107.  Models
#: at 0.10 (the held-out ones but one) decide the same either way.
PROPOSAL_THRESHOLD = OBJECTNESS * MIN_PROBABILITY / GREEN_MARGIN


@dataclass(frozen=True)
class LampProposal:
    """A lit lamp of ``state``'s colour and the light box it implies, normalised (ymin, xmin, ymax, xmax)."""

    state: State
    box: tuple[float, float, float, float]
    area: int


def lamp_proposals(rgb: np.ndarray, most: int = MOST) -> list[LampProposal]:
    """The lit lamps of an RGB frame, largest first, each with the box of the light it belongs to."""
    import cv2

    height, width = rgb.shape[:2]
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
    masks = {}
    for state, ranges in LAMP_HUES.items():  # cv2.inRange: one pass in C (numpy's comparisons took 4 times as long)
        parts = [cv2.inRange(hsv, np.array([lo, LIT_MIN_SATURATION, LIT_MIN_VALUE]), np.array([hi, 255, 255]))
                 for lo, hi in ranges]  # fmt: skip
        masks[state] = parts[0] if len(parts) == 1 else cv2.bitwise_or(*parts)
    lit = cv2.bitwise_or(cv2.bitwise_or(masks[State.RED], masks[State.YELLOW]), masks[State.GREEN])
    # one labelling of every lit lamp pixel (the costly step: once, not once per colour), then each blob's colour
    _, labels, stats, centres = cv2.connectedComponentsWithStats(lit, connectivity=8)
    x, y = stats[1:, cv2.CC_STAT_LEFT], stats[1:, cv2.CC_STAT_TOP]
    w, h, area = stats[1:, cv2.CC_STAT_WIDTH], stats[1:, cv2.CC_STAT_HEIGHT], stats[1:, cv2.CC_STAT_AREA]
    size = np.maximum(w, h)
    lamp = (area >= MIN_AREA) & (size <= MAX_SIZE) & (size <= ROUND * np.minimum(w, h)) & (area >= FILL * w * h)
    found: list[LampProposal] = []
    for i in np.flatnonzero(lamp):  # a few lamps, not the thousands of specks
        window = np.s_[y[i] : y[i] + h[i], x[i] : x[i] + w[i]]
        mine = labels[window] == i + 1
        state = max(masks, key=lambda s: int(np.count_nonzero(masks[s][window][mine])))
        cx, cy = centres[i + 1]
        lw = LIGHT_WIDTH * float(size[i])
        lh = LIGHT_ASPECT * lw
        top = cy - LAMP_PLACE[state] * lh
        box = (
            max(0.0, top) / height,
            max(0.0, cx - lw / 2) / width,
            min(float(height), top + lh) / height,
            min(float(width), cx + lw / 2) / width,
        )
        found.append(LampProposal(state, box, int(area[i])))
    found.sort(key=lambda p: -p.area)
    return found[:most]
