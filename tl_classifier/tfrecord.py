"""TFRecord files in the Object Detection API's format: ``create_tf_record`` and ``inspect_record``.

Each record holds one ``tf.train.Example`` per image with exactly the OD API's
features: ``image/encoded``, ``image/format``, ``image/height``,
``image/width``, ``image/filename``, ``image/source_id``,
``image/key/sha256``, ``image/object/bbox/{xmin,xmax,ymin,ymax}``
(normalised), ``image/object/class/text`` and ``image/object/class/label``.
JPEG files go in byte for byte; PNG (the Bosch dataset) and other formats are
re-encoded as JPEG.
"""

from __future__ import annotations

import argparse
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

from tl_classifier.cli import run_main
from tl_classifier.dataset import (
    ANNOTATION_FORMATS,
    Box,
    DatasetError,
    Example,
    Problems,
    check_boxes,
    parse_label_mapping,
    parse_split,
    read_annotations,
    split_examples,
    summarize,
)
from tl_classifier.errors import OutputExistsError, first_line
from tl_classifier.label_map import LabelMap, load_label_map, write_label_map
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
    f["image/height"].int64_list.value.append(example.height)
    f["image/width"].int64_list.value.append(example.width)
    f["image/filename"].bytes_list.value.append(example.image.name.encode("utf-8"))
    f["image/source_id"].bytes_list.value.append(example.key.encode("utf-8"))
    f["image/key/sha256"].bytes_list.value.append(image.sha256.encode("ascii"))
    f["image/encoded"].bytes_list.value.append(image.data)
    f["image/format"].bytes_list.value.append(image.fmt.encode("ascii"))
    f["image/object/bbox/xmin"].float_list.value.extend([b.xmin / w for b in boxes])
    f["image/object/bbox/xmax"].float_list.value.extend([b.xmax / w for b in boxes])
    f["image/object/bbox/ymin"].float_list.value.extend([b.ymin / h for b in boxes])
    f["image/object/bbox/ymax"].float_list.value.extend([b.ymax / h for b in boxes])
    f["image/object/class/text"].bytes_list.value.extend([b.label.encode("utf-8") for b in boxes])
    f["image/object/class/label"].int64_list.value.extend([ids[b.label] for b in boxes])
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


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="create_tf_record",
        description=f"Turn annotations ({ANNOTATION_FORMATS}) into Object Detection API TFRecords.",
    )
    p.add_argument(
        "--data_dir",
        required=True,
        help="image folders, comma-separated (labelImg XML), or one YAML (Bosch, sloth) or JSON file (VoTT, COCO)",
    )
    p.add_argument(
        "--include_unlabelled",
        action="store_true",
        help="use images that no XML names as frames without a light (default: say how many, leave them out)",
    )
    p.add_argument(
        "--annotations_dir", default="labels", help="XML subfolder of each data dir (default: labels; else XML beside the images)"
    )
    p.add_argument("--output_path", required=True, help="the record to write (with --split: one per split, NAME_SPLIT.record)")
    p.add_argument("--label_map_path", required=True, help="label map to use; written from the labels found if it does not exist")
    p.add_argument("--label_mapping", default="none", help="none, states (RedLeft -> Red, ...), or FROM=TO,... (default: none)")
    p.add_argument("--split", default=None, help="e.g. train=0.8,val=0.1,test=0.1 (stratified by state)")
    p.add_argument("--seed", type=int, default=0, help="seed of the split (default: 0)")
    p.add_argument("--shards", type=int, default=1, help="files per record (default: 1)")
    p.add_argument("--jpeg_quality", type=int, default=95, help="quality of PNG -> JPEG (default: 95)")
    p.add_argument("--strict", action="store_true", help="stop at the first problem instead of skipping with a warning")
    p.add_argument("--overwrite", action="store_true", help="replace existing records")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="threads reading and converting images")
    p.add_argument("--no_progress", action="store_true", help="no progress bar")
    return p


def _iter_examples(a: argparse.Namespace, problems: Problems) -> Iterator[Example]:
    """The examples of ``--data_dir``, with ``--label_mapping`` applied; XML is read as it is needed."""
    dirs = [Path(d) for d in a.data_dir.split(",") if d.strip()]
    examples = read_annotations(dirs, a.annotations_dir, problems, a.include_unlabelled)
    mapping = parse_label_mapping(a.label_mapping)
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


