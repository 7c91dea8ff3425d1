"""``rosrun tl_classifier train configure|run|builtin|threshold|second_look``: parse, call :mod:`tl_classifier.train`, print."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from tl_classifier.commands import run_main
from tl_classifier.params import parse_size


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="train", description="Configure and run Object Detection API training.")
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("configure", help="write a ready pipeline config from a sample one (no OD API needed)")
    which = c.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--model", dest="sample", help="a shipped sample: ssd_mobilenet_v2_fpnlite_320 or faster_rcnn_resnet50_640"
    )
    which.add_argument("--sample", help="a pipeline .config to start from (a TF2 model zoo one, say)")
    c.add_argument("--label_map", required=True, help="label_map.pbtxt (num_classes is its highest id)")
    c.add_argument("--train_record", required=True, nargs="+", help="training TFRecords (image sizes are read from them)")
    c.add_argument("--eval_record", help="evaluation TFRecord (num_examples is counted from it)")
    c.add_argument("--fine_tune_checkpoint", help="checkpoint prefix to start from (checked to exist)")
    c.add_argument(
        "--image_size", help="WIDTHxHEIGHT for the resizer (default: a shipped model's own, else the records' most common size)"
    )
    c.add_argument(
        "--max_detections", type=int, default=10, help="max_detections_per_class and max_total_detections (default: 10)"
    )
    c.add_argument("--batch_size", type=int, help="train_config batch_size")
    c.add_argument("--num_steps", type=int, help="train_config num_steps")
    c.add_argument("-o", "--output", required=True, help="the pipeline config to write")
    c.add_argument("--overwrite", action="store_true")
    r = sub.add_parser("run", help="train with the OD API (in .odapi/: make odapi), export, and re-export for the node")
    r.add_argument("--pipeline", required=True, help="a pipeline config (train configure writes one)")
    r.add_argument(
        "--model_dir", required=True, help="checkpoints and TensorBoard logs; a rerun resumes from its last checkpoint"
    )
    r.add_argument("--export_dir", required=True, help="folder for frozen_inference_graph.pb, saved_model/, label_map.pbtxt")
    r.add_argument("--label_map", help="default: the pipeline's train_input_reader label_map_path")
    r.add_argument("--score_threshold", type=float, default=0.5, help="the node's operating threshold (model.json; default 0.5)")
    r.add_argument("--overwrite", action="store_true", help="replace an existing --export_dir")
    r.add_argument("--no_progress", action="store_true")
    t = sub.add_parser("threshold", help="choose an exported model's score threshold again on validation records")
    t.add_argument("--model", required=True, help="an export folder (with model.json)")
    t.add_argument("--val_record", required=True, nargs="+", help="validation TFRecords")
    s = sub.add_parser("second_look", help="write a built-in two-stage model's second look (second_look.pb) again from "
                       "its saved weights, without training: another size, or this package's newer second look")  # fmt: skip
    s.add_argument("--model", required=True, help="an export folder of train builtin --two_stage (with model.json)")
    s.add_argument("--size", default="640x480", help="WIDTHxHEIGHT of the detector's input (default: 640x480)")
    b = sub.add_parser("builtin", help="train the built-in detector with TensorFlow alone (no OD API) and export it")
    b.add_argument("--train_record", required=True, nargs="+", help="training TFRecords (create_tf_record)")
    b.add_argument("--val_record", nargs="+", help="validation TFRecords (loss reported per epoch)")
    b.add_argument("--label_map", required=True)
    b.add_argument("--model_dir", required=True, help="checkpoints, resume state and TensorBoard logs")
    b.add_argument("--export_dir", required=True, help="folder for frozen_inference_graph.pb, saved_model/, label_map.pbtxt")
    b.add_argument("--input_size", default="512x384", help="WIDTHxHEIGHT the frame is resized to (default: 512x384)")
    b.add_argument("--alpha", type=float, default=0.5, help="MobileNetV2 width multiplier (default: 0.5)")
    b.add_argument("--pretrained", default="none", help="none, imagenet (downloads), or a backbone weights file")
    b.add_argument("--epochs", type=int, default=30)
    b.add_argument("--steps_per_epoch", type=int, default=50)
    b.add_argument("--batch_size", type=int, default=8)
    b.add_argument("--learning_rate", type=float, default=2e-3)
    b.add_argument("--strategy", default="default", help="default, mirrored (all GPUs), multiworker (TF_CONFIG)")
    b.add_argument("--logical_cpus", type=int, default=0, help="with mirrored and no GPU: split the CPU into N devices")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--two_stage", action="store_true", help="a one-class detector, then a classifier of crops at full resolution")
    b.add_argument("--classifier_epochs", type=int, default=12, help="with --two_stage: crop classifier epochs (default: 12)")
    b.add_argument("--classifier_steps", type=int, default=100, help="with --two_stage: steps of 128 crops (default: 100)")
    b.add_argument("--mosaic", type=float, default=0.0, help="share of training images made of four frames at half "
                   "size: far lights and mixed scenes (default: 0)")  # fmt: skip
    b.add_argument("--second_look", default="", help="with --two_stage: WIDTHxHEIGHT of a second look, the same "
                   "networks on a larger input, exported as second_look.pb and run where the first look decides "
                   "nothing (far lights); not a training setting: a finished training exports again with it "
                   "(default: none)")  # fmt: skip
    b.add_argument("--paste", type=float, default=0.0, help="with --two_stage: share of training images into which one "
                   "to three labelled lights of other frames are pasted at far-light sizes (default: 0)")  # fmt: skip
    b.add_argument("--box_offsets", action="store_true", help="the detector learns where in its 4-pixel cell each "
                   "light's centre is (CenterNet's offset head); without it a box is centred on its cell")  # fmt: skip
    b.add_argument("--no_progress", action="store_true")
    b.add_argument("--overwrite", action="store_true")
    return p


def _size(text: str | None) -> tuple[int, int] | None:
    return parse_size(text, "--image_size") if text else None


def _main(argv: list[str]) -> int:
    a = parser().parse_args(argv)
    if a.command == "configure":
        from tl_classifier.train.odapi import ConfigureOptions, configure_pipeline

        result = configure_pipeline(
            ConfigureOptions(
                sample=a.sample,
                label_map=Path(a.label_map),
                train_record=[Path(t) for t in a.train_record],
                output=Path(a.output),
                eval_record=Path(a.eval_record) if a.eval_record else None,
                fine_tune_checkpoint=a.fine_tune_checkpoint,
                image_size=_size(a.image_size),
                max_detections=a.max_detections,
                batch_size=a.batch_size,
                num_steps=a.num_steps,
                overwrite=a.overwrite,
            )
        )
        lines = result.lines()
    elif a.command == "run":
        from tl_classifier.train.odapi import RunOptions, run_odapi

        lines = run_odapi(
            RunOptions(
                pipeline=Path(a.pipeline),
                model_dir=Path(a.model_dir),
                export_dir=Path(a.export_dir),
                label_map=Path(a.label_map) if a.label_map else None,
                score_threshold=a.score_threshold,
                overwrite=a.overwrite,
                progress=not a.no_progress,
            )
        ).lines()
    elif a.command == "threshold":
        from tl_classifier.train.builtin import retune_threshold

        lines = retune_threshold(Path(a.model), a.val_record).lines()
    elif a.command == "second_look":
        from tl_classifier.train.builtin import export_second_look

        lines = export_second_look(Path(a.model), a.size).lines()
    else:
        from tl_classifier.train.builtin import BuiltinOptions, train_builtin

        options = BuiltinOptions(**{k: v for k, v in vars(a).items() if k != "command"})
        lines = train_builtin(options).lines()
    print("\n".join(lines))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``rosrun tl_classifier train configure|run|builtin|threshold|second_look ...``."""
    return run_main(_main, argv, "train")
