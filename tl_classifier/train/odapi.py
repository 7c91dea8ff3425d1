"""The Object Detection API's training, without its hand edits: ``train configure`` and ``train run``.

The OD API trains only with TensorFlow <= 2.13-2.15 era pins, while the node runs a current TensorFlow.  So it
lives in an environment of its own, ``.odapi/`` (``make odapi``), and ``train run`` calls that environment's
Python for the OD API's own programs (``object_detection.model_main_tf2`` and ``exporter_main_v2``); everything
else (records, the re-export for the node) runs here, in the node's environment.  ``configure`` works without
the OD API environment and has the OD API's loader check its result where the environment exists.

Sample configs for the TF2 successors of the tutorial's models ship in ``configs/``: :data:`SAMPLES`.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tl_classifier.data.records import record_facts
from tl_classifier.errors import TLClassifierError
from tl_classifier.fields import PIPELINE_CONFIG_NAME
from tl_classifier.files import atomic_output
from tl_classifier.train.pipeline_config import ConfigError, Settings, configure, field_values, meta_architecture

#: The repository: ``make odapi`` makes the OD API environment in its ``.odapi/``.
ROOT = Path(__file__).resolve().parents[2]
#: Another OD API environment: its folder, or its Python.
ODAPI_ENV_VARIABLE = "TL_CLASSIFIER_ODAPI"
CONFIGS = Path(__file__).resolve().parent / "configs"
#: Sample pipeline configs by name: the TF2 model zoo's successors of the tutorial's two models.
SAMPLES = {
    "ssd_mobilenet_v2_fpnlite_320": CONFIGS / "ssd_mobilenet_v2_fpnlite_320.config",
    "faster_rcnn_resnet50_640": CONFIGS / "faster_rcnn_resnet50_640.config",
}
#: TF1 model names and feature extractors (TF-Slim) that the TF2 API cannot build, and what to use instead.
TF1_SUCCESSORS = {
    "ssd_inception_v2": "ssd_mobilenet_v2_fpnlite_320",
    "ssd_mobilenet_v1": "ssd_mobilenet_v2_fpnlite_320",
    "ssd_mobilenet_v2": "ssd_mobilenet_v2_fpnlite_320",
    "faster_rcnn_inception_v2": "faster_rcnn_resnet50_640",
    "faster_rcnn_resnet50": "faster_rcnn_resnet50_640",
    "faster_rcnn_resnet101": "faster_rcnn_resnet50_640",
}
#: A checkpoint at least this often (steps), and always at the last step.
CHECKPOINT_EVERY = 1000
#: model_main_tf2 trains in loops of this many steps (model_lib_v2's NUM_STEPS_PER_ITERATION): it stops, logs and
#: checkpoints only between loops, so a training's steps are a multiple of it.
STEPS_PER_LOOP = 100


def odapi_python() -> Path | None:
    """The Python of the OD API environment (``$TL_CLASSIFIER_ODAPI``, else ``.odapi/``), if it exists."""
    given = os.environ.get(ODAPI_ENV_VARIABLE)
    where = Path(given) if given else ROOT / ".odapi"
    python = where / "bin" / "python" if where.is_dir() else where
    return python if python.is_file() and os.access(python, os.X_OK) else None


def odapi_missing() -> str:
    return (
        f"the Object Detection API's environment is missing ({ROOT / '.odapi'}): run `make odapi` in {ROOT} "
        "(TensorFlow 2.13 and the OD API, apart from the node's TensorFlow), or set "
        f"{ODAPI_ENV_VARIABLE} to the Python of an environment that has it"
    )


def require_odapi() -> Path:
    """:raises TLClassifierError: saying in one line what to run where the OD API environment is missing."""
    python = odapi_python()
    if python is None:
        raise TLClassifierError(odapi_missing())
    return python


_CHECK = """
import sys
from object_detection.builders import model_builder
from object_detection.utils import config_util
configs = config_util.get_configs_from_pipeline_file(sys.argv[1])
model_builder.build(configs["model"], is_training=True)
"""


def validate_with_od_api(path: Path) -> None:
    """Have the OD API read ``path`` and build its model, in its own environment.

    :raises ConfigError: naming the OD API's own complaint (its last line).
    """
    python = require_odapi()
    done = subprocess.run([str(python), "-c", _CHECK, str(path)], capture_output=True, text=True, env=_quiet_env())
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        raise ConfigError(f"the Object Detection API does not accept it: {lines[-1] if lines else 'no reason given'}", path)


def _quiet_env() -> dict[str, str]:
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"}


def _config_value(text: str, where: tuple[str, ...]) -> str | None:
    """The first value of a config field whose block path ends with ``where`` (``("feature_extractor", "type")``)."""
    return next((value for path, value in field_values(text) if path[-len(where) :] == where), None)


def feature_extractor_type(text: str) -> str | None:
    return _config_value(text, ("feature_extractor", "type"))


def resolve_sample(name_or_path: str) -> Path:
    """A sample config by name (:data:`SAMPLES`) or path.

    :raises ConfigError: for a TF1 model name (naming its TF2 successor) or an unknown one.
    """
    path = Path(name_or_path)
    if path.is_file():
        return path
    stem = path.name.removesuffix(".config").removesuffix("_coco")
    if stem in SAMPLES:
        return SAMPLES[stem]
    for old, new in TF1_SUCCESSORS.items():
        if stem == old or stem.startswith(old + "_"):
            raise ConfigError(
                f"{old} is a TF1 model (TF-Slim) that the TF2 Object Detection API cannot train: use --model {new}, "
                "its TF2 successor"
            )
    raise ConfigError(f"no such sample config (the shipped ones: {', '.join(SAMPLES)})", path)


def tf1_only(text: str) -> str | None:
    """Why a config cannot be trained by the TF2 OD API (a TF1, TF-Slim feature extractor), naming its successor."""
    kind = feature_extractor_type(text)
    if not kind or kind.endswith("_keras"):
        return None
    successor = next((new for old, new in TF1_SUCCESSORS.items() if kind.startswith(old)), None)
    hint = f"use --model {successor}, its TF2 successor" if successor else "TF2 feature extractors end in _keras"
    return f"feature extractor {kind!r} is TF1-only (TF-Slim): the TF2 Object Detection API cannot train it; {hint}"


def _check_tf2(text: str, source: Path) -> None:
    why = tf1_only(text)
    if why:
        raise ConfigError(why, source)


@dataclass(frozen=True)
class ConfigureOptions:
    """What ``train configure`` fills into a sample pipeline config."""

    sample: str  #: a name of :data:`SAMPLES`, or a config file
    label_map: Path
    train_record: Path | list[Path]  #: several: all of them are read (the first gives the image size)
    output: Path
    eval_record: Path | None = None
    fine_tune_checkpoint: str | None = None
    #: (width, height); default: a shipped sample's own (320x320, 640x640), else the records' most common size
    image_size: tuple[int, int] | None = None
    max_detections: int = 10
    batch_size: int | None = None
    num_steps: int | None = None
    overwrite: bool = False
    check: bool = True  #: have the OD API build the model, where its environment exists


@dataclass(frozen=True)
class ConfigureResult:
    output: Path
    architecture: str
    sample: str
    train_examples: int
    image_size: tuple[int, int]  #: (width, height)
    changes: list[str]
    checked_by_od_api: bool
    tf1_only: str | None = None  #: why ``train run`` will refuse it
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        w, h = self.image_size
        out = [f"{self.output}: {self.architecture} config from {self.sample}, {self.train_examples} training examples, "
               f"input {w}x{h}"]  # fmt: skip
        out += [f"  {c}" for c in self.changes]
        out += [f"  note: {n}" for n in self.notes]
        if self.tf1_only:
            out.append(f"  note: {self.tf1_only}")
        elif self.checked_by_od_api:
            out.append("  checked: the Object Detection API read it and built its model")
        else:
            out.append("  (no OD API environment here (make odapi), so its loader did not check the result)")
        return out


def _checkpoint_exists(path: str) -> bool:
    """A TF checkpoint prefix (``model.ckpt``, ``ckpt-0``) or a folder holding one."""
    p = Path(path)
    return p.is_dir() or Path(f"{path}.index").is_file() or p.is_file()


def _input_size(text: str) -> tuple[int, int] | None:
    """(width, height) of a config's fixed_shape_resizer, or the max_dimension of its keep_aspect_ratio_resizer."""
    h, w = (_config_value(text, ("fixed_shape_resizer", k)) for k in ("height", "width"))
    if h and w:
        return int(w), int(h)
    m = _config_value(text, ("max_dimension",))
    return (int(m), int(m)) if m else None


