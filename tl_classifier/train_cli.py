"""``train``: the Object Detection API's training, without its hand edits.

    rosrun tl_classifier train configure --sample ssd_inception_v2_coco.config --label_map label_map.pbtxt \
        --train_record train.record --eval_record val.record --fine_tune_checkpoint ckpt/model.ckpt -o pipeline.config
    rosrun tl_classifier train run --pipeline pipeline.config --model_dir training/ --export_dir models/mine

``configure`` works whether or not the OD API is installed.  ``run`` needs the
OD API (installed apart; see docs/training.md) and says so in one line,
before anything else happens, where it is missing.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tl_classifier.cli import run_main
from tl_classifier.errors import OutputExistsError, TLClassifierError
from tl_classifier.files import atomic_output
from tl_classifier.pipeline_config import (
    ConfigError,
    Settings,
    configure,
    meta_architecture,
    od_api_available,
    validate_with_od_api,
)

OD_API_MISSING = (
    "the TensorFlow Object Detection API is not installed in this environment (it trains only with TensorFlow <= 2.15): "
    "install it from the tensorflow/models repository (research/object_detection, `pip install .` after protoc), "
    "then run this again inside ./env.sh"
)


def _checkpoint_exists(path: str) -> bool:
    """A TF checkpoint prefix (``model.ckpt``, ``ckpt-0``) or a folder holding one."""
    p = Path(path)
    return p.is_dir() or Path(f"{path}.index").is_file() or p.is_file()


def _record_facts(paths: Sequence[Path]) -> tuple[int, tuple[int, int]]:
    """(number of examples, most common (height, width)) of records."""
    from tl_classifier.tfrecord import read_record, record_files

    files = [f for p in paths for f in record_files(p)]
    sizes: Counter[tuple[int, int]] = Counter()
    for rec in read_record(files):
        sizes[(int(rec["image/height"]), int(rec["image/width"]))] += 1
    if not sizes:
        raise ConfigError("holds no example", paths[0])
    return sum(sizes.values()), sizes.most_common(1)[0][0]


def _configure(a: argparse.Namespace) -> int:
    from tl_classifier.label_map import load_label_map

    sample = Path(a.sample)
    if not sample.is_file():
        raise ConfigError("no such file (expected a sample pipeline .config)", sample)
    text = sample.read_text(encoding="utf-8")
    arch = meta_architecture(text)
    label_map = load_label_map(a.label_map)
    if a.fine_tune_checkpoint and not _checkpoint_exists(a.fine_tune_checkpoint):
        raise ConfigError("no such checkpoint (give the prefix, e.g. model.ckpt, of its .index file)", a.fine_tune_checkpoint)
    train_n, (height, width) = _record_facts([Path(a.train_record)])
    eval_n = _record_facts([Path(a.eval_record)])[0] if a.eval_record else None
    if a.image_size:
        width, height = (int(v) for v in a.image_size.lower().split("x"))
    settings = Settings(
        num_classes=max(label_map.names),
        image_height=height,
        image_width=width,
        max_detections=a.max_detections,
        batch_size=a.batch_size,
        fine_tune_checkpoint=a.fine_tune_checkpoint,
        num_steps=a.num_steps,
        train_record=a.train_record,
        eval_record=a.eval_record,
        label_map=a.label_map,
        eval_examples=eval_n,
    )
    result = configure(text, settings, str(sample))
    with atomic_output(a.output, a.overwrite) as tmp:
        tmp.write_text(result, encoding="utf-8")
        if od_api_available():
            validate_with_od_api(tmp)
    print(f"{a.output}: {arch} config from {sample.name}, {train_n} training examples of {width}x{height}")
    for change in settings.changed:
        print(f"  {change}")
    if not od_api_available():
        print("  (the Object Detection API is not installed here, so its loader did not check the result)")
    return 0


def _run(a: argparse.Namespace) -> int:
    if not od_api_available():
        raise TLClassifierError(OD_API_MISSING)
    pipeline = Path(a.pipeline)
    if not pipeline.is_file():
        raise ConfigError("no such file (expected a pipeline .config; `train configure` writes one)", pipeline)
    validate_with_od_api(pipeline)
    py = sys.executable
    steps = [
        [py, "-m", "object_detection.model_main_tf2", f"--pipeline_config_path={pipeline}", f"--model_dir={a.model_dir}"],
        [py, "-m", "object_detection.exporter_main_v2", "--input_type=image_tensor", f"--pipeline_config_path={pipeline}",
         f"--trained_checkpoint_dir={a.model_dir}", f"--output_directory={a.model_dir}/exported"],
    ]  # fmt: skip
    for cmd in steps:
        if subprocess.run(cmd).returncode != 0:
            raise TLClassifierError(f"{cmd[2]} failed (its output is above)")
    # the OD API's SavedModel, re-exported by this package: frozen graph + SavedModel + label map
    from tl_classifier.export import export_detector
    from tl_classifier.label_map import load_label_map
    from tl_classifier.model import OUTPUT_NAMES
    from tl_classifier.tf_setup import import_tensorflow

    tf = import_tensorflow()
    loaded = tf.saved_model.load(f"{a.model_dir}/exported/saved_model")
    serve = loaded.signatures["serving_default"]

    def detect(image: object) -> dict:
        out = serve(input_tensor=image)
        return {n: out[n] for n in OUTPUT_NAMES}

    label_map = load_label_map(a.label_map)
    export_detector(detect, a.export_dir, label_map, trackable=loaded, overwrite=a.overwrite)
    print(f"{a.export_dir}: frozen_inference_graph.pb, saved_model/, label_map.pbtxt")
    return 0


def _builtin(a: argparse.Namespace) -> int:
    """Train the built-in detector on TFRecords and export it in the OD API's formats."""
    from tl_classifier.export import export_detector
    from tl_classifier.label_map import load_label_map
    from tl_classifier.tf_setup import import_tensorflow
    from tl_classifier.trainer import ModelSpec, build_model, centernet_loss, dataset, detector_fn, strategy_for

    tf = import_tensorflow()
    keras = tf.keras
    keras.utils.set_random_seed(a.seed)
    label_map = load_label_map(a.label_map)
    width, height = (int(v) for v in a.input_size.lower().split("x"))
    classes = 1 if a.two_stage else max(label_map.names)
    spec = ModelSpec(num_classes=classes, input_height=height, input_width=width, alpha=a.alpha)
    _require_records([*a.train_record, *(a.val_record or [])])
    if Path(a.export_dir).exists() and not a.overwrite:  # said before training, not after
        raise OutputExistsError("exists already (pass --overwrite to replace it)", a.export_dir)
    work = Path(a.model_dir)
    work.mkdir(parents=True, exist_ok=True)
    strategy = strategy_for(a.strategy, a.logical_cpus)
    print(f"training on {strategy.num_replicas_in_sync} replica(s) ({a.strategy})", flush=True)
    weights = None if a.pretrained in (None, "none") else a.pretrained
    with strategy.scope():
        model = build_model(spec, "imagenet" if weights == "imagenet" else None)
        if weights and weights != "imagenet":
            try:
                model.get_layer("backbone").load_weights(weights, skip_mismatch=True)
            except Exception as err:  # Keras raises ValueError, OSError, ...
                raise TLClassifierError(f"cannot load backbone weights ({err})", weights) from err
        schedule = keras.optimizers.schedules.CosineDecay(a.learning_rate, a.epochs * a.steps_per_epoch, warmup_target=None)
        model.compile(optimizer=keras.optimizers.Adam(schedule), loss=centernet_loss(spec.num_classes))
    finished = work / "detector.weights.h5"  # written once the detector's training is complete
    if a.two_stage and finished.is_file():
        print(f"the detector was trained already: {finished} (delete it to train it again)", flush=True)
        model.load_weights(str(finished))
        history = None
    else:
        train_ds = dataset(a.train_record, spec, a.batch_size, training=True, seed=a.seed, class_agnostic=a.two_stage)
        val_ds = (
            dataset(a.val_record, spec, a.batch_size, training=False, seed=a.seed, class_agnostic=a.two_stage)
            if a.val_record
            else None
        )
        callbacks = [
            keras.callbacks.BackupAndRestore(str(work / "backup")),  # resumes an interrupted run where it stopped
            keras.callbacks.ModelCheckpoint(str(work / "last.weights.h5"), save_weights_only=True),
            keras.callbacks.TensorBoard(str(work / "logs"), update_freq="epoch"),
        ]
        history = model.fit(train_ds, epochs=a.epochs, steps_per_epoch=a.steps_per_epoch, validation_data=val_ds,
                            callbacks=callbacks, verbose=1 if not a.no_progress else 2)  # fmt: skip
        loss_curve(history.history, work / "loss.png")
        if a.two_stage:
            save_weights(model, finished)
    if a.two_stage:
        from tl_classifier.crops import LABEL_MAP, two_stage_fn

        classifier = train_crop_classifier(model, spec, a, label_map)
        detect, out_labels = two_stage_fn(model, spec, classifier), LABEL_MAP
        trackable = tf.Module()
        trackable.detector, trackable.classifier = model, classifier
    else:
        detect, out_labels, trackable = detector_fn(model, spec), label_map, model
    out = export_detector(detect, a.export_dir, out_labels, trackable=trackable, overwrite=a.overwrite)
    info: dict = {
        "architecture": "two stages: a one-class CenterNet-style detector (MobileNetV2 backbone), then a crop classifier"
        if a.two_stage
        else "CenterNet-style, MobileNetV2 backbone",
        "input_size": f"{width}x{height}",
        "score_threshold": 0.5,
    }
    if a.val_record:
        _choose_threshold_into(info, out, a.val_record)
    info["training"] = training_description(a)
    _write_info(out, info)
    print(f"{out}: frozen_inference_graph.pb, saved_model/, label_map.pbtxt, model.json {info}; logs: {work / 'logs'}")
    return 0


