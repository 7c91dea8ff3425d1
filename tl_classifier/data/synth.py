"""Synthetic, labelled traffic-light frames for tests and the demo.

A frame is a sky/ground backdrop with noise, and one or more three-lamp lights
(red on top, yellow, green) in one of four states: red, yellow, green or off.
The lit lamp has a glow.  Frames complement the real frames in
``../shared/realdata``; they never stand in for them in accuracy tests.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from tl_classifier.errors import ParameterError
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
        glow: Any = np.zeros_like(out)
        for i, lamp in enumerate(_ORDER):
            centre = (x0 + w // 2, y0 + int((1.5 + 3 * i) * r))
            if lamp == state:
                cv2.circle(out, centre, r, LIT_RGB[lamp], -1, cv2.LINE_AA)
                cv2.circle(glow, centre, int(r * 1.6), LIT_RGB[lamp], -1, cv2.LINE_AA)
            else:
                cv2.circle(out, centre, r, _OFF_RGB, -1, cv2.LINE_AA)
        glow = cv2.GaussianBlur(glow, (0, 0), r * 0.6)
        out = np.asarray(cv2.addWeighted(out, 1.0, glow, 0.35, 0), np.uint8)
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


@dataclass(frozen=True)
class SynthOptions:
    """What ``synthesize`` renders: the demo's light cycle, or ``count`` frames of random states."""

    width: int = 800
    height: int = 600
    count: int = 0  #: frames of random states (0: the demo's light cycle)
    frames_per_state: int = 10  #: of the demo cycle
    states: tuple[State, ...] = (State.RED, State.YELLOW, State.GREEN, State.OFF, State.UNKNOWN)  #: drawn by ``count``
    lights: int = 1  #: most lights per frame; each frame has 1 to this many
    seed: int = 0

    def __post_init__(self) -> None:
        if min(self.width, self.height) < 64 or self.lights < 1 or self.count < 0 or self.frames_per_state < 1:
            raise ParameterError("--size must be at least 64x64, --lights and --frames-per-state at least 1, --count >= 0")

    def sequence(self) -> tuple[list[State], Iterator[tuple[np.ndarray, list[Light]]]]:
        """The states, and their frames (RGB and the lights drawn) rendered lazily in that order."""
        rng = np.random.default_rng(self.seed)
        states = random_sequence(self.count, rng, self.states) if self.count else demo_sequence(self.frames_per_state)
        frames = (render_frame(s, self.width, self.height, rng, lights=int(rng.integers(1, self.lights + 1))) for s in states)
        return states, frames


def write_folder(
    out: Path, frames: Iterable[tuple[np.ndarray, list[Light]]], suffix: str = ".jpg", voc: bool = False, overwrite: bool = False
) -> int:
    """Synthetic frames as ``synth_NNNNNN`` images (and labelImg XML beside each with ``voc``); returns how many are new.

    Existing images and XML are kept unless ``overwrite``.
    """
    from tl_classifier.data.images import write_image
    from tl_classifier.data.voc import VocObject, voc_xml, write_voc

    out.mkdir(parents=True, exist_ok=True)
    n = 0
    for i, (rgb, lights) in enumerate(frames):
        name = f"synth_{i:06d}{suffix}"
        if write_image(out / name, rgb, overwrite=overwrite):
            n += 1
        if voc:
            objects = [VocObject(LABELS[lt.state], lt.xmin, lt.ymin, lt.xmax, lt.ymax) for lt in lights]
            xml_path = out / f"synth_{i:06d}.xml"
            if overwrite or not xml_path.exists():
                height, width = rgb.shape[:2]
                write_voc(xml_path, voc_xml(name, width, height, objects, out.name), overwrite)
    return n