def configure_pipeline(o: ConfigureOptions) -> ConfigureResult:
    """Write a ready pipeline config from a sample one: classes, image size, records, label map, steps filled in.

    :raises ConfigError: a TF1-only model, a missing sample or checkpoint, an empty record, a record label that the
        label map lacks, or a config the OD API rejects.
    """
    from tl_classifier.data.label_map import load_label_map

    sample = resolve_sample(o.sample)
    text = sample.read_text(encoding="utf-8")
    tf1 = tf1_only(text)  # still filled in (for a TF1 installation of the OD API), with a note
    arch = meta_architecture(text)
    label_map = load_label_map(o.label_map)
    if o.fine_tune_checkpoint and not _checkpoint_exists(o.fine_tune_checkpoint):
        raise ConfigError("no such checkpoint (give the prefix, e.g. ckpt-0, of its .index file)", o.fine_tune_checkpoint)
    trains = o.train_record if isinstance(o.train_record, list) else [o.train_record]
    facts = {r: record_facts([r]) for r in (*trains, *([o.eval_record] if o.eval_record else []))}  # each read once
    for record, f in facts.items():
        unknown = sorted(f.labels - set(label_map.names.values()))
        if unknown:
            raise ConfigError(
                f"has boxes labelled {', '.join(map(repr, unknown))}, which {o.label_map} does not name "
                "(make the record with this label map: create_tf_record --label_map_path)",
                record,
            )
    train = sum((facts[r] for r in trains[1:]), facts[trains[0]])
    train_n, (height, width) = train.examples, train.size
    eval_n = facts[o.eval_record].examples if o.eval_record else None
    shipped = sample.parent == CONFIGS  # a zoo model keeps the input size it is named after
    size: tuple[int, int] | None = o.image_size or (None if shipped else (width, height))
    settings = Settings(
        num_classes=max(label_map.names),
        image_height=size[1] if size else None,
        image_width=size[0] if size else None,
        max_detections=o.max_detections,
        batch_size=o.batch_size,
        fine_tune_checkpoint=o.fine_tune_checkpoint,
        num_steps=o.num_steps,
        train_record=[str(Path(t).resolve()) for t in trains],
        # without an evaluation record the OD API's (unused by train run) eval reader points at the training one
        eval_record=str(Path(o.eval_record or trains[0]).resolve()),
        label_map=str(Path(o.label_map).resolve()),
        eval_examples=eval_n,
    )
    result = configure(text, settings, str(sample))
    checked = o.check and not tf1 and odapi_python() is not None
    with atomic_output(o.output, o.overwrite) as tmp:
        tmp.write_text(result, encoding="utf-8")
        if checked:
            validate_with_od_api(tmp)
    notes = []
    if o.num_steps and o.num_steps != loop_steps(o.num_steps):
        notes.append(f"model_main_tf2 trains in loops of {STEPS_PER_LOOP} steps: train run will train {loop_steps(o.num_steps)}")
    if size is None:
        size = _input_size(result) or (width, height)
    return ConfigureResult(o.output, arch, sample.name, train_n, size, list(settings.changed), checked, tf1, notes)


