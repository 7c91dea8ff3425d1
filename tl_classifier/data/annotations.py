"""Labelled images: reading labelImg Pascal VOC XML and the two YAML layouts, checking, splitting.

Readers return :class:`Example` objects (an image path and its boxes in
pixels) and report per-item problems to a :class:`Problems` collector, which
counts them for the summary, prints each as one line naming the file, and
raises instead when ``strict`` is set.  Nothing here needs TensorFlow or ROS.

* labelImg XML is parsed with ``defusedxml``: DTDs, entities and external
  references are refused, so an annotation cannot read other files.
* YAML is read with ``yaml.safe_load`` only.
"""

from __future__ import annotations

import os
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tl_classifier.errors import TLClassifierError, first_line
from tl_classifier.states import State, state_from_label

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


class DatasetError(TLClassifierError):
    """An annotation or image is unusable (or, with ``--strict``, anything was skipped)."""


@dataclass(frozen=True)
class Box:
    """A labelled box in pixels."""

    label: str
    xmin: float
    ymin: float
    xmax: float
    ymax: float


@dataclass
class Example:
    """One image and its boxes."""

    image: Path
    boxes: list[Box]
    source: Path  #: the annotation file it came from
    width: int = 0  #: from the image itself, once read
    height: int = 0
    key: str = ""  #: unique name in the dataset (the record's image/source_id); default: the file name

    def __post_init__(self) -> None:
        self.key = self.key or self.image.name


@dataclass
class Problems:
    """Collects what was skipped, by kind; prints each as one line; raises when strict."""

    strict: bool = False
    shown: int = 20  #: lines printed per kind; the rest are only counted
    counts: Counter[str] = field(default_factory=Counter)
    out: Callable[[str], None] = lambda line: print(line, file=sys.stderr)

    notes: Counter[str] = field(default_factory=Counter)  #: things worth saying that are not problems

    def note(self, kind: str, path: str | os.PathLike[str], count: int, included: bool) -> None:
        """Say once that ``path`` holds ``count`` images without annotation (frames without a light)."""
        self.notes[kind + ("_included" if included else "_left_out")] += count
        what = "used as frames without a light" if included else "left out (--include_unlabelled: frames without a light)"
        self.out(f"note: {path}: {count} images have no annotation: {what}")

    def skip(self, kind: str, path: str | os.PathLike[str], message: str) -> None:
        """Report one skipped item of ``kind`` ("missing_image", "bad_box", ...).

        :raises DatasetError: if ``strict``.
        """
        if self.strict:
            raise DatasetError(f"{message} (--strict: stopping)", path)
        self.counts[kind] += 1
        if self.counts[kind] <= self.shown:
            self.out(f"warning: {path}: {message}; skipped")
        elif self.counts[kind] == self.shown + 1:
            self.out(f"warning: more of these ({kind}) are counted in the summary, not shown")


def inside(rel: str) -> bool:
    """Whether the relative path ``rel`` stays inside its folder (not absolute, no ``..`` out of it).

    Judged on the text of the path, as written in the annotation; links the
    user made inside the dataset are the user's to follow.
    """
    norm = os.path.normpath(rel)
    return not os.path.isabs(rel) and norm != ".." and not norm.startswith(".." + os.sep)


# --- labelImg Pascal VOC XML ---------------------------------------------------


#: Folders where a dataset keeps its XML besides --annotations_dir (Pascal VOC's own, and common exports).
_ANNOTATION_DIRS = ("annotations", "Annotations")
#: Folders where a dataset keeps its images when its XML is in a folder of its own.
_IMAGE_DIRS = ("images", "JPEGImages")


def _annotation_folder(data_dir: Path, annotations_dir: str) -> Path:
    """Where the XML of ``data_dir`` is: ``annotations_dir``, else ``annotations/``, else beside the images."""
    for name in (annotations_dir, *_ANNOTATION_DIRS):
        if name and (data_dir / name).is_dir():
            return data_dir / name
    return data_dir


