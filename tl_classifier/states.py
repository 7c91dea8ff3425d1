"""Traffic-light states, and how dataset labels and capstone code map to them.

The values equal the constants of ``tl_classifier/TrafficLightState`` and
``tl_classifier/TrafficLightDetection``: 0 is always UNKNOWN, never RED.
"""

from __future__ import annotations

import enum
import re


class State(enum.IntEnum):
    """State of a traffic light."""

    UNKNOWN = 0  #: no light seen, or nothing could be decided
    RED = 1
    YELLOW = 2
    GREEN = 3
    OFF = 4  #: a light was found, but none of its lamps is lit


#: ``styx_msgs/TrafficLight`` values that Udacity capstone code expects.
STYX_RED = 0
STYX_YELLOW = 1
STYX_GREEN = 2
STYX_UNKNOWN = 4

_TO_STYX = {
    State.RED: STYX_RED,
    State.YELLOW: STYX_YELLOW,
    State.GREEN: STYX_GREEN,
    State.UNKNOWN: STYX_UNKNOWN,
    State.OFF: STYX_UNKNOWN,
}


def to_styx(state: int) -> int:
    """Return the ``styx_msgs/TrafficLight`` value for a :class:`State`.

    RED=0, YELLOW=1, GREEN=2; UNKNOWN and OFF both become UNKNOWN=4.

    :raises ValueError: if ``state`` is not a :class:`State` value.
    """
    return _TO_STYX[State(state)]


# Colour words first; the first that occurs in a label decides.  Bosch
# labels such as "RedLeft" or "GreenStraightRight" map to their colour.
_WORDS = (
    (re.compile(r"red"), State.RED),
    (re.compile(r"yellow|amber|orange"), State.YELLOW),
    (re.compile(r"green"), State.GREEN),
    (re.compile(r"^off$|^off[_\s-]|unlit|dark"), State.OFF),
)
_LETTERS = {"r": State.RED, "y": State.YELLOW, "g": State.GREEN}


def state_from_label(label: str) -> State:
    """Map a dataset label to a :class:`State`, case-insensitively.

    ``Red``, ``red``, ``RedLeft``, ``R`` -> RED; ``Yellow``, ``Y`` -> YELLOW;
    ``GreenStraightRight``, ``G`` -> GREEN; ``off`` -> OFF; anything else
    (``Unknown``, ``traffic light``, ...) -> UNKNOWN.
    """
    name = label.strip().lower()
    if name in _LETTERS:
        return _LETTERS[name]
    for pattern, state in _WORDS:
        if pattern.search(name):
            return state
    return State.UNKNOWN
