"""Labelled frames of any source (records, annotations, state folders), for evaluation and threshold choice."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tl_classifier.data.annotations import (
    IMAGE_SUFFIXES,
    Box,
    DatasetError,
    Problems,
    boxes_state,
    read_annotations,
)
from tl_classifier.errors import ImageError
from tl_classifier.fields import TfExampleFields as F
from tl_classifier.states import State, state_from_label

_NO_LIGHT = ("unknown", "nolight", "none")
_STATE_FOLDERS = ("red", "yellow", "green", "off", *_NO_LIGHT)


@dataclass
class Frame:
    """One evaluation frame: where its pixels are, its true state, and its true boxes (pixels) if known."""

    name: str  #: shown in reports: ``folder/file`` or the record's source_id
    truth: State
    image: Path | bytes  #: an image file, or encoded bytes from a record
    boxes: list[Box] = field(default_factory=list)
    boxes_known: bool = True  #: False for frames labelled by state folder only

    def rgb(self) -> np.ndarray:
        """The frame's pixels as RGB.

        :raises ImageError: if the image cannot be read or decoded.
        """
        import cv2

        if isinstance(self.image, bytes):
            bgr = cv2.imdecode(np.frombuffer(self.image, np.uint8), cv2.IMREAD_COLOR)
        else:
            bgr = cv2.imread(str(self.image), cv2.IMREAD_COLOR)
        if bgr is None:
            raise ImageError(f"cannot decode the image of {self.name}", self.image if isinstance(self.image, Path) else None)
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _state_folder_frames(folder: Path) -> list[Frame]:
    return [
        Frame(
            f"{folder.name}/{d.name}/{p.name}",
            State.UNKNOWN if d.name.lower() in _NO_LIGHT else state_from_label(d.name),
            p,
            boxes_known=False,
        )
        for d in sorted(folder.iterdir())
        if d.is_dir() and d.name.lower() in _STATE_FOLDERS
        for p in sorted(d.iterdir())
        if p.suffix.lower() in IMAGE_SUFFIXES
    ]


def _record_frames(path: Path, label_map: Any) -> list[Frame]:
    from tl_classifier.data.records import read_record, record_boxes, record_files

    frames = []
    for rec in read_record(record_files(path)):
        boxes = record_boxes(rec, label_map)
        frames.append(
            Frame(
                rec[F.source_id].decode() or rec[F.filename].decode(),
                boxes_state(boxes),
                bytes(rec[F.encoded]),
                boxes,
            )
        )
    return frames


def load_frames(path: Path, problems: Problems, label_map: Any = None, unlabelled: bool = False) -> list[Frame]:
    """The labelled frames of one data source (see the module's docstring for the kinds).

    Annotations whose image is missing are skipped and counted in ``problems``.

    :param label_map: names the class ids of records that carry no class text.
    :param unlabelled: frames of a labelImg folder that no XML names are frames without a light (truth UNKNOWN).
    :raises DatasetError: if ``path`` is none of the kinds, or holds no frame.
    """
    if path.is_dir() and any(d.is_dir() and d.name.lower() in _STATE_FOLDERS for d in path.iterdir()):
        frames = _state_folder_frames(path)
    elif path.is_dir() or path.suffix.lower() in (".yaml", ".yml", ".json"):
        try:
            examples = list(read_annotations([path], "labels", problems, unlabelled))
        except DatasetError as err:
            if not path.is_dir():
                raise
            raise DatasetError(
                "holds neither labelImg XML nor state subfolders (red, yellow, green, off, unknown)", path
            ) from err
        frames = [Frame(e.key, boxes_state(e.boxes), e.image, e.boxes) for e in examples]
    elif path.exists() or path.parent.is_dir():
        frames = _record_frames(path, label_map)
    else:
        raise DatasetError("no such file or folder (expected a TFRecord, a YAML or JSON file or an image folder)", path)
    present = []
    for f in frames:
        if isinstance(f.image, Path) and not f.image.is_file():
            problems.skip("missing_image", f.image, "no such image")
        else:
            present.append(f)
    if not present:
        raise DatasetError("holds no frame to evaluate on", path)
    return present
