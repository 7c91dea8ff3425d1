"""The node's work on one frame, and its health, with no ROS in sight.

:class:`FrameClassifier` is what the node runs on each decoded frame: the model,
then the temporal filter.  It tells a bad frame from a broken model: when the
model raises on a frame, it is run once more on the blank warm-up frame that
worked at start-up; if that works too, the frame was at fault
(:class:`FrameFailed`: counted, logged, the next frame is processed); if not,
the model is (:class:`ModelBroken`: the node stops with one line and a non-zero exit).

:class:`Health` is the watchdog the node reports in ``/diagnostics``: ERROR when
frames arrive but none has been classified for ``stall_timeout`` seconds, WARN
when more than ``max_failed_share`` of the recent frames failed, OK again once it recovers.
"""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from tl_classifier.errors import ImageError, TLClassifierError, first_line
from tl_classifier.model.detection import FrameResult, TemporalFilter
from tl_classifier.model.load import DetectionModel
from tl_classifier.params import NodeParams, Roi
from tl_classifier.states import State


class FrameFailed(TLClassifierError):
    """One frame could not be classified; the next one may be.  ``kind`` groups alike failures for throttled logs."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


class ModelBroken(TLClassifierError):
    """The model fails on the frame it worked on at start-up: no later frame will do better."""


def failure_kind(err: BaseException) -> str:
    """A short key for alike failures (numbers masked): 'ImageError: empty image (NxN)'."""
    return f"{type(err).__name__}: {re.sub(r'[0-9]+', 'N', first_line(err))[:80]}"


class FrameClassifier:
    """Model + temporal filter, frame after frame: ``classify(rgb)`` -> (raw result, state to publish).

    :param model: a loaded, warmed-up model.
    :param probe_size: (width, height) of the blank frame the model worked on at start-up.
    :param roi: detections centred outside it are ignored (the car's hood, say); ``None``: the whole frame.
    """

    def __init__(
        self, model: DetectionModel, temporal: TemporalFilter, score_threshold: float | None, probe_size: tuple[int, int],
        roi: Roi | None = None,
    ) -> None:  # fmt: skip
        self.model = model
        self.filter = temporal
        self.score_threshold = score_threshold
        self.roi = roi
        self._probe = np.zeros((probe_size[1], probe_size[0], 3), np.uint8)

    @classmethod
    def from_params(cls, model: DetectionModel, params: NodeParams) -> FrameClassifier:
        """The node's classifier: its score threshold and temporal filter from the node's parameters.

        The node and ``classify_bag`` both build theirs here, so that they decide alike.
        """
        temporal = TemporalFilter(
            params.state_count_threshold,
            params.red_count_threshold,
            params.unknown_count_threshold,
            yellow_after_red=params.yellow_after_red,
            unknown_hold=params.unknown_hold,
            state_timeout=params.state_timeout,
        )
        threshold = params.score_threshold if params.score_threshold >= 0 else None
        model.lamp_proposals = model.lamp_proposals and params.lamp_proposals  # only a model with a crop classifier has them
        model.second_look = model.second_look and params.second_look  # only a model with a second_look.pb has one
        return cls(model, temporal, threshold, (params.warmup_width, params.warmup_height), Roi.parse(params.roi))

    def classify(self, rgb: np.ndarray, stamp: float | None = None) -> tuple[FrameResult, State]:
        """The model's result for one RGB frame and the state the temporal filter publishes after it.

        :raises FrameFailed: if this frame cannot be classified (the filter is not fed).
        :raises ModelBroken: if the model no longer works on the start-up frame either.
        """
        try:
            result = self.model.detect(rgb, self.score_threshold, self.roi)
        except ImageError as err:
            raise FrameFailed(str(err), failure_kind(err)) from err
        except Exception as err:  # TensorFlow raises many types; which one says little about whose fault it is
            self._check_model(err)
            raise FrameFailed(f"the model failed on this frame: {first_line(err)}", failure_kind(err)) from err
        return result, self.filter.update(result.state, stamp)

    def _check_model(self, cause: Exception) -> None:
        try:
            self.model.raw(self._probe)
        except Exception as err:
            raise ModelBroken(
                f"the model {self.model.path} failed on a frame ({first_line(cause)}) and now fails on the blank "
                f"{self._probe.shape[1]}x{self._probe.shape[0]} frame it ran at start-up too ({first_line(err)})"
            ) from err


@dataclass(frozen=True)
class HealthStatus:
    """A diagnostics level (0 OK, 1 WARN, 2 ERROR, as ``diagnostic_msgs/DiagnosticStatus``) and its message."""

    level: int
    message: str


OK, WARN, ERROR = 0, 1, 2


class Health:
    """The node's watchdog over frames received, classified and failed.

    :param stall_timeout: seconds frames may arrive without any being classified before ERROR.
    :param max_failed_share: share of the last ``window`` frames that may fail before WARN.
    :param clock: seconds, monotonic (tests pass their own).
    """

    def __init__(
        self,
        stall_timeout: float = 2.0,
        max_failed_share: float = 0.2,
        window: int = 50,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stall_timeout = stall_timeout
        self.max_failed_share = max_failed_share
        self.clock = clock
        self._outcomes: deque[bool] = deque(maxlen=window)  # True: failed
        self._last_received: float | None = None
        self._waiting_since: float | None = None  # first frame received since the last one classified

    def received(self) -> None:
        now = self.clock()
        self._last_received = now
        if self._waiting_since is None:
            self._waiting_since = now

    def classified(self) -> None:
        self._waiting_since = None
        self._outcomes.append(False)

    def failed(self) -> None:
        self._outcomes.append(True)

    def failed_share(self) -> float:
        return sum(self._outcomes) / len(self._outcomes) if self._outcomes else 0.0

    def status(self, state: str = "", rate_hz: float = 0.0) -> HealthStatus:
        """The level and one line for ``/diagnostics``, now."""
        now = self.clock()
        if self._last_received is None:
            return HealthStatus(WARN, "no frame received yet")
        arriving = now - self._last_received <= self.stall_timeout
        if arriving and self._waiting_since is not None and now - self._waiting_since > self.stall_timeout:
            return HealthStatus(ERROR, f"frames arrive but none has been classified for {now - self._waiting_since:.1f} s")
        share = self.failed_share()
        if share > self.max_failed_share:
            return HealthStatus(WARN, f"{100 * share:.0f} % of the last {len(self._outcomes)} frames failed")
        if not arriving:
            return HealthStatus(WARN, f"no frame for {now - self._last_received:.1f} s (state {state or 'UNKNOWN'})")
        return HealthStatus(OK, f"state {state} at {rate_hz:.1f} Hz")