def _create(argv: list[str]) -> int:
    import contextlib

    from tqdm import tqdm

    from tl_classifier.files import atomic_output
    from tl_classifier.tf_setup import import_tensorflow

    a = _parser().parse_args(argv)
    if a.shards < 1 or not 1 <= a.jpeg_quality <= 100 or a.jobs < 1:
        raise DatasetError("--shards and --jobs must be >= 1, --jpeg_quality 1-100")
    tf = import_tensorflow()  # before the clock: the figure printed at the end is the work itself
    started = time.monotonic()
    problems = Problems(strict=a.strict)
    output = Path(a.output_path)
    fractions = parse_split(a.split) if a.split else None
    outputs = {s: split_output(output, s) for s in (fractions or {None: 1.0})}
    finals = [p for o in outputs.values() for p in [*shard_paths(o, a.shards), summary_path(o)]]
    existing = [p for p in finals if p.exists()]
    if existing and not a.overwrite:
        raise OutputExistsError("exists already (pass --overwrite to replace it)", existing[0])
    parse_label_mapping(a.label_mapping)  # a bad mapping is said before any work
    quiet = a.no_progress or None

    groups: dict[str | None, Iterable[Example]]
    if fractions is None and Path(a.label_map_path).exists():
        # nothing needs every annotation first: they are read as the images are, overlapping with them
        label_map, new_map = load_label_map(a.label_map_path), False
        groups = {None: _iter_examples(a, problems)}
    else:  # a split, or a label map made from the labels found, needs all the annotations first
        examples = list(_iter_examples(a, problems))
        label_map, new_map = _label_map(Path(a.label_map_path), Counter(b.label for e in examples for b in e.boxes))
        groups = split_examples(examples, fractions, a.seed) if fractions else {None: examples}
    ids = {name: i for i, name in label_map.names.items()}

    # one pass: images read (PNG re-encoded) ahead on the pool; boxes checked against each
    # image's real size; records written in order
    summaries = {}
    read = lambda e: read_image(e.image, a.jpeg_quality)  # noqa: E731
    with ThreadPoolExecutor(max_workers=a.jobs) as pool, contextlib.ExitStack() as stack:
        # every output is renamed into place together at the end, or none is
        for split, group in groups.items():
            paths = shard_paths(outputs[split], a.shards)
            writers = [tf.io.TFRecordWriter(str(stack.enter_context(atomic_output(p, a.overwrite)))) for p in paths]
            written: list[Example] = []
            converted = size = 0
            total = len(group) if isinstance(group, list) else None
            for e, enc in tqdm(ordered_map(pool, read, group, 4 * a.jobs, UnreadableImage), total=total,
                               desc=f"writing {outputs[split].name}", unit="img", disable=quiet, leave=False):  # fmt: skip
                if isinstance(enc, UnreadableImage):
                    problems.skip(enc.kind, e.source, f"{enc} ({e.image})")
                    continue
                e.width, e.height = enc.width, enc.height
                check_boxes(e, problems, lambda label: label in ids)
                writers[len(written) % a.shards].write(tf_example(e, enc, ids).SerializeToString())
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
                    "data_dir": [d for d in a.data_dir.split(",") if d.strip()],
                    "split": split,
                    "label_map": {str(k): v for k, v in label_map.names.items()},
                    "converted_to_jpeg": converted,
                    "bytes_of_images": size,
                }
            )
            tmp = stack.enter_context(atomic_output(summary_path(outputs[split]), a.overwrite))
            tmp.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
            summaries[split] = summary
        if not any(s["images"] for s in summaries.values()):
            raise DatasetError("no usable image: nothing written", a.data_dir)
    if new_map:
        write_label_map(label_map, a.label_map_path)
    elapsed = time.monotonic() - started
    total = sum(s["images"] for s in summaries.values())
    for s in summaries.values():
        print(
            f"{', '.join(s['record'])}: {s['images']} images ({s['images_without_boxes']} without boxes), "
            f"{s['boxes']} boxes {s['boxes_per_label']}, {s['converted_to_jpeg']} re-encoded as JPEG"
        )
    skipped = sum(problems.counts.values())
    print(
        f"{total} images in {elapsed:.2f} s ({total / max(elapsed, 1e-9):.1f} images/s); "
        f"skipped {skipped}{' ' + str(dict(problems.counts)) if skipped else ''}; "
        f"label map {a.label_map_path}{' (written)' if new_map else ''}"
    )
    return 0


def create_tf_record(argv: Sequence[str] | None = None) -> int:
    """``rosrun tl_classifier create_tf_record --data_dir=... --output_path=... --label_map_path=...``."""
    return run_main(_create, argv, "create_tf_record")


