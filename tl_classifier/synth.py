"""Synthetic, labelled traffic-light frames for tests and the demo.

A frame is a sky/ground backdrop with noise, and one or more three-lamp lights
(red on top, yellow, green) in one of four states: red, yellow, green or off.
The lit lamp has a glow.  Frames complement the real frames in
``../shared/realdata``; they never stand in for them in accuracy tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from tl_classifier.states import State

#: Lamp colours when lit (RGB), as the simulator renders them.
LIT_RGB = {State.RED: (255, 30, 20), State.YELLOW: (255, 230, 30), State.GREEN: (30, 255, 60)}
_OFF_RGB = (55, 55, 55)
_ORDER = (State.RED, State.YELLOW, State.GREEN)


@dataclass(frozen=True)
class Light:
    """One light drawn into a frame: its state and its housing's box in pixels."""

    state: State
    xmin: int
    ymin: int
    xmax: int
    ymax: int


def render_frame(
    state: State,
    width: int = 800,
    height: int = 600,
    rng: np.random.Generator | None = None,
    lights: int = 1,
    lamp_radius: int | None = None,
) -> tuple[np.ndarray, list[Light]]:
    """Render one RGB frame showing ``lights`` lights in ``state``.

    :param state: RED, YELLOW, GREEN or OFF (UNKNOWN renders no light).
    :param lamp_radius: lamp size in pixels; random (scaled to the frame) by default.
    :returns: the uint8 H x W x 3 RGB frame and the lights' boxes.
    """
    rng = rng or np.random.default_rng(0)
    img = np.empty((height, width, 3), np.float32)
    horizon = int(height * rng.uniform(0.45, 0.65))
    top, bottom = np.array([70, 120, 200], np.float32), np.array([160, 190, 230], np.float32)
    t = np.linspace(0.0, 1.0, horizon, dtype=np.float32)[:, None, None]
    img[:horizon] = top * (1 - t) + bottom * t
    img[horizon:] = np.array([75, 90, 60], np.float32)
    img *= rng.uniform(0.7, 1.15)
    img += rng.normal(0.0, 6.0, img.shape).astype(np.float32)
    out = np.clip(img, 0, 255).astype(np.uint8)
    boxes: list[Light] = []
    if state == State.UNKNOWN:
        return out, boxes
    for _ in range(lights):
        r = lamp_radius or int(rng.uniform(0.008, 0.016) * width) + 3
        w, h = 3 * r, 9 * r
        x0 = int(rng.uniform(0.05, 0.9) * (width - w))
        y0 = int(rng.uniform(0.1, 0.6) * max(horizon - h, 1))
        cv2.rectangle(out, (x0, y0), (x0 + w, y0 + h), (25, 25, 25), -1)
        glow = np.zeros_like(out)
        for i, lamp in enumerate(_ORDER):
            centre = (x0 + w // 2, y0 + int((1.5 + 3 * i) * r))
            if lamp == state:
                cv2.circle(out, centre, r, LIT_RGB[lamp], -1, cv2.LINE_AA)
                cv2.circle(glow, centre, int(r * 1.6), LIT_RGB[lamp], -1, cv2.LINE_AA)
            else:
                cv2.circle(out, centre, r, _OFF_RGB, -1, cv2.LINE_AA)
        glow = cv2.GaussianBlur(glow, (0, 0), r * 0.6)
        out = cv2.addWeighted(out, 1.0, glow, 0.35, 0)
        boxes.append(Light(state, x0, y0, x0 + w, y0 + h))
    return out, boxes


def demo_sequence(frames_per_state: int = 15) -> list[State]:
    """A light's cycle, for the demo bag: UNKNOWN, GREEN, YELLOW, RED, GREEN, OFF."""
    cycle = [State.UNKNOWN, State.GREEN, State.YELLOW, State.RED, State.GREEN, State.OFF]
    return [s for s in cycle for _ in range(frames_per_state)]


def random_sequence(count: int, rng: np.random.Generator, states: tuple[State, ...] = tuple(State)) -> list[State]:
    """``count`` states drawn evenly from ``states``, for datasets."""
    return [states[i] for i in rng.integers(0, len(states), count)]


#: Label of each state in synthetic annotations (the tutorial's label map: Green, Red, Yellow, off).
LABELS = {State.RED: "Red", State.YELLOW: "Yellow", State.GREEN: "Green", State.OFF: "off"}
