"""``rosrun tl_classifier create_tf_record``: parse, call :func:`tl_classifier.data.records.create_records`, print."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path

from tl_classifier.commands import run_main
from tl_classifier.data.annotations import ANNOTATION_FORMATS, parse_split
from tl_classifier.data.records import RecordOptions, create_records


def parser() -> argparse.ArgumentParser:
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


def options(argv: list[str]) -> RecordOptions:
    a = parser().parse_args(argv)
    return RecordOptions(
        data=[Path(d) for d in a.data_dir.split(",") if d.strip()],
        output=Path(a.output_path),
        label_map=Path(a.label_map_path),
        annotations_dir=a.annotations_dir,
        include_unlabelled=a.include_unlabelled,
        label_mapping=a.label_mapping,
        split=parse_split(a.split) if a.split else None,
        seed=a.seed,
        shards=a.shards,
        jpeg_quality=a.jpeg_quality,
        strict=a.strict,
        overwrite=a.overwrite,
        jobs=a.jobs,
        progress=not a.no_progress,
    )


def _main(argv: list[str]) -> int:
    print("\n".join(create_records(options(argv)).lines()))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``rosrun tl_classifier create_tf_record --data_dir=... --output_path=... --label_map_path=...``."""
    return run_main(_main, argv, "create_tf_record")