def _voc_files(data_dir: Path, annotations_dir: str) -> list[Path]:
    """The tutorial's layout (XML in ``data_dir/annotations_dir``), ``annotations/``, else XML beside the images."""
    folder = _annotation_folder(data_dir, annotations_dir)
    return sorted(p for p in folder.iterdir() if p.is_file() and p.name.lower().endswith(".xml"))


def _image_of(data_dir: Path, filename: str) -> Path:
    """The image ``filename`` of an annotation: in ``data_dir``, else in its ``images/`` (or ``JPEGImages/``)."""
    for folder in (data_dir, *(data_dir / d for d in _IMAGE_DIRS)):
        if (folder / filename).is_file():
            return folder / filename
    return data_dir / filename


def _stem(name: str) -> str:
    """``a.jpg``, ``a.xml``, ``a.xml.xml``, ``a.jpg.xml`` -> ``a``: what pairs an image with its XML."""
    while True:
        base, ext = os.path.splitext(name)
        if ext.lower() not in (".xml", *IMAGE_SUFFIXES) or not base:
            return name
        name = base


def unlabelled_images(data_dir: Path, annotations_dir: str) -> list[Path]:
    """The images of a labelImg folder that no XML names: frames the annotator saw no light in."""
    return _unlabelled(data_dir, _voc_files(data_dir, annotations_dir))


def _unlabelled(data_dir: Path, xml_files: Sequence[Path]) -> list[Path]:
    labelled = {_stem(p.name) for p in xml_files}
    folders = [data_dir, *(data_dir / d for d in _IMAGE_DIRS if (data_dir / d).is_dir())]
    return sorted(
        p
        for folder in folders
        for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and _stem(p.name) not in labelled
    )


def _text(node: object, tag: str, path: Path) -> str:
    value = node.findtext(tag)  # type: ignore[attr-defined]
    if value is None or not value.strip():
        raise DatasetError(f"<{tag}> is missing", path)
    return value.strip()


def read_voc_file(xml_path: Path, data_dir: Path, problems: Problems) -> Example | None:
    """Read one labelImg annotation; its image is ``<filename>`` inside ``data_dir`` (or its ``images/``).

    (``<path>`` is ignored: it is the annotator's own absolute path.)  Returns
    ``None`` when the file was skipped (reported to ``problems``).
    """
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import ParseError, parse

    try:
        root = parse(str(xml_path), forbid_dtd=True, forbid_entities=True, forbid_external=True).getroot()
    except DefusedXmlException as err:
        problems.skip("malformed_annotation", xml_path, f"XML with a DTD or entity is refused ({type(err).__name__})")
        return None
    except ParseError as err:
        problems.skip("malformed_annotation", xml_path, f"malformed XML ({err})")
        return None
    try:
        if root.tag != "annotation":
            raise DatasetError(f"is not a labelImg annotation (root element <{root.tag}>)", xml_path)
        filename = _text(root, "filename", xml_path)
        boxes = []
        for obj in root.iter("object"):
            b = obj.find("bndbox")
            if b is None:
                raise DatasetError("an <object> has no <bndbox>", xml_path)
            coords = [float(_text(b, k, xml_path)) for k in ("xmin", "ymin", "xmax", "ymax")]
            boxes.append(Box(_text(obj, "name", xml_path), *coords))
    except (DatasetError, ValueError) as err:
        problems.skip("malformed_annotation", xml_path, getattr(err, "message", None) or f"bad number ({err})")
        return None
    image = _image_of(data_dir, filename)
    if not inside(filename):
        problems.skip("outside_dataset", xml_path, f"its image {filename!r} points outside the dataset folder {data_dir}")
        return None
    return Example(image, boxes, xml_path, key=f"{data_dir.name}/{filename}")