# --- inspect_record --------------------------------------------------------------------


FEATURES = (
    "image/encoded", "image/format", "image/height", "image/width", "image/filename", "image/source_id",
    "image/key/sha256", "image/object/bbox/xmin", "image/object/bbox/xmax", "image/object/bbox/ymin",
    "image/object/bbox/ymax", "image/object/class/text", "image/object/class/label",
)  # fmt: skip


def read_record(paths: Sequence[Path]) -> Iterator[dict[str, Any]]:
    """Parse OD API examples from record files with ``tf.data``; yields plain Python values per image.

    :raises DatasetError: if a file is missing or not a TFRecord of such examples.
    """
    from tl_classifier.tf_setup import import_tensorflow

    tf = import_tensorflow()
    spec = {
        "image/encoded": tf.io.FixedLenFeature([], tf.string),
        "image/format": tf.io.FixedLenFeature([], tf.string),
        "image/height": tf.io.FixedLenFeature([], tf.int64),
        "image/width": tf.io.FixedLenFeature([], tf.int64),
        "image/filename": tf.io.FixedLenFeature([], tf.string),
        "image/source_id": tf.io.FixedLenFeature([], tf.string),
        "image/key/sha256": tf.io.FixedLenFeature([], tf.string),
        "image/object/class/text": tf.io.VarLenFeature(tf.string),
        "image/object/class/label": tf.io.VarLenFeature(tf.int64),
        **{f"image/object/bbox/{k}": tf.io.VarLenFeature(tf.float32) for k in ("xmin", "xmax", "ymin", "ymax")},
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
    w, h = int(rec["image/width"]), int(rec["image/height"])
    ids = rec["image/object/class/label"]
    labels = [t.decode() for t in rec["image/object/class/text"]]
    if len(labels) != len(rec["image/object/bbox/xmin"]):
        if label_map is None or len(ids) != len(rec["image/object/bbox/xmin"]):
            raise DatasetError("an example has boxes without class text (pass --label_map to name its class ids)",
                               rec["image/source_id"].decode())  # fmt: skip
        labels = [label_map.name(int(i)) for i in ids]
    coords = (rec[f"image/object/bbox/{k}"] for k in ("xmin", "xmax", "ymin", "ymax"))
    return [Box(lbl, x0 * w, y0 * h, x1 * w, y1 * h) for lbl, x0, x1, y0, y1 in zip(labels, *coords, strict=True)]


def record_files(path: Path) -> list[Path]:
    """A record and its shards: ``out.record`` or every ``out.record-?????-of-?????``."""
    if path.is_file():
        return [path]
    shards = sorted(path.parent.glob(f"{path.name}-[0-9][0-9][0-9][0-9][0-9]-of-[0-9][0-9][0-9][0-9][0-9]"))
    if not shards:
        raise DatasetError("no such record (nor shards of it)", path)
    return shards


def _inspect(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="inspect_record", description="Summarise an OD API TFRecord; draw examples with their boxes."
    )
    p.add_argument("record", help="a .record file, or the name of a sharded one")
    p.add_argument("--draw", type=int, default=0, metavar="N", help="draw the first N images with their boxes as PNG")
    p.add_argument("--out", default=".", help="folder for the drawings (default: .)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    a = p.parse_args(argv)
    import cv2
    import numpy as np

    from tl_classifier.draw import draw_true_boxes

    files = record_files(Path(a.record))
    examples, drawn = [], []
    for i, rec in enumerate(read_record(files)):
        w, h = int(rec["image/width"]), int(rec["image/height"])
        boxes = record_boxes(rec)
        examples.append(Example(Path(rec["image/filename"].decode()), boxes, files[0], w, h))
        if i < a.draw:
            bgr = cv2.imdecode(np.frombuffer(rec["image/encoded"], np.uint8), cv2.IMREAD_COLOR)
            picture = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            draw_true_boxes(picture, boxes)
            out = Path(a.out) / f"{Path(a.record).name}_{i:03d}.png"
            out.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(out), cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
            drawn.append(out)
    summary = summarize(examples)
    del summary["skipped"]
    summary["record"] = [f.name for f in files]
    if a.json:
        print(json.dumps(summary, indent=2))
    else:
        for key, value in summary.items():
            print(f"{key}: {value}")
    for d in drawn:
        print(f"drawn: {d}")
    return 0


def inspect_record(argv: Sequence[str] | None = None) -> int:
    """``rosrun tl_classifier inspect_record FILE``."""
    return run_main(_inspect, argv, "inspect_record")
