"""TFRecord files in the Object Detection API's format: writing (:func:`create_records`) and reading them.

Each record holds one ``tf.train.Example`` per image with exactly the OD API's
features: ``image/encoded``, ``image/format``, ``image/height``,
``image/width``, ``image/filename``, ``image/source_id``,
``image/key/sha256``, ``image/object/bbox/{xmin,xmax,ymin,ymax}``
(normalised), ``image/object/class/text`` and ``image/object/class/label``.
JPEG files go in byte for byte; PNG (the Bosch dataset) and other formats are
re-encoded as JPEG.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tl_classifier.data.annotations import (
    Box,
    DatasetError,
    Example,
    Problems,
    check_boxes,
    parse_label_mapping,
    read_annotations,
    split_examples,
    summarize,
)
from tl_classifier.data.label_map import LabelMap, load_label_map, write_label_map
from tl_classifier.errors import OutputExistsError, first_line
from tl_classifier.fields import TfExampleFields as F
from tl_classifier.parallel import ordered_map

_TUTORIAL_ORDER = ("Green", "Red", "Yellow", "off")


@dataclass(frozen=True)
class Encoded:
    """An image's bytes, ready for the record."""

    data: bytes
    fmt: str  #: "jpeg"
    width: int
    height: int
    converted: bool  #: re-encoded from another format
    sha256: str