def iter_voc(data_dirs: Sequence[Path], annotations_dir: str, problems: Problems, unlabelled: bool = False) -> Iterator[Example]:
    """Every labelImg annotation of ``data_dirs`` (the tutorial's ``--data_dir=a,b,c``), one at a time.

    Images that no XML names are frames without a light (an annotator labels
    only what is there): they are counted in ``problems.notes`` and said in one
    line per folder, and with ``unlabelled`` they are yielded as examples without boxes.

    :raises DatasetError: if a folder does not exist or holds no XML (checked for all folders first).
    """
    listed = []
    for d in data_dirs:
        if not d.is_dir():
            raise DatasetError("no such folder (expected images with labelImg XML)", d)
        files = _voc_files(d, annotations_dir)
        if not files:
            raise DatasetError(f"holds no labelImg XML (looked in {d / annotations_dir} and beside the images)", d)
        bare = _unlabelled(d, files)
        if bare:
            problems.note("unlabelled_image", d, len(bare), unlabelled)
        listed.append((d, files, bare if unlabelled else []))

    def read() -> Iterator[Example]:
        for d, files, bare in listed:
            yield from (e for e in (read_voc_file(f, d, problems) for f in files) if e is not None)
            yield from (Example(p, [], p, key=f"{d.name}/{p.relative_to(d).as_posix()}") for p in bare)

    return read()


# --- YAML: the Bosch dataset's layout and the sloth-style one -------------------


