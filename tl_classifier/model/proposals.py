"""Lit lamps as a second source of lights for a two-stage model, where its detector finds none.

On a recording it was not trained on, the detector misses far lights (a few pixels wide in its
512x384 input) that its crop classifier, given their box at the camera's resolution, reads right:
held out, the classifier reads 97-100 % of every recording's lights on their true boxes, the detector
finds 56 % of one simulator drive's (docs/REPORT.md, "Which stage loses a held-out recording's lights").
A lit lamp is easy to find without learning: a small, round blob of a lamp's hue, bright and saturated
(the colour baseline's signal) or dim but standing out of a dark housing. Each such blob gives the box
of the light it would belong to: a red lamp is the top one of three, a yellow one the middle, a green
one the bottom. The crop classifier
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

#: A lit lamp's pixel (OpenCV HSV: S, V in 0..255) is either bright and saturated (the colour baseline's 0.45 and
#: 0.55 of full scale), or dim but brighter than what is around it: a far light in the simulator's dark scenes, whose
#: lamps are pale (S 30-90) and dull (V 120-220) but stand out of their black housing.  Held out (sim_dominikma, the
#: model trained without it), the dim lamps with every limit below turn 51 of the 63 frames that both looks and the
#: bright lamps left UNKNOWN right (389 -> 440 of 480), and read none GREEN where the light was red
#: (docs/heldout/loro.json).
LIT_MIN_SATURATION = 115
LIT_MIN_VALUE = 150
DIM_MIN_SATURATION = 30
DIM_MIN_VALUE = 120
DIM_MAX_VALUE = 229
#: ... "brighter than what is around it": the pixel's value exceeds the value's morphological opening (the darkest
#: a CONTRAST_KERNEL-px square around it lets through: a white top-hat) by at least CONTRAST_MIN.  A square kernel,
#: because OpenCV opens with one in about a fifth of an ellipse's time; a lamp a few pixels across fits in it.
#: And what surrounds it (that opening) is dark: at most HOUSING_MAX_VALUE, a black housing.  Without it, on its own
#: (the detector's output left out), the shipped model read 3 RED car frames GREEN on sunlit leaves (V about 200,
#: their surround about 100); sim_dominikma's dim lamps sit in housings darker than 50 and are found as before.
CONTRAST_MIN = 100
CONTRAST_KERNEL = 11
HOUSING_MAX_VALUE = 50
#: Hue ranges (OpenCV: 0..179) of each lamp, and where that lamp sits in its light (share of the light's height).
LAMP_HUES: dict[State, tuple[tuple[int, int], ...]] = {
    State.RED: ((0, 8), (170, 179)),
    State.YELLOW: ((15, 35),),
    State.GREEN: ((45, 100),),
}
#: A dim lamp's hues: a dim green one up to 85 only, because the sky seen between leaves (hue 90-105) stands out of
#: dark foliage as a lamp does; with 100 (before the other limits), dim lamps made 1 RED frame of sim_dominikma GREEN
#: and found 15 of 63, not 47.  A dim yellow one up to 28: up to 35, sunlit leaves made car frames without a light
#: YELLOW.
DIM_HUES = {**LAMP_HUES, State.YELLOW: ((15, 28),), State.GREEN: ((45, 85),)}
STATES = tuple(LAMP_HUES)  #: the lamps' states, in the order a tie of colours is broken in
LAMP_PLACE = {State.RED: 1 / 6, State.YELLOW: 1 / 2, State.GREEN: 5 / 6}
#: A blob is a lamp when it has at least MIN_AREA pixels, is at most MAX_SIZE px across, at most ROUND times
#: longer than wide, and fills at least FILL of its bounding box (a disc fills 0.79).  Two pixels can be a far, dim
#: lamp's core: with 3, the dim lamps found 6 fewer of those 63 sim_dominikma frames (the classifier judges the rest).
MIN_AREA = 2
MAX_SIZE = 60
ROUND = 2.5
FILL = 0.4
#: The light around a lamp blob d px across: LIGHT_WIDTH * d wide, LIGHT_ASPECT times taller than wide
#: (the labelled simulator lights are 2.2-2.3 times taller than wide, the car's 2.7).
LIGHT_WIDTH = 1.6
LIGHT_ASPECT = 2.4
#: The widths (times the blob's size) each proposal's light is read at; the surest reading counts.  A dim lamp's blob
#: is only its brightest core, so its light is wider than LIGHT_WIDTH times it: held out on sim_dominikma (before the
#: hue and surround limits above), reading 1.6 alone found 37 of those 63 frames, 1.6 and 2.4 found 51, all three 54.
LIGHT_WIDTHS = (LIGHT_WIDTH, 2.4, 3.2)
#: At most this many blobs, those standing out most first (their summed top-hat), are read by the classifier in one frame.
MOST = 20
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
    """A lit lamp of ``state``'s colour and the light boxes it implies, normalised (ymin, xmin, ymax, xmax).

    ``boxes`` holds the light at each of :data:`LIGHT_WIDTHS`; ``box``, the first of them, is the light at
    :data:`LIGHT_WIDTH`.
    """

    state: State
    boxes: tuple[tuple[float, float, float, float], ...]
    area: int

    @property
    def box(self) -> tuple[float, float, float, float]:
        return self.boxes[0]


def proposal_settings() -> dict[str, object]:
    """What tells these proposals from earlier ones (``docs/heldout/loro.json`` records it per held-out row)."""
    dim = {"contrast_min": CONTRAST_MIN, "max_value": DIM_MAX_VALUE, "housing_max_value": HOUSING_MAX_VALUE}
    return {"dim_lamps": dim, "light_widths": list(LIGHT_WIDTHS), "most": MOST}


def _light_box(state: State, cx: float, cy: float, lw: float, width: int, height: int) -> tuple[float, float, float, float]:
    """The normalised box of a light ``lw`` px wide whose ``state`` lamp is centred at (``cx``, ``cy``), in the frame."""
    lh = LIGHT_ASPECT * lw
    top = cy - LAMP_PLACE[state] * lh
    return (
        max(0.0, top) / height,
        max(0.0, cx - lw / 2) / width,
        min(float(height), top + lh) / height,
        min(float(width), cx + lw / 2) / width,
    )


def lamp_proposals(rgb: np.ndarray, most: int = MOST) -> list[LampProposal]:
    """The lit lamps of an RGB frame, those standing out most of their surround first (their summed white top-hat),
    at most ``most``, each with the boxes of the light it belongs to."""
    import cv2

    height, width = rgb.shape[:2]
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
    # lit: bright and saturated, or dim and pale but standing out of the dark around it (cv2 over the whole frame:
    # numpy's comparisons took 4 times as long there)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (CONTRAST_KERNEL, CONTRAST_KERNEL))
    around = cv2.morphologyEx(hsv[..., 2], cv2.MORPH_OPEN, kernel)  # the value of what surrounds each pixel
    above = cv2.subtract(hsv[..., 2], around)  # how far each pixel stands out of it (the white top-hat)
    contrast = cv2.bitwise_and(cv2.threshold(above, CONTRAST_MIN - 1, 255, cv2.THRESH_BINARY)[1],
                               cv2.threshold(around, HOUSING_MAX_VALUE, 255, cv2.THRESH_BINARY_INV)[1])  # fmt: skip

    # the candidates in two passes over the frame, then each candidate's lamp colour from its hue alone (a few
    # thousand pixels, not the frame: one cv2.inRange pass per hue range made the whole 1.4 times slower)
    bright = cv2.inRange(hsv, np.array([0, LIT_MIN_SATURATION, LIT_MIN_VALUE]), np.array([179, 255, 255]))
    dim = cv2.bitwise_and(cv2.inRange(hsv, np.array([0, DIM_MIN_SATURATION, DIM_MIN_VALUE]),
                                      np.array([179, 255, DIM_MAX_VALUE])), contrast)  # fmt: skip
    candidates = np.flatnonzero(cv2.bitwise_or(bright, dim))
    hue = hsv.reshape(-1, 3)[candidates, 0]  # the candidates' hues alone, not a copy of the frame's hue channel
    is_bright = bright.ravel()[candidates] > 0
    colour = np.full(len(candidates), -1, np.int8)  # the index in STATES of each candidate's lamp colour, -1: none
    for index, state in enumerate(STATES):
        for ranges, which in ((LAMP_HUES[state], is_bright), (DIM_HUES[state], ~is_bright)):
            for lo, hi in ranges:
                colour[which & (hue >= lo) & (hue <= hi)] = index
    lit, colour = candidates[colour >= 0], colour[colour >= 0]
    lamps = np.zeros(height * width, np.uint8)
    lamps[lit] = 255
    # one labelling of every lit lamp pixel, then each blob's colour and how far it stands out, counted over the lit
    # pixels alone (np.bincount: a loop over blobs took 40 ms on a 1368x1096 frame of foliage)
    count, labels, stats, centres = cv2.connectedComponentsWithStats(lamps.reshape(height, width), connectivity=8)
    w, h, area = stats[1:, cv2.CC_STAT_WIDTH], stats[1:, cv2.CC_STAT_HEIGHT], stats[1:, cv2.CC_STAT_AREA]
    size = np.maximum(w, h)
    lamp = (area >= MIN_AREA) & (size <= MAX_SIZE) & (size <= ROUND * np.minimum(w, h)) & (area >= FILL * w * h)
    blob = labels.ravel()[lit]
    stands_out = np.bincount(blob, weights=above.ravel()[lit], minlength=count)[1:]
    colours = np.stack([np.bincount(blob, weights=colour == i, minlength=count)[1:] for i in range(len(STATES))])
    chosen = np.flatnonzero(lamp)
    chosen = chosen[np.argsort(-stands_out[chosen], kind="stable")][:most]  # those standing out most first
    found = []
    for i in chosen:
        state = STATES[int(np.argmax(colours[:, i]))]  # the colour most of its pixels have (the first on a tie)
        cx, cy = centres[i + 1]
        boxes = tuple(_light_box(state, cx, cy, k * float(size[i]), width, height) for k in LIGHT_WIDTHS)
        found.append(LampProposal(state, boxes, int(area[i])))
    return found
