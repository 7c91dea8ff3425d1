"""Filling in an Object Detection API pipeline ``.config`` without hand edits.

The tutorial edits seven things by hand in a sample config.  :func:`configure`
makes the same edits by field path, and leaves every other line as it was
(comments, spacing, fields it does not know), so a config from any OD API
release stays that release's config.  It needs no OD API; where the OD API's
environment exists, :func:`tl_classifier.train.odapi.validate_with_od_api` has the
OD API's own loader read the result.

The config is protobuf text format; this module tracks which block each line
is in (``train_config``, ``eval_input_reader/tf_record_input_reader``, ...)
and rewrites ``key: value`` lines whose path matches.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from tl_classifier.errors import TLClassifierError

PLACEHOLDER = "PATH_TO_BE_CONFIGURED"
_OPEN = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*:?\s*\{")
_FIELD = re.compile(r"^(\s*)([A-Za-z_][A-Za-z0-9_]*)(\s*:\s*)(\[[^\]]*\]|\"(?:[^\"\\]|\\.)*\"|'[^']*'|[^\s#{}]+)(.*)$")


_SCHEDULES = {"cosine_decay_learning_rate", "exponential_decay_learning_rate", "manual_step_learning_rate"}


class ConfigError(TLClassifierError):
    """A pipeline config cannot be read or filled in."""


@dataclass
class Settings:
    """What to fill in; ``None`` leaves a field as it is."""

    num_classes: int | None = None
    image_height: int | None = None
    image_width: int | None = None
    max_detections: int | None = None
    batch_size: int | None = None
    fine_tune_checkpoint: str | None = None
    num_steps: int | None = None
    train_record: str | list[str] | None = None  #: several: the OD API reads them all (a repeated field)
    eval_record: str | None = None
    label_map: str | None = None
    eval_examples: int | None = None
    changed: list[str] = field(default_factory=list)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _strip_comment(line: str) -> str:
    """The line without a trailing comment (a # outside quotes)."""
    out, quote = [], ""
    for ch in line:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            break
        out.append(ch)
    return "".join(out)


def _warmup(current: str, num_steps: int | None) -> int | None:
    """A warm-up no longer than a tenth of ``num_steps`` (the OD API refuses a warm-up longer than the schedule)."""
    try:
        value = int(float(current))
    except ValueError:
        return None
    return min(value, num_steps // 10) if num_steps is not None else None


def _rule(path: tuple[str, ...], s: Settings, current: str = "") -> str | None:
    """The new value text for the field at ``path`` (now ``current``), or ``None`` to keep it."""
    name = path[-1]
    inside = set(path[:-1])
    in_schedule = path[:1] == ("train_config",) and bool(inside & _SCHEDULES)
    table: list[tuple[bool, object]] = [
        (name == "num_classes", s.num_classes),
        ("fixed_shape_resizer" in inside and name == "height", s.image_height),
        ("fixed_shape_resizer" in inside and name == "width", s.image_width),
        (
            "keep_aspect_ratio_resizer" in inside and name == "min_dimension",
            min(s.image_height, s.image_width) if s.image_height and s.image_width else None,
        ),
        (
            "keep_aspect_ratio_resizer" in inside and name == "max_dimension",
            max(s.image_height, s.image_width) if s.image_height and s.image_width else None,
        ),
        (name in ("max_detections_per_class", "max_total_detections"), s.max_detections),
        (path[:1] == ("train_config",) and name == "batch_size", s.batch_size),
        (path[:1] == ("train_config",) and name == "num_steps", s.num_steps),
        (in_schedule and name == "total_steps", s.num_steps),  # the learning-rate schedule ends with the training
        (in_schedule and name == "warmup_steps", _warmup(current, s.num_steps)),
        (path[:1] == ("eval_config",) and name == "num_examples", s.eval_examples),
    ]
    for match, value in table:
        if match and value is not None:
            return str(value)
    strings: list[tuple[bool, str | list[str] | None]] = [
        (path[:1] == ("train_config",) and name == "fine_tune_checkpoint", s.fine_tune_checkpoint),
        (path[:1] == ("train_input_reader",) and name == "input_path", s.train_record),
        (path[:1] == ("eval_input_reader",) and name == "input_path", s.eval_record),
        (path[:1] in (("train_input_reader",), ("eval_input_reader",)) and name == "label_map_path", s.label_map),
    ]
    for match, text in strings:
        if match and text is not None:
            if isinstance(text, list):
                return _quote(text[0]) if len(text) == 1 else "[" + ", ".join(_quote(t) for t in text) + "]"
            return _quote(text)
    return None


def configure(text: str, settings: Settings, source: str = "pipeline.config") -> str:
    """Return ``text`` with the fields of ``settings`` filled in; every other line unchanged.

    Records which fields changed in ``settings.changed``.

    :raises ConfigError: if braces do not balance, or a ``PATH_TO_BE_CONFIGURED``
        is left that no setting fills (each is named with its line).
    """
    out = []
    for number, line, m, path in _fields(text, source):
        if m is not None:
            new = _rule(path, settings, m.group(4))
            if new is not None and new != m.group(4):
                settings.changed.append(f"{'/'.join(path)}: {m.group(4)} -> {new}")
                rest = line[len(m.group(1)) + len(m.group(2)) + len(m.group(3)) + len(m.group(4)) :]
                line = f"{m.group(1)}{m.group(2)}{m.group(3)}{new}{rest}"
            elif PLACEHOLDER in m.group(4):
                raise ConfigError(f"line {number}: {'/'.join(path)} is {PLACEHOLDER} and no option fills it", source)
        out.append(line)
    return "".join(out)


def field_values(text: str, source: str = "pipeline.config") -> list[tuple[tuple[str, ...], str]]:
    """Every ``key: value`` line of a config with its block path (``("train_config", "num_steps")``), read the
    way :func:`configure` reads them; quoted strings without their quotes.

    :raises ConfigError: if braces do not balance.
    """
    values = []
    for _number, _line, m, path in _fields(text, source):
        if m is not None:
            value = m.group(4)
            quoted = len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'"
            values.append((path, value[1:-1] if quoted else value))
    return values


def _fields(text: str, source: str) -> Iterator[tuple[int, str, re.Match[str] | None, tuple[str, ...]]]:
    """Each line of a config: its number, the line, its ``key: value`` match (None for other lines) and that
    field's block path.  Tracks the blocks (``train_config { ... }``) as it goes.

    :raises ConfigError: if braces do not balance.
    """
    stack: list[str] = []
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        code = _strip_comment(line)
        m = _FIELD.match(code.rstrip("\n"))
        field = m if m and "{" not in m.group(4) else None
        yield number, line, field, (*stack, field.group(2)) if field else tuple(stack)
        opened = _OPEN.match(code)
        if opened:
            stack.append(opened.group(1))
            depth_change = code.count("{") - code.count("}") - 1
        else:
            depth_change = code.count("{") - code.count("}")
        if depth_change < 0:
            for _ in range(-depth_change):
                if not stack:
                    raise ConfigError(f"line {number}: a '}}' closes nothing", source)
                stack.pop()
        elif depth_change > 0:
            stack += ["?"] * depth_change
    if stack:
        raise ConfigError(f"{len(stack)} block(s) are never closed ({'/'.join(stack)})", source)


def meta_architecture(text: str) -> str:
    """``ssd``, ``faster_rcnn``, ... : the first block inside ``model { }``."""
    m = re.search(r"model\s*:?\s*\{\s*(?:#[^\n]*\n\s*)*([A-Za-z_]+)\s*:?\s*\{", text)
    if not m:
        raise ConfigError("has no model { ... } block")
    return m.group(1)