@dataclass(frozen=True)
class RunOptions:
    """What ``train run`` trains and where it exports."""

    pipeline: Path
    model_dir: Path  #: checkpoints, TensorBoard logs (train/), the OD API's log (train.log) and its export
    export_dir: Path  #: the model for the node: frozen graph, SavedModel, label map, model.json
    label_map: Path | None = None  #: default: the pipeline's train_input_reader label_map_path
    score_threshold: float = 0.5  #: written into model.json: the node's operating point
    overwrite: bool = False
    progress: bool = True


@dataclass
class RunResult:
    export_dir: Path
    steps: int
    seconds: float
    resumed_from: int  #: the step the training started from (0: a fresh start)
    last_loss: float | None
    info: dict[str, Any] = field(default_factory=dict)

    def lines(self) -> list[str]:
        start = f"resumed at step {self.resumed_from}, " if self.resumed_from else ""
        loss = f", total loss {self.last_loss:.3f}" if self.last_loss is not None else ""
        return [
            f"trained to step {self.steps} ({start}{self.seconds:.0f} s{loss})",
            f"{self.export_dir}: frozen_inference_graph.pb, saved_model/, label_map.pbtxt, model.json",
        ]


def loop_steps(num_steps: int) -> int:
    """``num_steps`` rounded up to whole loops of :data:`STEPS_PER_LOOP`: the steps model_main_tf2 really trains."""
    return max(1, math.ceil(num_steps / STEPS_PER_LOOP)) * STEPS_PER_LOOP


