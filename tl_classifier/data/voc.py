"""Pascal VOC XML annotations in labelImg's layout (writing; reading belongs to the dataset tools)."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET  # writing only; parsing goes through defusedxml
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tl_classifier.files import atomic_output


@dataclass(frozen=True)
class VocObject:
    """One labelled box, in pixels (VOC counts from 1, labelImg writes what it was given)."""

    name: str
    xmin: int
    ymin: int
    xmax: int
    ymax: int


def voc_xml(filename: str, width: int, height: int, objects: Sequence[VocObject], folder: str = "") -> bytes:
    """The annotation of one image, as labelImg writes it."""
    root = ET.Element("annotation")
    ET.SubElement(root, "folder").text = folder
    ET.SubElement(root, "filename").text = filename
    ET.SubElement(root, "path").text = filename
    ET.SubElement(ET.SubElement(root, "source"), "database").text = "tl_classifier synthetic"
    size = ET.SubElement(root, "size")
    for tag, value in (("width", width), ("height", height), ("depth", 3)):
        ET.SubElement(size, tag).text = str(value)
    ET.SubElement(root, "segmented").text = "0"
    for o in objects:
        obj = ET.SubElement(root, "object")
        ET.SubElement(obj, "name").text = o.name
        ET.SubElement(obj, "pose").text = "Unspecified"
        ET.SubElement(obj, "truncated").text = "0"
        ET.SubElement(obj, "difficult").text = "0"
        box = ET.SubElement(obj, "bndbox")
        for tag in ("xmin", "ymin", "xmax", "ymax"):
            ET.SubElement(box, tag).text = str(getattr(o, tag))
    ET.indent(root, "\t")
    return ET.tostring(root, encoding="utf-8")


def write_voc(path: str | os.PathLike[str], xml: bytes, overwrite: bool = False) -> None:
    """Write annotation bytes to ``path`` atomically.

    :raises OutputExistsError: if ``path`` exists and ``overwrite`` is false.
    """
    with atomic_output(path, overwrite) as tmp:
        Path(tmp).write_bytes(xml)