class UnreadableImage(Exception):
    """Raised by :func:`encode_image` for a missing or undecodable image (reported, then skipped)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def read_image(path: Path, quality: int) -> Encoded:
    """Read an image for the record, in one read: JPEG as it is, anything else re-encoded as JPEG.

    The size comes from the header (Pillow, no decoding); a JPEG must also end
    with its end-of-image marker (a cut-off download lacks it); other formats
    are decoded and encoded with OpenCV.

    :raises UnreadableImage: kind ``missing_image`` or ``undecodable_image``.
    """
    import cv2
    import numpy as np
    from PIL import Image

    try:
        data = path.read_bytes()
    except FileNotFoundError as err:
        raise UnreadableImage("missing_image", "its image does not exist") from err
    except OSError as err:
        raise UnreadableImage("missing_image", f"its image cannot be read ({err.strerror or err})") from err
    try:
        with Image.open(io.BytesIO(data)) as im:
            fmt, (width, height) = im.format, im.size
    except (OSError, ValueError, SyntaxError) as err:  # PIL's UnidentifiedImageError is an OSError
        why = "is cut off" if "truncated" in str(err).lower() else "is not an image file that decodes"
        raise UnreadableImage("undecodable_image", f"its image {why} ({err})") from err
    converted = fmt != "JPEG"
    if not converted:
        if b"\xff\xd9" not in data.rstrip(b"\0")[-2:]:
            raise UnreadableImage("undecodable_image", "its JPEG image is cut off (no end-of-image marker)")
    else:
        pixels = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if pixels is None:
            raise UnreadableImage("undecodable_image", f"its {fmt} image does not decode")
        ok, buf = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise UnreadableImage("undecodable_image", "its image cannot be encoded as JPEG")
        data = buf.tobytes()
    return Encoded(data, "jpeg", width, height, converted, hashlib.sha256(data).hexdigest())


def tf_example(example: Example, image: Encoded, ids: dict[str, int]) -> Any:
    """The ``tf.train.Example`` of one image, with the OD API's features.

    Filled field by field into TensorFlow's own ``Example`` message (3x faster than
    building a ``tf.train.Feature`` per key, which matters at a thousand images a second).
    """
    from tl_classifier.tf_setup import import_tensorflow

    tf = import_tensorflow()
    ex = tf.train.Example()
    f = ex.features.feature
    w, h = float(example.width), float(example.height)
    boxes = example.boxes
    f[F.height].int64_list.value.append(example.height)
    f[F.width].int64_list.value.append(example.width)
    f[F.filename].bytes_list.value.append(example.image.name.encode("utf-8"))
    f[F.source_id].bytes_list.value.append(example.key.encode("utf-8"))
    f[F.key_sha256].bytes_list.value.append(image.sha256.encode("ascii"))
    f[F.encoded].bytes_list.value.append(image.data)
    f[F.format].bytes_list.value.append(image.fmt.encode("ascii"))
    f["image/object/bbox/xmin"].float_list.value.extend([b.xmin / w for b in boxes])
    f["image/object/bbox/xmax"].float_list.value.extend([b.xmax / w for b in boxes])
    f["image/object/bbox/ymin"].float_list.value.extend([b.ymin / h for b in boxes])
    f["image/object/bbox/ymax"].float_list.value.extend([b.ymax / h for b in boxes])
    f[F.class_text].bytes_list.value.extend([b.label.encode("utf-8") for b in boxes])
    f[F.class_label].int64_list.value.extend([ids[b.label] for b in boxes])
    return ex


def shard_paths(output: Path, shards: int) -> list[Path]:
    """``out.record`` or, sharded, ``out.record-00000-of-00004``... (the OD API's naming)."""
    if shards == 1:
        return [output]
    return [output.with_name(f"{output.name}-{i:05d}-of-{shards:05d}") for i in range(shards)]


def split_output(output: Path, split: str | None) -> Path:
    """``out.record`` -> ``out_train.record`` for a split."""
    return output if split is None else output.with_name(f"{output.stem}_{split}{output.suffix}")


def summary_path(output: Path) -> Path:
    """Where the summary of ``output`` goes: ``out.record.json``."""
    return output.with_name(output.name + ".json")


# --- create_tf_record ----------------------------------------------------------------


def _iter_examples(o: RecordOptions, problems: Problems) -> Iterator[Example]:
    """The examples of ``o.data``, with ``o.label_mapping`` applied; XML is read as it is needed."""
    examples = read_annotations(list(o.data), o.annotations_dir, problems, o.include_unlabelled)
    mapping = parse_label_mapping(o.label_mapping)
    for e in examples:
        mapped = [(b, mapping(b.label)) for b in e.boxes]
        for b, m in mapped:
            if m is None:
                problems.skip("unmapped_label", e.source, f"label {b.label!r} maps to no state")
        e.boxes = [type(b)(m, b.xmin, b.ymin, b.xmax, b.ymax) for b, m in mapped if m is not None]
        yield e


def _label_map(path: Path, labels: Counter[str]) -> tuple[LabelMap, bool]:
    """The label map at ``path``, or a new one from ``labels`` (tutorial order when it fits)."""
    if path.exists():
        return load_label_map(path), False
    found = sorted(labels)
    if set(found) <= set(_TUTORIAL_ORDER):
        found = [n for n in _TUTORIAL_ORDER if n in labels]
    if not found:
        raise DatasetError("no labelled box was found, so no label map can be written", path)
    return LabelMap.from_labels(found), True


@dataclass(frozen=True)
class RecordOptions:
    """What :func:`create_records` reads and writes (the ``create_tf_record`` command's options, typed)."""

    data: Sequence[Path]  #: image folders (labelImg XML), or one YAML (Bosch, sloth) or JSON file (VoTT, COCO)
    output: Path  #: the record to write (with ``split``: one per split, NAME_SPLIT.record)
    label_map: Path  #: used if it exists; else written from the labels found
    annotations_dir: str = "labels"  #: XML subfolder of each data folder (else XML beside the images)
    include_unlabelled: bool = False  #: images that no XML names are frames without a light
    label_mapping: str = "none"  #: none, states (RedLeft -> Red, ...), or FROM=TO,...
    split: dict[str, float] | None = None  #: e.g. {"train": 0.8, "val": 0.2}, stratified by state
    seed: int = 0
    shards: int = 1
    jpeg_quality: int = 95  #: of PNG -> JPEG
    strict: bool = False  #: stop at the first problem instead of skipping it
    overwrite: bool = False
    jobs: int = os.cpu_count() or 1  #: threads reading and converting images
    progress: bool = True

    def __post_init__(self) -> None:
        if self.shards < 1 or not 1 <= self.jpeg_quality <= 100 or self.jobs < 1:
            raise DatasetError("--shards and --jobs must be >= 1, --jpeg_quality 1-100")
        parse_label_mapping(self.label_mapping)  # a bad mapping is said before any work


@dataclass(frozen=True)
class RecordResult:
    """What :func:`create_records` wrote: a summary per split (the ``.record.json`` beside each record)."""

    summaries: dict[str | None, dict[str, Any]]
    seconds: float  #: the work itself, after TensorFlow was imported
    skipped: dict[str, int]
    label_map: Path
    label_map_written: bool

    @property
    def images(self) -> int:
        return sum(s["images"] for s in self.summaries.values())

    def lines(self) -> list[str]:
        """What the command prints: one line per record, then the totals."""
        out = [
            f"{', '.join(s['record'])}: {s['images']} images ({s['images_without_boxes']} without boxes), "
            f"{s['boxes']} boxes {s['boxes_per_label']}, {s['converted_to_jpeg']} re-encoded as JPEG"
            for s in self.summaries.values()
        ]
        skipped = sum(self.skipped.values())
        out.append(
            f"{self.images} images in {self.seconds:.2f} s ({self.images / max(self.seconds, 1e-9):.1f} images/s); "
            f"skipped {skipped}{' ' + str(self.skipped) if skipped else ''}; "
            f"label map {self.label_map}{' (written)' if self.label_map_written else ''}"
        )
        return out


def create_records(o: RecordOptions) -> RecordResult:
    """Write the OD API records (one per split, in ``o.shards`` files each) and a summary beside each.

    Every output is renamed into place together at the end, or none is; existing ones are refused unless
    ``o.overwrite``.  Images that cannot be read and boxes that do not fit are skipped and counted
    (``o.strict``: the first one stops the run).

    :raises TLClassifierError: nothing usable, an existing output, a bad label map or mapping.
    """
    import contextlib

    from tqdm import tqdm

    from tl_classifier.files import atomic_output
    from tl_classifier.tf_setup import import_tensorflow

    tf = import_tensorflow()  # before the clock: the figure printed at the end is the work itself
    started = time.monotonic()
    problems = Problems(strict=o.strict)
    output = o.output
    fractions = o.split
    splits: list[str | None] = list(fractions) if fractions else [None]
    outputs: dict[str | None, Path] = {s: split_output(output, s) for s in splits}
    finals = [p for out in outputs.values() for p in [*shard_paths(out, o.shards), summary_path(out)]]
    existing = [p for p in finals if p.exists()]
    if existing and not o.overwrite:
        raise OutputExistsError("exists already (pass --overwrite to replace it)", existing[0])
    quiet = not o.progress or None

    groups: dict[str | None, Iterable[Example]]
    if fractions is None and o.label_map.exists():
        # nothing needs every annotation first: they are read as the images are, overlapping with them
        label_map, new_map = load_label_map(o.label_map), False
        groups = {None: _iter_examples(o, problems)}
    else:  # a split, or a label map made from the labels found, needs all the annotations first
        examples = list(_iter_examples(o, problems))
        label_map, new_map = _label_map(o.label_map, Counter(b.label for e in examples for b in e.boxes))
        if fractions:
            groups = {k: v for k, v in split_examples(examples, fractions, o.seed).items()}
        else:
            groups = {None: examples}
    ids = {name: i for i, name in label_map.names.items()}

    # one pass: images read (PNG re-encoded) ahead on the pool; boxes checked against each
    # image's real size; records written in order
    summaries = {}
    read = lambda e: read_image(e.image, o.jpeg_quality)  # noqa: E731
    with ThreadPoolExecutor(max_workers=o.jobs) as pool, contextlib.ExitStack() as stack:
        # every output is renamed into place together at the end, or none is
        for split, group in groups.items():
            paths = shard_paths(outputs[split], o.shards)
            writers = [tf.io.TFRecordWriter(str(stack.enter_context(atomic_output(p, o.overwrite)))) for p in paths]
            written: list[Example] = []
            converted = size = 0
            total = len(group) if isinstance(group, list) else None
            for e, enc in tqdm(ordered_map(pool, read, group, 4 * o.jobs, UnreadableImage), total=total,
                               desc=f"writing {outputs[split].name}", unit="img", disable=quiet, leave=False):  # fmt: skip
                if isinstance(enc, UnreadableImage):
                    problems.skip(enc.kind, e.source, f"{enc} ({e.image})")
                    continue
                e.width, e.height = enc.width, enc.height
                check_boxes(e, problems, lambda label: label in ids)
                writers[len(written) % o.shards].write(tf_example(e, enc, ids).SerializeToString())
                written.append(e)
                converted += enc.converted
                size += len(enc.data)
            for w in writers:
                w.close()
            summary = summarize(written, problems.counts)
            summary["unlabelled_images"] = dict(problems.notes)
            summary.update(
                {
                    "record": [p.name for p in paths],
                    "data_dir": [str(d) for d in o.data],
                    "split": split,
                    "label_map": {str(k): v for k, v in label_map.names.items()},
                    "converted_to_jpeg": converted,
                    "bytes_of_images": size,
                }
            )
            tmp = stack.enter_context(atomic_output(summary_path(outputs[split]), o.overwrite))
            tmp.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
            summaries[split] = summary
        if not any(s["images"] for s in summaries.values()):
            raise DatasetError("no usable image: nothing written", ",".join(str(d) for d in o.data))
    if new_map:
        write_label_map(label_map, o.label_map)
    return RecordResult(summaries, time.monotonic() - started, dict(problems.counts), o.label_map, new_map)


# --- inspect_record --------------------------------------------------------------------


FEATURES = (
    F.encoded, F.format, F.height, F.width, F.filename, F.source_id,
    F.key_sha256, "image/object/bbox/xmin", "image/object/bbox/xmax", "image/object/bbox/ymin",
    "image/object/bbox/ymax", F.class_text, F.class_label,
)  # fmt: skip


def read_record(paths: Sequence[Path]) -> Iterator[dict[str, Any]]:
    """Parse OD API examples from record files with ``tf.data``; yields plain Python values per image.

    :raises DatasetError: if a file is missing or not a TFRecord of such examples.
    """
    from tl_classifier.tf_setup import import_tensorflow

    tf = import_tensorflow()
    spec = {
        F.encoded: tf.io.FixedLenFeature([], tf.string),
        F.format: tf.io.FixedLenFeature([], tf.string),
        F.height: tf.io.FixedLenFeature([], tf.int64),
        F.width: tf.io.FixedLenFeature([], tf.int64),
        F.filename: tf.io.FixedLenFeature([], tf.string),
        F.source_id: tf.io.FixedLenFeature([], tf.string),
        F.key_sha256: tf.io.FixedLenFeature([], tf.string),
        F.class_text: tf.io.VarLenFeature(tf.string),
        F.class_label: tf.io.VarLenFeature(tf.int64),
        **{F.bbox[k]: tf.io.VarLenFeature(tf.float32) for k in ("xmin", "xmax", "ymin", "ymax")},
    }
    for p in paths:
        if not p.is_file():
            raise DatasetError("no such file (expected a TFRecord)", p)
    ds = tf.data.TFRecordDataset([str(p) for p in paths]).map(lambda x: tf.io.parse_single_example(x, spec))
    try:
        for ex in ds:
            yield {
                k: (tf.sparse.to_dense(v).numpy().tolist() if isinstance(v, tf.SparseTensor) else v.numpy())
                for k, v in ex.items()
            }
    except tf.errors.OpError as err:
        raise DatasetError(f"is not a TFRecord of Object Detection API examples ({first_line(err)})", paths[0]) from err


def record_boxes(rec: dict[str, Any], label_map: LabelMap | None = None) -> list[Box]:
    """The boxes of one example from :func:`read_record`, in pixels.

    Labels are the example's ``image/object/class/text``; where a record has
    only class ids, they are named by ``label_map``.

    :raises DatasetError: if the record names no label and no label map is given.
    """
    w, h = int(rec[F.width]), int(rec[F.height])
    ids = rec[F.class_label]
    labels = [t.decode() for t in rec[F.class_text]]
    if len(labels) != len(rec["image/object/bbox/xmin"]):
        if label_map is None or len(ids) != len(rec["image/object/bbox/xmin"]):
            raise DatasetError("an example has boxes without class text (pass --label_map to name its class ids)",
                               rec[F.source_id].decode())  # fmt: skip
        labels = [label_map.name(int(i)) for i in ids]
    coords = (rec[F.bbox[k]] for k in ("xmin", "xmax", "ymin", "ymax"))
    return [Box(lbl, x0 * w, y0 * h, x1 * w, y1 * h) for lbl, x0, x1, y0, y1 in zip(labels, *coords, strict=True)]


def record_files(path: Path) -> list[Path]:
    """A record and its shards: ``out.record`` or every ``out.record-?????-of-?????``."""
    if path.is_file():
        return [path]
    shards = sorted(path.parent.glob(f"{path.name}-[0-9][0-9][0-9][0-9][0-9]-of-[0-9][0-9][0-9][0-9][0-9]"))
    if not shards:
        raise DatasetError("no such record (nor shards of it)", path)
    return shards


def summarize_record(path: Path) -> dict[str, Any]:
    """What a record holds: images, boxes per label, sizes (as ``create_tf_record``'s summary, without skips)."""
    files = record_files(path)
    examples = []
    for rec in read_record(files):
        w, h = int(rec[F.width]), int(rec[F.height])
        examples.append(Example(Path(rec[F.filename].decode()), record_boxes(rec), files[0], w, h))
    summary = summarize(examples)
    del summary["skipped"]
    summary["record"] = [f.name for f in files]
    return summary


@dataclass(frozen=True)
class RecordFacts:
    """What records hold, read in one pass: image sizes (height, width) with their counts, and box labels."""

    sizes: Counter[tuple[int, int]]
    labels: frozenset[str]

    @property
    def examples(self) -> int:
        return sum(self.sizes.values())

    @property
    def size(self) -> tuple[int, int]:
        """The most common (height, width)."""
        return self.sizes.most_common(1)[0][0]

    def __add__(self, other: RecordFacts) -> RecordFacts:
        return RecordFacts(self.sizes + other.sizes, self.labels | other.labels)


def record_facts(paths: Sequence[Path]) -> RecordFacts:
    """Image sizes and box labels of records.

    :raises DatasetError: if they hold no example.
    """
    sizes: Counter[tuple[int, int]] = Counter()
    labels: set[str] = set()
    for rec in read_record([f for p in paths for f in record_files(p)]):
        sizes[(int(rec[F.height]), int(rec[F.width]))] += 1
        labels.update(t.decode() for t in rec[F.class_text])
    if not sizes:
        raise DatasetError("holds no example", paths[0])
    return RecordFacts(sizes, frozenset(labels))