def read_yaml(yaml_path: Path, problems: Problems) -> list[Example]:
    """Read a Bosch (``boxes``/``path``) or sloth-style (``annotations``/``filename``) YAML.

    Image paths are relative to the YAML's folder and must stay inside it.

    :raises DatasetError: if the file is not YAML, or not a list of images in either layout.
    """
    import yaml

    if not yaml_path.is_file():
        raise DatasetError("no such file (expected a YAML list of images)", yaml_path)
    try:
        entries = yaml.safe_load(yaml_path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise DatasetError(f"is not safe, plain YAML ({first_line(err)})", yaml_path) from err
    if not isinstance(entries, list) or not entries or not all(isinstance(e, dict) for e in entries):
        raise DatasetError(
            "is not a list of images (expected '- boxes: ... path: ...' or '- annotations: ... filename: ...')", yaml_path
        )
    root = yaml_path.parent
    examples = []
    for i, entry in enumerate(entries):
        where = f"{yaml_path} entry {i + 1}"
        try:
            if "path" in entry and "boxes" in entry:
                rel = entry["path"]
                boxes = [
                    Box(str(b["label"]), float(b["x_min"]), float(b["y_min"]), float(b["x_max"]), float(b["y_max"]))
                    for b in entry["boxes"] or []
                ]
            elif "filename" in entry and "annotations" in entry:
                rel = entry["filename"]
                boxes = [
                    Box(
                        str(b["class"]),
                        float(b["xmin"]),
                        float(b["ymin"]),
                        float(b["xmin"]) + float(b["x_width"]),
                        float(b["ymin"]) + float(b["y_height"]),
                    )
                    for b in entry["annotations"] or []
                ]
            else:
                raise KeyError("neither boxes/path nor annotations/filename")
            if not isinstance(rel, str):
                raise TypeError(f"the image path is {type(rel).__name__}, not text")
        except (KeyError, TypeError, ValueError) as err:
            problems.skip("malformed_annotation", where, f"not an image entry ({err})")
            continue
        image = root / rel
        if not inside(rel):
            problems.skip("outside_dataset", where, f"its image {rel!r} points outside the dataset folder {root}")
            continue
        examples.append(Example(image, boxes, yaml_path, key=os.path.normpath(rel)))
    return examples


# --- JSON: Microsoft VoTT exports and COCO -----------------------------------------


def _load_json(path: Path) -> object:
    import json

    if not path.is_file():
        raise DatasetError("no such file (expected a VoTT or COCO JSON export)", path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise DatasetError(f"is not JSON ({first_line(err)})", path) from err


def _image_path(root: Path, rel: object, where: str, problems: Problems) -> Path | None:
    """``root / rel`` for an image named in an export, or None (reported) when it is no name or leads outside."""
    if not isinstance(rel, str) or not rel:
        problems.skip("malformed_annotation", where, f"the image name is {rel!r}, not a file name")
        return None
    if not inside(rel):
        problems.skip("outside_dataset", where, f"its image {rel!r} points outside the dataset folder {root}")
        return None
    return root / rel


def read_vott(json_path: Path, problems: Problems, data: object = None) -> list[Example]:
    """A Microsoft VoTT JSON export: ``assets{id: {asset: {name, path}, regions: [{tags, boundingBox}]}}``.

    Images are looked for beside the JSON by ``asset.name`` (VoTT's ``path`` is
    the annotator's: ``file:...`` or a URL).  A region's first tag is its label;
    an asset without regions is a frame without a light.

    :raises DatasetError: if the file is not a VoTT export.
    """
    data = _load_json(json_path) if data is None else data
    assets = data.get("assets") if isinstance(data, dict) else None
    if not isinstance(assets, dict):
        raise DatasetError("is not a VoTT JSON export (no 'assets' object)", json_path)
    examples = []
    for key, entry in assets.items():
        where = f"{json_path} asset {key}"
        try:
            name = entry["asset"]["name"]
            boxes = []
            for region in entry.get("regions") or []:
                b = region["boundingBox"]
                left, top = float(b["left"]), float(b["top"])
                tags = region.get("tags") or ["untagged"]
                boxes.append(Box(str(tags[0]), left, top, left + float(b["width"]), top + float(b["height"])))
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            problems.skip("malformed_annotation", where, f"not a VoTT asset ({type(err).__name__}: {err})")
            continue
        image = _image_path(json_path.parent, name, where, problems)
        if image is not None:
            examples.append(Example(image, boxes, json_path, key=name))
    return sorted(examples, key=lambda e: e.key)


def read_coco(json_path: Path, problems: Problems, data: object = None) -> list[Example]:
    """A COCO detection JSON (CVAT, Label Studio, Roboflow): ``images``, ``annotations`` (``bbox`` x, y, w, h), ``categories``.

    Image ``file_name``s are relative to the JSON's folder, or to its ``images/``
    (Roboflow and Label Studio's layouts) or ``JPEGImages/``, as for labelImg folders.
    An image without annotations is a frame without a light.

    :raises DatasetError: if the file is not a COCO export.
    """
    data = _load_json(json_path) if data is None else data
    if not isinstance(data, dict) or not isinstance(data.get("images"), list) or not isinstance(data.get("annotations"), list):
        raise DatasetError("is not a COCO JSON export (no 'images' and 'annotations' lists)", json_path)
    try:
        names = {int(c["id"]): str(c["name"]) for c in data.get("categories") or []}
    except (KeyError, TypeError, ValueError) as err:
        raise DatasetError(f"has malformed 'categories' ({type(err).__name__}: {err})", json_path) from err
    boxes: dict[int, list[Box]] = defaultdict(list)
    for i, ann in enumerate(data["annotations"]):
        where = f"{json_path} annotation {ann.get('id', i) if isinstance(ann, dict) else i}"
        try:
            x, y, w, h = (float(v) for v in ann["bbox"])
            category = int(ann["category_id"])
            if category not in names:
                raise KeyError(f"category_id {category} is not in 'categories'")
            boxes[int(ann["image_id"])].append(Box(names[category], x, y, x + w, y + h))
        except (KeyError, TypeError, ValueError) as err:
            problems.skip("malformed_annotation", where, f"not a box annotation ({type(err).__name__}: {err})")
    examples = []
    root = json_path.parent
    for i, img in enumerate(data["images"]):
        where = f"{json_path} image {img.get('id', i) if isinstance(img, dict) else i}"
        try:
            image_id, rel = int(img["id"]), img["file_name"]
        except (KeyError, TypeError, ValueError) as err:
            problems.skip("malformed_annotation", where, f"not an image entry ({type(err).__name__}: {err})")
            continue
        if _image_path(root, rel, where, problems) is None:
            continue
        image = _image_of(root, rel)
        examples.append(Example(image, boxes.pop(image_id, []), json_path, key=os.path.normpath(rel)))
    for image_id in boxes:
        problems.skip("malformed_annotation", f"{json_path} image_id {image_id}", "annotations of an image not in 'images'")
    return examples


def read_json(json_path: Path, problems: Problems) -> list[Example]:
    """A VoTT or COCO JSON export, told apart by its keys.

    :raises DatasetError: if it is neither.
    """
    data = _load_json(json_path)
    if isinstance(data, dict) and "assets" in data:
        return read_vott(json_path, problems, data)
    if isinstance(data, dict) and "images" in data and "annotations" in data:
        return read_coco(json_path, problems, data)
    raise DatasetError("is neither a VoTT export ('assets') nor a COCO export ('images', 'annotations')", json_path)


#: The annotation formats :func:`read_annotations` reads, for help texts.
ANNOTATION_FORMATS = "labelImg XML folders, Bosch/sloth YAML, VoTT or COCO JSON"


def read_annotations(
    paths: Sequence[Path], annotations_dir: str, problems: Problems, unlabelled: bool = False
) -> Iterable[Example]:
    """The examples of any annotation source this package reads, by what ``paths`` are.

    ``.yaml``/``.yml``: Bosch or sloth-style; ``.json``: VoTT or COCO; folders:
    labelImg XML (several folders at once, the tutorial's ``--data_dir=a,b``).
    A YAML or JSON file must come alone.

    :raises DatasetError: if a path is missing or of no known kind.
    """
    files = [p for p in paths if p.suffix.lower() in (".yaml", ".yml", ".json")]
    if files and len(paths) > 1:
        raise DatasetError("a YAML or JSON annotation file must be given alone, not with other data", files[0])
    if files:
        path = files[0]
        return read_yaml(path, problems) if path.suffix.lower() != ".json" else read_json(path, problems)
    return iter_voc(paths, annotations_dir, problems, unlabelled)


# --- labels ------------------------------------------------------------------------


def parse_label_mapping(text: str) -> Callable[[str], str | None]:
    """A function from dataset labels to output labels (``None``: drop the box).

    ``none``: labels stay as they are.  ``states``: every label becomes its
    state's name in the tutorial's label map (Green, Red, Yellow, off; Bosch's
    ``RedLeft`` -> ``Red``); labels of no state are dropped.
    ``A=B,C=D``: the pairs given; other labels stay.

    :raises DatasetError: for a pair without ``=``.
    """
    if text == "none":
        return lambda label: label
    if text == "states":
        names = {State.GREEN: "Green", State.RED: "Red", State.YELLOW: "Yellow", State.OFF: "off"}
        return lambda label: names.get(state_from_label(label))
    pairs = {}
    for part in text.split(","):
        if "=" not in part:
            raise DatasetError(f"--label_mapping: {part!r} is not FROM=TO (or 'none', 'states')")
        src, dst = (s.strip() for s in part.split("=", 1))
        pairs[src] = dst
    return lambda label: pairs.get(label, label)


def check_boxes(example: Example, problems: Problems, known: Callable[[str], bool]) -> None:
    """Drop (and report) boxes outside the image, of zero area, or with a label ``known`` rejects.

    A box may stick out by up to 1 pixel (annotation tools round); it is clipped then.
    """
    kept = []
    w, h = example.width, example.height
    for b in example.boxes:
        where = example.source if example.source.suffix.lower() == ".xml" else f"{example.source} ({example.image.name})"
        if not known(b.label):
            problems.skip("unknown_label", where, f"label {b.label!r} is not in the label map")
            continue
        if b.xmax <= b.xmin or b.ymax <= b.ymin:
            problems.skip("bad_box", where, f"box {b.label} ({b.xmin:g},{b.ymin:g})-({b.xmax:g},{b.ymax:g}) has no area")
            continue
        if b.xmin < -1 or b.ymin < -1 or b.xmax > w + 1 or b.ymax > h + 1:
            problems.skip(
                "bad_box", where, f"box {b.label} ({b.xmin:g},{b.ymin:g})-({b.xmax:g},{b.ymax:g}) lies outside the {w}x{h} image"
            )
            continue
        kept.append(Box(b.label, max(b.xmin, 0.0), max(b.ymin, 0.0), min(b.xmax, float(w)), min(b.ymax, float(h))))
    example.boxes = kept


def majority_state(states: Iterable[State]) -> State:
    """The state of a frame from its boxes' states: the most common one; UNKNOWN for no box."""
    counts = Counter(states)
    return counts.most_common(1)[0][0] if counts else State.UNKNOWN


def boxes_state(boxes: Iterable[Box]) -> State:
    """The true state of a frame from its labelled boxes: :func:`majority_state` of their labels' states."""
    return majority_state(state_from_label(b.label) for b in boxes)


def image_state(example: Example) -> str:
    """The stratum of an image for splitting: the name of its :func:`boxes_state`."""
    return boxes_state(example.boxes).name


def parse_split(text: str) -> dict[str, float]:
    """``train=0.8,val=0.1,test=0.1`` -> fractions (they must add up to 1).

    :raises DatasetError: for a malformed split.
    """
    try:
        parts = {k.strip(): float(v) for k, v in (p.split("=") for p in text.split(","))}
    except ValueError as err:
        raise DatasetError(f"--split {text!r} is not NAME=FRACTION,... ({err})") from err
    if any(v < 0 for v in parts.values()) or abs(sum(parts.values()) - 1.0) > 1e-6:
        raise DatasetError(f"--split fractions must be >= 0 and add up to 1, got {text!r}")
    return parts


def split_examples(examples: Sequence[Example], fractions: dict[str, float], seed: int = 0) -> dict[str, list[Example]]:
    """Split ``examples`` by ``fractions``, stratified by :func:`image_state`, reproducibly for a seed.

    Within each stratum the examples are shuffled with ``seed`` and cut at the
    cumulative fractions (rounded), so every split gets its share of each state.
    """
    rng = np.random.default_rng(seed)
    strata: dict[str, list[Example]] = defaultdict(list)
    for e in sorted(examples, key=lambda e: str(e.image)):
        strata[image_state(e)].append(e)
    out: dict[str, list[Example]] = {name: [] for name in fractions}
    for key in sorted(strata):
        group = strata[key]
        order = rng.permutation(len(group))
        cuts = np.round(np.cumsum(list(fractions.values())) * len(group)).astype(int)
        start = 0
        for name, end in zip(fractions, cuts, strict=True):
            out[name] += [group[i] for i in order[start:end]]
            start = end
    return out


def summarize(examples: Iterable[Example], skipped: Counter[str] | None = None) -> dict:
    """Images, boxes per label, box sizes, images without boxes (and what was skipped)."""
    examples = list(examples)
    widths = np.array([b.xmax - b.xmin for e in examples for b in e.boxes], dtype=float)
    heights = np.array([b.ymax - b.ymin for e in examples for b in e.boxes], dtype=float)

    def dist(v: np.ndarray) -> dict[str, float]:
        if not len(v):
            return {}
        q = np.percentile(v, [0, 10, 50, 90, 100])
        return {k: round(float(x), 2) for k, x in zip(("min", "p10", "median", "p90", "max"), q, strict=True)}

    return {
        "images": len(examples),
        "images_without_boxes": sum(1 for e in examples if not e.boxes),
        "boxes": int(len(widths)),
        "boxes_per_label": dict(sorted(Counter(b.label for e in examples for b in e.boxes).items())),
        "box_width_px": dist(widths),
        "box_height_px": dist(heights),
        "boxes_under_20px_wide": int((widths < 20).sum()),
        "image_sizes": dict(Counter(f"{e.width}x{e.height}" for e in examples)),
        "skipped": dict(sorted((skipped or Counter()).items())),
    }


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of every box of ``a`` with every box of ``b`` ([N, 4] and [M, 4], xmin ymin xmax ymax)."""
    a = np.asarray(a, float).reshape(-1, 4)
    b = np.asarray(b, float).reshape(-1, 4)
    ix = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    iy = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = ix * iy
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)
