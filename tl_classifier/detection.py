"""Detections, the state of one frame, and the temporal filter over frames."""

from __future__ import annotations

from dataclasses import dataclass, field

from tl_classifier.errors import ParameterError
from tl_classifier.states import State

# When two detections score the same, the more restrictive state wins.
_RESTRICTIVENESS = {State.RED: 4, State.YELLOW: 3, State.OFF: 2, State.GREEN: 1, State.UNKNOWN: 0}


@dataclass(frozen=True)
class Detection:
    """One detected light: its state, the model's label and score, and its box in pixels."""

    state: State
    label: str
    class_id: int
    score: float
    xmin: int
    ymin: int
    xmax: int
    ymax: int


@dataclass(frozen=True)
class FrameResult:
    """What the model found in one frame, before the temporal filter.

    ``state`` is decided by :func:`decide_state`; ``detections`` holds every
    detection at or above the score threshold, best first.
    """

    state: State
    confidence: float
    detections: tuple[Detection, ...] = field(default_factory=tuple)
    inference_time: float = 0.0


def decide_state(detections: tuple[Detection, ...] | list[Detection], score_threshold: float) -> tuple[State, float]:
    """The state of a frame: that of its best detection at or above ``score_threshold``.

    Ties go to the more restrictive state (RED, YELLOW, OFF, GREEN).
    Returns ``(State.UNKNOWN, 0.0)`` when no detection reaches the threshold.
    """
    best: Detection | None = None
    for d in detections:
        if d.score < score_threshold or d.state == State.UNKNOWN:
            continue
        if best is None or (d.score, _RESTRICTIVENESS[d.state]) > (best.score, _RESTRICTIVENESS[best.state]):
            best = d
    if best is None:
        return State.UNKNOWN, 0.0
    return best.state, best.score


class TemporalFilter:
    """Publishes a state only once it has been seen enough frames in a row.

    The rules (all counts are consecutive frames):

    * A new state replaces the published one after ``count_threshold`` frames
      (default 3, as in the capstone's ``STATE_COUNT_THRESHOLD``).
    * Switching **to RED** needs only ``red_count_threshold`` frames (default 1):
      reacting late to a red light is the dangerous error, while a false RED
      only costs a brief, needless slow-down.  Leaving RED takes the full
      ``count_threshold``.
    * **UNKNOWN** (no light seen) replaces a known state only after
      ``unknown_count_threshold`` frames (default 6, twice the normal count),
      so a light missed for a frame or two does not make a RED disappear;
      a light that is really gone still gives UNKNOWN after a bounded time.
    * Before any state is confirmed, the published state is UNKNOWN, never RED.

    :raises ParameterError: if a threshold is below 1.
    """

    def __init__(self, count_threshold: int = 3, red_count_threshold: int = 1, unknown_count_threshold: int = 6) -> None:
        for name, value in (
            ("count_threshold", count_threshold),
            ("red_count_threshold", red_count_threshold),
            ("unknown_count_threshold", unknown_count_threshold),
        ):
            if int(value) != value or value < 1:
                raise ParameterError(f"{name} must be a whole number of frames >= 1, got {value!r}")
        self.count_threshold = int(count_threshold)
        self.red_count_threshold = int(red_count_threshold)
        self.unknown_count_threshold = int(unknown_count_threshold)
        self.state = State.UNKNOWN
        self._candidate = State.UNKNOWN
        self._count = 0

    def _needed(self, state: State) -> int:
        if state == State.RED:
            return self.red_count_threshold
        if state == State.UNKNOWN:
            return self.unknown_count_threshold
        return self.count_threshold

    def update(self, raw: State) -> State:
        """Feed one frame's state; return the state to publish."""
        if raw == self._candidate:
            self._count += 1
        else:
            self._candidate, self._count = raw, 1
        if raw != self.state and self._count >= self._needed(raw):
            self.state = raw
        return self.state