def checkpoint_every(num_steps: int) -> int:
    """The checkpoint period: the largest multiple of :data:`STEPS_PER_LOOP` that divides ``loop_steps(num_steps)``,
    up to :data:`CHECKPOINT_EVERY` and to half the training (so that an interrupted run has something to resume from).

    The OD API saves every ``checkpoint_every_n`` steps and not at the end: with a divisor, the last step is saved
    (without one, a run shorter than the period leaves nothing to export: "324 Python objects ... not bound").
    """
    steps = loop_steps(num_steps)
    limit = min(CHECKPOINT_EVERY, max(STEPS_PER_LOOP, steps // 2))
    return max(c for c in range(STEPS_PER_LOOP, limit + 1, STEPS_PER_LOOP) if steps % c == 0)


def checkpoint_step(model_dir: Path) -> int:
    """The training step of the latest checkpoint in ``model_dir`` (0: none)."""
    from tl_classifier.tf_setup import import_tensorflow

    tf = import_tensorflow()
    latest = tf.train.latest_checkpoint(str(model_dir))
    if not latest:
        return 0
    return int(tf.train.load_checkpoint(latest).get_tensor("step/.ATTRIBUTES/VARIABLE_VALUE"))


_STEP = re.compile(r"Step (\d+) per-step time ([\d.]+)s")
_LOSS = re.compile(r"'Loss/total_loss': ([\d.eE+-]+)")


def _run_logged(cmd: list[str], log: Path, what: str, on_line: Any = None) -> None:
    """Run ``cmd``, appending its output to ``log`` (and passing each line to ``on_line``).

    :raises TLClassifierError: naming ``what``, the last line it wrote and the log, if it fails.
    """
    tail: deque[str] = deque(maxlen=20)
    with open(log, "a", encoding="utf-8") as out:
        out.write(f"$ {' '.join(cmd)}\n")
        out.flush()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_quiet_env())
        assert proc.stdout is not None
        for line in proc.stdout:
            out.write(line)
            out.flush()  # the log is read while the training runs
            tail.append(line.rstrip())
            if on_line:
                on_line(line)
        code = proc.wait()
    if code != 0:
        reason = next((t for t in reversed(tail) if t.strip() and not t.startswith(" ")), "no output")
        raise TLClassifierError(f"{what} failed (exit {code}): {reason} (its log: {log})")


def run_odapi(o: RunOptions) -> RunResult:
    """Train with the OD API (resuming from ``model_dir``'s last checkpoint), export, and re-export for the node.

    :raises TLClassifierError: the OD API environment missing, a missing pipeline, a failed step, an existing export.
    """
    from tqdm import tqdm

    from tl_classifier.data.label_map import load_label_map
    from tl_classifier.model.export import OUTPUT_NAMES, export_detector
    from tl_classifier.tf_setup import import_tensorflow

    python = require_odapi()
    pipeline = Path(o.pipeline)
    if not pipeline.is_file():
        raise ConfigError("no such file (expected a pipeline .config; `train configure` writes one)", pipeline)
    if o.export_dir.exists() and not o.overwrite:  # said before training, not after
        raise TLClassifierError("exists already (pass --overwrite to replace it)", o.export_dir)
    text = pipeline.read_text(encoding="utf-8")
    _check_tf2(text, pipeline)
    configured = int(_config_value(text, ("train_config", "num_steps")) or 0)
    if configured <= 0:
        raise ConfigError("train_config has no num_steps (train configure --num_steps sets it)", pipeline)
    num_steps = loop_steps(configured)
    label_map_path = o.label_map or Path(_config_value(text, ("train_input_reader", "label_map_path")) or "")
    label_map = load_label_map(label_map_path)
    validate_with_od_api(pipeline)
    model_dir = Path(o.model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    log = model_dir / "train.log"
    start_step = checkpoint_step(model_dir)
    started = time.monotonic()
    loss: list[float] = []
    with tqdm(total=num_steps, initial=min(start_step, num_steps), unit="step", desc="model_main_tf2",
              disable=not o.progress or None, file=sys.stderr) as bar:  # fmt: skip

        def follow(line: str) -> None:
            step = _STEP.search(line)
            if step:
                bar.update(int(step.group(1)) - bar.n)
            got = _LOSS.search(line)
            if got:
                loss.append(float(got.group(1)))
                bar.set_postfix_str(f"loss {loss[-1]:.3f}")

        if start_step < num_steps:
            _run_logged(
                [str(python), "-m", "object_detection.model_main_tf2", f"--pipeline_config_path={pipeline.resolve()}",
                 f"--model_dir={model_dir.resolve()}", f"--num_train_steps={num_steps}",
                 f"--checkpoint_every_n={checkpoint_every(num_steps)}",
                 "--alsologtostderr"],
                log, "the OD API's training (model_main_tf2)", follow,
            )  # fmt: skip
        bar.update(num_steps - bar.n)
    steps = checkpoint_step(model_dir)
    if steps < num_steps:
        raise TLClassifierError(f"the training stopped at step {steps} of {num_steps} (its log: {log})", model_dir)
    exported = model_dir / "exported"
    with atomic_output(exported, overwrite=True) as tmp:
        _run_logged(
            [str(python), "-m", "object_detection.exporter_main_v2", "--input_type=image_tensor",
             f"--pipeline_config_path={pipeline.resolve()}", f"--trained_checkpoint_dir={model_dir.resolve()}",
             f"--output_directory={tmp.resolve()}"],
            log, "the OD API's export (exporter_main_v2)",
        )  # fmt: skip
    # the OD API's SavedModel (TensorFlow 2.13), loaded by the node's TensorFlow and re-exported for the node:
    # a frozen graph (which the TF2 exporter does not write) and a SavedModel with the OD API's tensor names
    tf = import_tensorflow()
    loaded = tf.saved_model.load(str(exported / "saved_model"))
    serve = loaded.signatures["serving_default"]

    def detect(image: Any) -> dict:
        out = serve(input_tensor=image)
        return {n: out[n] for n in OUTPUT_NAMES}

    info = {
        "kind": "odapi",
        "architecture": f"{meta_architecture(text)} ({feature_extractor_type(text)}), trained with the TF2 Object Detection API",
        "score_threshold": o.score_threshold,
        "training": {"pipeline": str(pipeline.resolve()), "num_steps": num_steps, "model_dir": str(model_dir.resolve())},
    }
    out = export_detector(detect, o.export_dir, label_map, trackable=loaded, overwrite=o.overwrite, info=info)
    (out / PIPELINE_CONFIG_NAME).write_text(text, encoding="utf-8")
    return RunResult(out, steps, time.monotonic() - started, start_step, loss[-1] if loss else None, info)
