"""Object Detection API label maps (``label_map.pbtxt``).

Parsed with protobuf's own text-format parser against the OD API's
``StringIntLabelMap`` message (built here from its descriptor, so the OD API
need not be installed): every file the OD API accepts is read the same way,
and a malformed one gets protobuf's line/column message.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from tl_classifier.errors import LabelMapError
from tl_classifier.files import atomic_output, require_file
from tl_classifier.states import State, state_from_label


def _label_map_class():
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    fdp = descriptor_pb2.FileDescriptorProto(
        name="tl_classifier/string_int_label_map.proto", package="object_detection.protos", syntax="proto2"
    )
    item = fdp.message_type.add(name="StringIntLabelMapItem")
    F = descriptor_pb2.FieldDescriptorProto
    for number, name, ftype in ((1, "name", F.TYPE_STRING), (2, "id", F.TYPE_INT32), (3, "display_name", F.TYPE_STRING)):
        item.field.add(name=name, number=number, type=ftype, label=F.LABEL_OPTIONAL)
    top = fdp.message_type.add(name="StringIntLabelMap")
    top.field.add(
        name="item",
        number=1,
        type=F.TYPE_MESSAGE,
        label=F.LABEL_REPEATED,
        type_name=".object_detection.protos.StringIntLabelMapItem",
    )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("object_detection.protos.StringIntLabelMap"))


_SEPARATOR = "|"  # joins the names of an id that a label map gives several times


@dataclass(frozen=True)
class LabelMap:
    """Class ids (from 1) to label names, and each label's :class:`State`."""

    names: Mapping[int, str]

    def name(self, class_id: int) -> str:
        """Label name of ``class_id``; ``"class_N"`` for an id the map lacks."""
        return self.names.get(class_id, f"class_{class_id}")

    def state(self, class_id: int) -> State:
        """:class:`State` of ``class_id``.

        UNKNOWN for an id the map lacks, and for an id given several names of
        different states (real maps do that: Bosch's ``no_classes`` map names
        Off, Green, Yellow and Red all id 1, for a detector of lights alone).
        """
        name = self.names.get(class_id)
        if name is None:
            return State.UNKNOWN
        states = {state_from_label(n) for n in name.split(_SEPARATOR)}
        return states.pop() if len(states) == 1 else State.UNKNOWN

    @classmethod
    def from_labels(cls, labels: Iterable[str]) -> LabelMap:
        """A label map with ids 1, 2, ... in the order given (duplicates dropped)."""
        unique = list(dict.fromkeys(labels))
        return cls({i: name for i, name in enumerate(unique, start=1)})

    def to_pbtxt(self) -> str:
        """The map as ``label_map.pbtxt`` text, in the OD API's layout."""
        items = [f"item {{\n  id: {i}\n  name: '{n}'\n}}\n" for i, n in sorted(self.names.items())]
        return "\n".join(items)


def parse_label_map(text: str, path: str | os.PathLike[str] | None = None) -> LabelMap:
    """Parse label-map text.

    An id given several times keeps all its names, joined by ``|``
    (see :meth:`LabelMap.state`).

    :raises LabelMapError: if the text is not a valid ``StringIntLabelMap``,
        has no item, an item without id or name, or an id below 1.
    """
    from google.protobuf import text_format

    msg = _label_map_class()()
    try:
        text_format.Parse(text, msg, allow_unknown_field=True)
    except text_format.ParseError as err:
        raise LabelMapError(f"not a label map ({err})", path) from err
    names: dict[int, str] = {}
    for item in msg.item:
        if not item.HasField("id") or not (item.HasField("name") or item.HasField("display_name")):
            raise LabelMapError("an item lacks its id or name", path)
        if item.id < 1:
            raise LabelMapError(f"id {item.id} of {item.name!r} is below 1 (ids start at 1; 0 is the background)", path)
        name = item.name or item.display_name
        names[item.id] = f"{names[item.id]}{_SEPARATOR}{name}" if item.id in names else name
    if not names:
        raise LabelMapError("has no item", path)
    return LabelMap(names)


def load_label_map(path: str | os.PathLike[str]) -> LabelMap:
    """Read a ``label_map.pbtxt``.

    :raises LabelMapError: if the file is missing, not text (an RTF document,
        an HTML page, a Git-LFS pointer, ...) or not a valid label map.
    """
    p = require_file(path, LabelMapError, "label map (label_map.pbtxt)")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise LabelMapError("is not UTF-8 text; expected a label map (label_map.pbtxt)", p) from err
    return parse_label_map(text, p)


def write_label_map(label_map: LabelMap, path: str | os.PathLike[str], overwrite: bool = False) -> None:
    """Write ``label_map`` as pbtxt (atomically).

    :raises OutputExistsError: if ``path`` exists and ``overwrite`` is false.
    """
    with atomic_output(path, overwrite) as tmp:
        Path(tmp).write_text(label_map.to_pbtxt(), encoding="utf-8")
