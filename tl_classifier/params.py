"""The node's parameters: defaults, types and checks, with no ROS in sight.

:meth:`NodeParams.read` takes any ``get(name, default)`` function; the node
passes ``rospy.get_param`` with private (``~``) names, the tests a dict's get.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, Protocol

from tl_classifier.errors import ParameterError
from tl_classifier.tf_setup import parse_device


def parse_size(text: str, option: str) -> tuple[int, int]:
    """``WIDTHxHEIGHT`` (an image or input size) -> (width, height), both positive.

    :raises ParameterError: naming ``option``, if it is not.
    """
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError as err:
        raise ParameterError(f"{option}: give WIDTHxHEIGHT, e.g. 512x384; got {text!r}") from err
    if width <= 0 or height <= 0:
        raise ParameterError(f"{option}: width and height must be positive, got {text!r}")
    return width, height


class _Boxed(Protocol):
    """Anything with a box in pixels (a detection, a labelled box)."""

    @property
    def xmin(self) -> float: ...
    @property
    def ymin(self) -> float: ...
    @property
    def xmax(self) -> float: ...
    @property
    def ymax(self) -> float: ...


@dataclass(frozen=True)
class Roi:
    """Where in the frame a traffic light can be: a rectangle in fractions of the frame's width and height.

    A detection whose box centre lies outside it is dropped before the frame's state is decided.  It is a
    fact of the camera, not of the model: a camera that sees the car's own hood sees the light's reflection
    there too (on the Udacity car, the overcast site's wrong frames were often decided by it), and a light
    is never on the hood.  The whole frame by default; :data:`SITE_ROI` for the Udacity car's camera.
    """

    x_min: float = 0.0
    y_min: float = 0.0
    x_max: float = 1.0
    y_max: float = 1.0

    def __post_init__(self) -> None:
        if not (0.0 <= self.x_min < self.x_max <= 1.0 and 0.0 <= self.y_min < self.y_max <= 1.0):
            raise ParameterError(f"a region of interest is x_min,y_min,x_max,y_max with 0 <= min < max <= 1, got {self}")

    @classmethod
    def parse(cls, text: str) -> Roi:
        """``"x_min,y_min,x_max,y_max"`` (fractions of the frame) -> :class:`Roi`.

        :raises ParameterError: for anything else.
        """
        try:
            values = [float(v) for v in str(text).replace(" ", "").split(",")]
        except ValueError as err:
            raise ParameterError(f"a region of interest is four numbers x_min,y_min,x_max,y_max, got {text!r}") from err
        if len(values) != 4:
            raise ParameterError(f"a region of interest is four numbers x_min,y_min,x_max,y_max, got {text!r}")
        return cls(*values)

    def __str__(self) -> str:
        return ",".join(f"{v:g}" for v in (self.x_min, self.y_min, self.x_max, self.y_max))

    @property
    def whole(self) -> bool:
        """True for the whole frame (nothing is dropped)."""
        return self == Roi()

    def contains(self, d: _Boxed, width: int, height: int) -> bool:
        """Whether the centre of ``d`` (pixels of a ``width`` x ``height`` frame) lies in the region."""
        x, y = (d.xmin + d.xmax) / 2 / width, (d.ymin + d.ymax) / 2 / height
        return self.x_min <= x <= self.x_max and self.y_min <= y <= self.y_max


#: The Udacity car's camera (``classify.launch site:=true``): its hood, from 70 % of the frame's height down in every
#: car recording here, left out; no labelled light of those recordings is centred below 48 % of it.
SITE_ROI = Roi(0.0, 0.0, 1.0, 0.65)


@dataclass(frozen=True)
class NodeParams:
    """Private parameters of ``tl_classifier_node`` (each read once, as ``~name``)."""

    model: str = ""  #: frozen_inference_graph.pb, SavedModel folder, or export folder (required)
    label_map: str = ""  #: label_map.pbtxt; empty: the one beside the model
    camera_topic: str = "/image_color"  #: sensor_msgs/Image or CompressedImage topic
    score_threshold: float = -1.0  #: detections below it are ignored; -1: the model's own (model.json) or 0.5
    roi: str = str(Roi())  #: region of interest x_min,y_min,x_max,y_max (fractions): detections centred outside are ignored
    lamp_proposals: bool = True  #: a two-stage model's lit lamps propose lights where its detector decides nothing
    second_look: bool = True  #: a two-stage model's second look (a larger detector input) runs where the first decides nothing
    state_count_threshold: int = 3  #: frames in a row before a new state is published
    red_count_threshold: int = 1  #: frames in a row before RED is published
    unknown_count_threshold: int = 6  #: frames in a row before UNKNOWN replaces a known state
    yellow_after_red: bool = True  #: a YELLOW seen while RED is published (before any GREEN) is taken as RED
    unknown_hold: float = 0.0  #: seconds without a light before UNKNOWN replaces a known state (0: the count rule)
    state_timeout: float = 0.0  #: seconds between frames after which the state starts again from UNKNOWN (0: off)
    device: str = "auto"  #: auto, cpu, gpu or gpu:N
    gpu_memory_limit: int = 0  #: MiB; 0: no cap, memory growth
    max_frame_age: float = 0.0  #: seconds; drop frames whose header stamp is older (0: off)
    warmup_width: int = 800  #: width of the warm-up frames
    warmup_height: int = 600  #: height of the warm-up frames
    buff_size: int = 1 << 26  #: subscriber's socket buffer in bytes (must exceed several frames)
    stall_timeout: float = 2.0  #: seconds frames may arrive with none classified before /diagnostics says ERROR
    max_failed_share: float = 0.2  #: share of the last 50 frames that may fail before /diagnostics says WARN
    log_period: float = 10.0  #: seconds between warnings of one kind of failed frame

    @classmethod
    def read(cls, get: Callable[[str, Any], Any], prefix: str = "~") -> NodeParams:
        """Read every parameter through ``get(prefix + name, default)`` and check it.

        :raises ParameterError: naming the parameter, for a wrong type or value.
        """
        values: dict[str, Any] = {}
        for f in fields(cls):
            default = f.default
            raw = get(prefix + f.name, default)
            kind: Any = type(default)
            try:
                if kind is bool:  # roslaunch gives true/false as bools; a string is read as launch files spell it
                    text = str(raw).strip().lower()
                    if not isinstance(raw, bool) and text not in ("true", "false", "1", "0"):
                        raise TypeError
                    values[f.name] = raw if isinstance(raw, bool) else text in ("true", "1")
                    continue
                if kind is int and isinstance(raw, bool):
                    raise TypeError
                if kind is int and isinstance(raw, float) and raw != int(raw):
                    raise TypeError
                values[f.name] = kind(raw) if not isinstance(raw, str) or kind is str else kind(raw.strip())
            except (TypeError, ValueError) as err:
                raise ParameterError(f"{prefix}{f.name} must be {kind.__name__}, got {raw!r}") from err
        params = cls(**values)
        params.check(prefix)
        return params

    def check(self, prefix: str = "~") -> None:
        """:raises ParameterError: naming the first parameter out of range."""

        def bad(name: str, why: str) -> ParameterError:
            return ParameterError(f"{prefix}{name} {why}, got {getattr(self, name)!r}")

        if not self.model:
            raise bad("model", "must name a frozen graph or SavedModel")
        if not self.camera_topic:
            raise bad("camera_topic", "must name a topic")
        if not (0.0 <= self.score_threshold <= 1.0 or self.score_threshold == -1.0):
            raise bad("score_threshold", "must be between 0 and 1 (or -1: the model's own)")
        try:
            Roi.parse(self.roi)
        except ParameterError as err:
            raise bad("roi", "must be x_min,y_min,x_max,y_max in fractions of the frame, min < max") from err
        for name in ("state_count_threshold", "red_count_threshold", "unknown_count_threshold"):
            if getattr(self, name) < 1:
                raise bad(name, "must be at least 1 frame")
        parse_device(self.device)
        if self.gpu_memory_limit < 0:
            raise bad("gpu_memory_limit", "must be >= 0 MiB (0: no cap)")
        if self.max_frame_age < 0:
            raise bad("max_frame_age", "must be >= 0 s (0: off)")
        if self.warmup_width < 16 or self.warmup_height < 16:
            raise bad("warmup_width" if self.warmup_width < 16 else "warmup_height", "must be at least 16 pixels")
        if self.stall_timeout <= 0:
            raise bad("stall_timeout", "must be > 0 s")
        if not 0.0 <= self.max_failed_share <= 1.0:
            raise bad("max_failed_share", "must be between 0 and 1")
        if self.log_period < 0:
            raise bad("log_period", "must be >= 0 s")
        if self.buff_size < 1 << 20:
            raise bad("buff_size", "must be at least 1 MiB (rospy's small default makes queue_size=1 a backlog)")
