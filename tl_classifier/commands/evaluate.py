"""``rosrun tl_classifier evaluate``: parse, call :func:`tl_classifier.evaluate.run.evaluate`, print a summary."""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Sequence
from pathlib import Path

from tl_classifier.commands import named, run_main
from tl_classifier.data.annotations import ANNOTATION_FORMATS
from tl_classifier.errors import ParameterError
from tl_classifier.evaluate.run import EvaluateOptions, evaluate, slug
from tl_classifier.params import Roi


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="evaluate", description="Detection and state metrics, speed and figures of one or more models, in one report."
    )
    p.add_argument(
        "--model",
        action="append",
        required=True,
        metavar="[NAME=]PATH",
        help="a model folder, frozen graph or SavedModel; repeat to compare (name: the folder's)",
    )
    p.add_argument("--label_map", help="label map of the models (default: label_map.pbtxt beside each model)")
    p.add_argument(
        "--data",
        action="append",
        required=True,
        metavar="[NAME=]PATH[,PATH...]",
        help=f"a TFRecord, annotations ({ANNOTATION_FORMATS}), or a folder of red/ yellow/ green/ unknown/ "
        "frames; repeat for several sets",
    )
    p.add_argument(
        "--group",
        action="append",
        default=[],
        metavar="NAME=SET[,SET...]",
        help="state metrics over several sets together, e.g. a recording or a domain (sim, car); repeat for several",
    )
    p.add_argument(
        "--include_unlabelled", action="store_true", help="images of labelImg folders without XML are frames without a light"
    )
    p.add_argument("--out", required=True, help="folder to write report.md, metrics.json and the PNG figures into")
    p.add_argument("--score_threshold", type=float, help="operating threshold for every model (default: each model's own)")
    p.add_argument(
        "--roi",
        default=str(Roi()),
        help="region of interest x_min,y_min,x_max,y_max in fractions of the frame: detections centred outside it "
        "are dropped, as the node's ~roi does (the car's hood: 0,0,1,0.65); default: the whole frame",
    )
    p.add_argument(
        "--no_lamp_proposals", action="store_true",
        help="lit lamps do not propose lights where a two-stage model's detector decides nothing (the node's "
        "~lamp_proposals false)",
    )  # fmt: skip
    p.add_argument(
        "--no_second_look", action="store_true",
        help="a two-stage model's second look (its networks on a larger input) does not run where its first look "
        "decides nothing (the node's ~second_look false)",
    )  # fmt: skip
    p.add_argument("--iou", type=float, default=0.5, help="IoU at which a detection finds a box (default: 0.5)")
    p.add_argument("--mistakes", type=int, default=6, help="frames in each strip of worst mistakes (default: 6)")
    p.add_argument("--device", default="auto", help="auto (a GPU if there is one), cpu, gpu or gpu:N (default: auto)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out folder")
    p.add_argument("--no_progress", action="store_true", help="no progress bar")
    return p


def options(argv: list[str]) -> EvaluateOptions:
    """The command line as :class:`EvaluateOptions`; models and sets are named after their folder unless named."""
    a = parser().parse_args(argv)
    models: dict[str, Path] = {}
    for spec in a.model:
        path = Path(named(spec, "")[1])
        name, _ = named(spec, slug(path.parent.name if path.suffix == ".pb" else path.name))
        if name in models:
            raise ParameterError(f"two models are named {name!r}; name them: --model NAME=PATH")
        models[name] = path
    data: dict[str, list[Path]] = {}
    for spec in a.data:
        paths = [Path(x) for x in named(spec, "")[1].split(",") if x]
        name, _ = named(spec, slug(paths[0].stem if paths else "data"))
        if name in data:
            raise ParameterError(f"two data sets are named {name!r}; name them: --data NAME=PATH")
        data[name] = paths
    groups: dict[str, list[str]] = {}
    for spec in a.group:
        name, members = named(spec, "")
        groups[name] = [x for x in members.split(",") if x]
    return EvaluateOptions(
        models=models,
        data=data,
        out=Path(a.out),
        groups=groups,
        label_map=Path(a.label_map) if a.label_map else None,
        include_unlabelled=a.include_unlabelled,
        score_threshold=a.score_threshold,
        roi=Roi.parse(a.roi),
        lamp_proposals=not a.no_lamp_proposals,
        second_look=not a.no_second_look,
        iou=a.iou,
        mistakes=a.mistakes,
        device=a.device,
        overwrite=a.overwrite,
        progress=not a.no_progress,
        command="evaluate " + shlex.join(argv),
    )


def _main(argv: list[str]) -> int:
    result = evaluate(options(argv))
    print("\n".join(result.summary()))
    print(f"report: {result.report} (metrics.json and figures beside it)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``rosrun tl_classifier evaluate --model MODEL [--model MODEL2 ...] --data DATA ... --out DIR``."""
    return run_main(_main, argv, "evaluate")