def _require_records(records: Sequence[str]) -> None:
    """:raises TLClassifierError: naming the first record that does not exist."""
    for r in records:
        if not Path(r).is_file():
            raise TLClassifierError("no such TFRecord (create_tf_record writes one)", r)


def _choose_threshold_into(info: dict, model_dir: Path, val_records: Sequence[str]) -> None:
    """Set ``info``'s score threshold and validation accuracy from :func:`choose_threshold`."""
    threshold, accuracy = choose_threshold(model_dir, val_records)
    info.update(score_threshold=threshold, val_state_accuracy=round(accuracy, 4))


def _write_info(model_dir: Path, info: dict) -> None:
    """Write ``model_dir/model.json``, complete or not at all."""
    with atomic_output(model_dir / "model.json", overwrite=True) as tmp:
        tmp.write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")


def save_weights(model: Any, path: Path) -> None:
    """Keras weights written under a temporary name (Keras wants it to end in .weights.h5) and renamed: complete or absent."""
    import os

    tmp = path.with_name(f".{os.getpid()}.partial.weights.h5")
    try:
        model.save_weights(str(tmp))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def train_crop_classifier(detector: Any, spec: Any, a: argparse.Namespace, label_map: Any) -> Any:
    """Train the second stage on crops of the training records; the detector's false detections are its hard negatives.

    Its weights are kept in ``model_dir/classifier.weights.h5``; a rerun with that file loads it instead of training.
    """
    from tl_classifier.crops import CLASSES, build_classifier, crop_dataset, records_crops
    from tl_classifier.model import OUTPUT_NAMES, DetectionModel
    from tl_classifier.tf_setup import import_tensorflow
    from tl_classifier.trainer import detector_fn

    tf = import_tensorflow()
    keras = tf.keras
    classifier = build_classifier()
    done = Path(a.model_dir) / "classifier.weights.h5"
    if done.is_file():
        print(f"the crop classifier was trained already: {done} (delete it to train it again)", flush=True)
        classifier.load_weights(str(done))
        return classifier
    # the detector being trained, as a model of the OD API's outputs: its raw() gives its detections of one frame
    find = tf.function(detector_fn(detector, spec, min_score=0.1))
    finder = DetectionModel(lambda image: tuple(find(image)[n] for n in OUTPUT_NAMES), label_map, Path(a.model_dir), "keras", "")
    ids = {name: CLASSES.index(name) for name in label_map.names.values() if name in CLASSES}
    crops = records_crops(a.train_record, ids, a.seed, detector=finder, progress=not a.no_progress)
    print(f"crop classifier: {len(crops.labels)} crops {crops.counts()}", flush=True)
    steps = a.classifier_epochs * a.classifier_steps
    classifier.compile(
        optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(3e-3, steps)),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    history = classifier.fit(
        crop_dataset(crops, 128, a.seed),
        epochs=a.classifier_epochs,
        steps_per_epoch=a.classifier_steps,
        verbose=1 if not a.no_progress else 2,
    )
    loss_curve({"loss": history.history["loss"]}, Path(a.model_dir) / "classifier_loss.png", "loss (cross-entropy)")
    save_weights(classifier, done)
    return classifier


def training_description(a: argparse.Namespace) -> dict:
    """What a built-in model was trained on and how, for its ``model.json``.

    Each record is described by the summary ``create_tf_record`` wrote beside
    it (images, boxes per label, sizes), or else by its number of examples.
    """
    from tl_classifier.tfrecord import summary_path

    def describe(record: str) -> dict:
        summary = summary_path(Path(record))
        if summary.is_file():
            return {k: v for k, v in json.loads(summary.read_text(encoding="utf-8")).items() if k != "record"}
        return {"images": _record_facts([Path(record)])[0]}

    settings = (
        "input_size", "alpha", "pretrained", "epochs", "steps_per_epoch", "batch_size", "learning_rate", "seed",
        "two_stage", "classifier_epochs", "classifier_steps",
    )  # fmt: skip
    return {
        "train_records": {Path(r).name: describe(r) for r in a.train_record},
        "val_records": {Path(r).name: describe(r) for r in a.val_record or []},
        **{k: getattr(a, k) for k in settings},
    }


def loss_curve(history: dict[str, list[float]], path: Path, ylabel: str = "loss (focal + 0.1 size)") -> None:
    """Draw the training (and validation) loss per epoch to PNG."""
    from tl_classifier.draw import pyplot

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=120)
    for key, label in (("loss", "training"), ("val_loss", "validation")):
        if history.get(key):
            ax.plot(range(1, len(history[key]) + 1), history[key], label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.set_yscale("log")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def choose_threshold(model_dir: Path, val_records: Sequence[str]) -> tuple[float, float]:
    """The score threshold with the best frame-state accuracy on the validation records (and that accuracy).

    Thresholds 0.10, 0.15, ... 0.70 are tried; of those that tie for the best, the middle one is taken.

    A frame's true state is that of most of its boxes; a frame without boxes is UNKNOWN.
    """
    import numpy as np

    from tl_classifier.dataset import Problems
    from tl_classifier.detection import decide_state
    from tl_classifier.evaluate import load_frames
    from tl_classifier.model import load_model

    model = load_model(model_dir)
    frames = [
        (f.truth, model.detect(f.rgb(), 0.0).detections)
        for r in val_records
        for f in load_frames(Path(r), Problems(), model.label_map)
    ]
    # not below 0.10: validation records rarely hold frames without a light, so on them a lower threshold looks free
    # (two-stage models' weak false lights at 0.05-0.07 on such frames were seen only on the test sets)
    thresholds = [round(float(t), 2) for t in np.arange(0.1, 0.71, 0.05)]
    accuracy = [sum(decide_state(dets, t)[0] == truth for truth, dets in frames) / len(frames) for t in thresholds]
    top = max(accuracy)
    best = [t for t, acc in zip(thresholds, accuracy, strict=True) if acc >= top - 1e-9]
    return best[len(best) // 2], top  # the middle of the best plateau: the farthest from both edges


def _threshold(a: argparse.Namespace) -> int:
    """Choose an exported model's score threshold again on validation records, with this package's decision code."""
    model_dir = Path(a.model)
    info_path = model_dir / "model.json"
    if not info_path.is_file():
        raise TLClassifierError("holds no model.json (train builtin writes one)", model_dir)
    _require_records(a.val_record)
    info = json.loads(info_path.read_text(encoding="utf-8"))
    before = info.get("score_threshold")
    _choose_threshold_into(info, model_dir, a.val_record)
    _write_info(model_dir, info)
    print(
        f"{info_path}: score_threshold {before} -> {info['score_threshold']} "
        f"(validation state accuracy {100 * info['val_state_accuracy']:.1f} %)"
    )
    return 0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="train", description="Configure and run Object Detection API training.")
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("configure", help="write a ready pipeline config from a sample one (no OD API needed)")
    c.add_argument("--sample", required=True, help="a sample pipeline .config (from the OD API's samples/configs)")
    c.add_argument("--label_map", required=True, help="label_map.pbtxt (num_classes is its highest id)")
    c.add_argument("--train_record", required=True, help="training TFRecord (image sizes are read from it)")
    c.add_argument("--eval_record", help="evaluation TFRecord (num_examples is counted from it)")
    c.add_argument("--fine_tune_checkpoint", help="checkpoint prefix to start from (checked to exist)")
    c.add_argument("--image_size", help="WIDTHxHEIGHT for the resizer (default: the records' most common size)")
    c.add_argument(
        "--max_detections", type=int, default=10, help="max_detections_per_class and max_total_detections (default: 10)"
    )
    c.add_argument("--batch_size", type=int, help="train_config batch_size")
    c.add_argument("--num_steps", type=int, help="train_config num_steps")
    c.add_argument("-o", "--output", required=True, help="the pipeline config to write")
    c.add_argument("--overwrite", action="store_true")
    r = sub.add_parser("run", help="train with the OD API, export, and re-export for the node")
    r.add_argument("--pipeline", required=True)
    r.add_argument("--model_dir", required=True)
    r.add_argument("--label_map", required=True)
    r.add_argument("--export_dir", required=True, help="folder for frozen_inference_graph.pb, saved_model/, label_map.pbtxt")
    r.add_argument("--overwrite", action="store_true")
    t = sub.add_parser("threshold", help="choose an exported model's score threshold again on validation records")
    t.add_argument("--model", required=True, help="an export folder (with model.json)")
    t.add_argument("--val_record", required=True, nargs="+", help="validation TFRecords")
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
    b.add_argument("--no_progress", action="store_true")
    b.add_argument("--overwrite", action="store_true")
    return p


def _main(argv: list[str]) -> int:
    a = _parser().parse_args(argv)
    return {"configure": _configure, "run": _run, "builtin": _builtin, "threshold": _threshold}[a.command](a)


def main(argv: Sequence[str] | None = None) -> int:
    """``rosrun tl_classifier train configure|run ...``."""
    return run_main(_main, argv, "train")
