"""create_tf_record / inspect_record on the real label files, read back with tf.data; and every bad input."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from defusedxml import ElementTree

from tl_classifier.commands.create_tf_record import main as create_tf_record
from tl_classifier.commands.inspect_record import main as inspect_record
from tl_classifier.data.annotations import Example, split_examples
from tl_classifier.data.records import read_record, record_files

ROOT = Path(__file__).resolve().parent.parent


def create(*args: str | Path, expect: int = 0) -> None:
    assert create_tf_record([str(a) for a in args] + ["--no_progress"]) == expect


def records(path: Path) -> list[dict]:
    return list(read_record(record_files(path)))


@pytest.fixture(scope="module")
def racers(realdata: Path) -> Path:
    return realdata / "ros-racers/tl_classification/data"


def test_labelimg_xml_beside_images_every_feature(tmp_path: Path, racers: Path):
    out = tmp_path / "sim.record"
    create(f"--data_dir={racers / 'images_sim'}", f"--output_path={out}", f"--label_map_path={racers / 'label_map.pbtxt'}")
    got = {r["image/filename"].decode(): r for r in records(out)}
    xmls = sorted((racers / "images_sim").glob("*.xml.xml"))
    assert len(got) == len(xmls) == 57
    ids = {"red": 1, "yellow": 2, "green": 3}
    for xml in xmls:
        root = ElementTree.parse(xml).getroot()
        name = root.findtext("filename")
        r = got[name]
        data = (racers / "images_sim" / name).read_bytes()
        assert r["image/encoded"] == data, "JPEG must go in byte for byte"
        assert r["image/format"] == b"jpeg" and r["image/source_id"] == f"images_sim/{name}".encode()
        assert r["image/key/sha256"] == hashlib.sha256(data).hexdigest().encode()
        assert (r["image/width"], r["image/height"]) == (800, 600)
        objs = root.findall("object")
        assert [t.decode() for t in r["image/object/class/text"]] == [o.findtext("name") for o in objs]
        assert r["image/object/class/label"] == [ids[o.findtext("name")] for o in objs]
        for k, size in (("xmin", 800), ("xmax", 800), ("ymin", 600), ("ymax", 600)):
            expected = [float(o.findtext(f"bndbox/{k}")) / size for o in objs]
            np.testing.assert_allclose(r[f"image/object/bbox/{k}"], expected, rtol=1e-6)
    summary = json.loads((tmp_path / "sim.record.json").read_text())
    assert summary["images"] == 57 and summary["boxes_per_label"] == {"green": 49, "red": 81, "yellow": 24}
    assert summary["skipped"] == {}


def test_tutorial_layout_several_dirs_and_new_label_map(tmp_path: Path):
    dirs = []
    for colour in ("green", "red", "yellow"):
        d = tmp_path / colour
        cmd = [
            str(ROOT / "scripts/synthesize"),
            str(d),
            "--count",
            "4",
            "--states",
            colour,
            "--voc",
            "--seed",
            colour[0].__hash__().__abs__().__str__()[:3],
        ]
        assert subprocess.run(cmd, capture_output=True).returncode == 0
        (d / "labels").mkdir()
        for xml in d.glob("*.xml"):
            xml.rename(d / "labels" / xml.name)
        dirs.append(str(d))
    out, lm = tmp_path / "out.record", tmp_path / "label_map.pbtxt"
    create(f"--data_dir={','.join(dirs)}", "--annotations_dir=labels", f"--output_path={out}", f"--label_map_path={lm}")
    assert lm.read_text().count("item") == 3 and "name: 'Green'" in lm.read_text().split("item")[1]  # tutorial order, ids from 1
    got = records(out)
    assert len(got) == 12
    assert {t.decode() for r in got for t in r["image/object/class/text"]} == {"Green", "Red", "Yellow"}


@pytest.fixture
def bosch(tmp_path: Path, realdata: Path) -> Path:
    """The first 40 entries of the real Bosch train.yaml, with the PNG images they name made here."""
    entries = yaml.safe_load((realdata / "bstld/label_files/train.yaml").read_text())[:40]
    root = tmp_path / "bosch"
    sample = cv2.resize(cv2.imread(str(realdata / "bstld/images/dataset_sample.jpg")), (1280, 720))
    for e in entries:
        png = root / e["path"]
        png.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(png), sample)
    (root / "train.yaml").write_text(yaml.safe_dump(entries))
    return root / "train.yaml"


def test_bosch_yaml_png_to_jpeg_with_state_mapping(tmp_path: Path, bosch: Path):
    out, lm = tmp_path / "bosch.record", tmp_path / "lm.pbtxt"
    create(f"--data_dir={bosch}", f"--output_path={out}", f"--label_map_path={lm}", "--label_mapping=states", "--jpeg_quality=90")
    entries = yaml.safe_load(bosch.read_text())
    got = records(out)
    assert len(got) == 40
    labels = {t.decode() for r in got for t in r["image/object/class/text"]}
    assert labels <= {"Green", "Red", "Yellow", "off"} and "Red" in labels
    raw = {b["label"] for e in entries for b in e["boxes"]}
    assert any(lbl.startswith("Red") and lbl != "Red" for lbl in raw), "the sample has arrow labels"
    r = got[0]
    assert r["image/format"] == b"jpeg" and r["image/encoded"][:2] == b"\xff\xd8"
    assert cv2.imdecode(np.frombuffer(r["image/encoded"], np.uint8), 1).shape == (720, 1280, 3)
    summary = json.loads((tmp_path / "bosch.record.json").read_text())
    assert summary["converted_to_jpeg"] == 40
    png_bytes = sum((bosch.parent / e["path"]).stat().st_size for e in entries)
    assert summary["bytes_of_images"] < png_bytes / 3
    assert summary["images_without_boxes"] == sum(1 for e in entries if not e["boxes"])
    assert summary["boxes_under_20px_wide"] > 0


def test_sloth_yaml_counts_missing_images(tmp_path: Path, realdata: Path):
    yml = realdata / "alexvogel/data_raw/sim_training_data/sim_data_annotations.yaml"
    lm = realdata / "labelmaps/alex-lechner/data/udacity_label_map.pbtxt"
    out = tmp_path / "sim.record"
    create(f"--data_dir={yml}", f"--output_path={out}", f"--label_map_path={lm}")
    got = records(out)
    assert len(got) == 3 and all(r["image/object/class/label"] for r in got)
    summary = json.loads((tmp_path / "sim.record.json").read_text())
    assert summary["skipped"]["missing_image"] == len(yaml.safe_load(yml.read_text())) - 3


def test_split_is_stratified_reproducible_and_sharded(tmp_path: Path, racers: Path):
    args = [f"--data_dir={racers / 'images_sim'},{racers / 'images_real'}", f"--label_map_path={racers / 'label_map.pbtxt'}"]
    for run in ("a", "b"):
        create(*args, f"--output_path={tmp_path / run / 'tl.record'}", "--split=train=0.8,val=0.1,test=0.1", "--shards=2")
    names = {}
    for split in ("train", "val", "test"):
        files = sorted(p.name for p in (tmp_path / "a").glob(f"tl_{split}.record-*"))
        assert files == [f"tl_{split}.record-00000-of-00002", f"tl_{split}.record-00001-of-00002"]
        names[split] = sorted(r["image/source_id"] for r in records(tmp_path / "a" / f"tl_{split}.record"))
        assert names[split] == sorted(r["image/source_id"] for r in records(tmp_path / "b" / f"tl_{split}.record"))
    assert sum(map(len, names.values())) == 181 == len(set().union(*names.values()))  # each image once, ids unique
    assert abs(len(names["train"]) / 181 - 0.8) < 0.03


def test_split_keeps_each_state_in_proportion():
    from tl_classifier.data.annotations import Box

    ex = [Example(Path(f"{s}{i}.jpg"), [Box(s, 0, 0, 1, 1)], Path("x")) for s in ("Red", "Green") for i in range(50)]
    parts = split_examples(ex, {"train": 0.8, "val": 0.2}, seed=3)
    for s in ("Red", "Green"):
        assert sum(e.boxes[0].label == s for e in parts["val"]) == 10
    assert split_examples(ex, {"train": 0.8, "val": 0.2}, seed=3)["val"] == parts["val"]
    assert split_examples(ex, {"train": 0.8, "val": 0.2}, seed=4)["val"] != parts["val"]


# --- bad input ------------------------------------------------------------------------

GOOD = """<annotation><filename>{img}</filename><size><width>80</width><height>64</height><depth>3</depth></size>
<object><name>{label}</name><bndbox><xmin>{x0}</xmin><ymin>5</ymin><xmax>{x1}</xmax><ymax>30</ymax></bndbox></object></annotation>"""


@pytest.fixture
def bad_set(tmp_path: Path) -> Path:
    d = tmp_path / "set"
    (d / "labels").mkdir(parents=True)
    img = np.full((64, 80, 3), 90, np.uint8)
    for i in range(3):
        cv2.imwrite(str(d / f"ok{i}.jpg"), img)
    cases = {
        "ok0": GOOD.format(img="ok0.jpg", label="Red", x0=10, x1=20),
        "outside": GOOD.format(img="ok1.jpg", label="Red", x0=70, x1=120),
        "zero": GOOD.format(img="ok2.jpg", label="Red", x0=20, x1=20),
        "unknown": GOOD.format(img="ok2.jpg", label="Blue", x0=10, x1=20),
        "missing": GOOD.format(img="nope.jpg", label="Red", x0=10, x1=20),
        "garbage": GOOD.format(img="garbage.jpg", label="Red", x0=10, x1=20),
        "cut": GOOD.format(img="cut.jpg", label="Red", x0=10, x1=20),
        "malformed": "<annotation><filename>ok0.jpg</filename><object>",
        "entity": '<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><annotation><filename>&x;</filename></annotation>',
        "escape": GOOD.format(img="../../etc/passwd.jpg", label="Red", x0=10, x1=20),
    }
    (d / "garbage.jpg").write_bytes(b"this is not a jpeg")
    (d / "cut.jpg").write_bytes((d / "ok0.jpg").read_bytes()[:300])
    for name, text in cases.items():
        (d / "labels" / f"{name}.xml").write_text(text)
    (d / "lm.pbtxt").write_text("item { id: 1 name: 'Red' }\n")
    return d


def test_every_bad_input_is_skipped_named_and_counted(tmp_path: Path, bad_set: Path, capsys):
    out = tmp_path / "o.record"
    create(f"--data_dir={bad_set}", f"--output_path={out}", f"--label_map_path={bad_set / 'lm.pbtxt'}")
    err = capsys.readouterr().err
    summary = json.loads((tmp_path / "o.record.json").read_text())
    assert summary["skipped"] == {
        "bad_box": 2, "unknown_label": 1, "missing_image": 1, "undecodable_image": 2,
        "malformed_annotation": 1 + 1, "outside_dataset": 1,
    }  # fmt: skip
    for name, words in {
        "outside": "lies outside the 80x64 image", "zero": "has no area", "unknown": "'Blue' is not in the label map",
        "missing": "does not exist", "garbage": "not an image", "cut": "cut off", "malformed": "malformed XML",
        "entity": "DTD or entity is refused", "escape": "points outside the dataset folder",
    }.items():  # fmt: skip
        lines = [line for line in err.splitlines() if f"{name}.xml" in line]
        assert len(lines) == 1 and words in lines[0], (name, err)
    got = records(out)
    assert sorted(r["image/filename"] for r in got) == [b"ok0.jpg", b"ok1.jpg", b"ok2.jpg", b"ok2.jpg"]
    assert "root:" not in json.dumps(summary)


def test_strict_stops_and_leaves_nothing(tmp_path: Path, bad_set: Path, capsys):
    out = tmp_path / "o.record"
    create(f"--data_dir={bad_set}", f"--output_path={out}", f"--label_map_path={bad_set / 'lm.pbtxt'}", "--strict", expect=1)
    assert "--strict" in capsys.readouterr().err
    assert list(tmp_path.glob("o.record*")) == [] and not list(tmp_path.glob(".o.record*"))


def test_existing_output_is_kept(tmp_path: Path, racers: Path, capsys):
    out = tmp_path / "o.record"
    out.write_bytes(b"precious")
    args = [f"--data_dir={racers / 'images_sim'}", f"--output_path={out}", f"--label_map_path={racers / 'label_map.pbtxt'}"]
    create(*args, expect=1)
    assert out.read_bytes() == b"precious" and "--overwrite" in capsys.readouterr().err
    create(*args, "--overwrite")
    assert len(records(out)) == 57


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("images: [a, b]\n", "not a list of images"),
        ("just text\n", "not a list of images"),
        ("- !!python/object/apply:os.system ['echo pwned']\n", "not safe, plain YAML"),
        ("- {boxes: [], path: /etc/passwd}\n", None),
        ("- {boxes: [], path: ../../outside.png}\n", None),
    ],
)
def test_bad_yaml(tmp_path: Path, text: str, words: str | None, capsys):
    yml = tmp_path / "data.yaml"
    yml.write_text(text)
    create(f"--data_dir={yml}", f"--output_path={tmp_path / 'o.record'}", f"--label_map_path={tmp_path / 'lm.pbtxt'}", expect=1)
    err = capsys.readouterr().err
    if words:
        assert err.count("\n") == 1 and str(yml) in err and words in err, err
    else:
        assert "points outside the dataset folder" in err and err.strip().splitlines()[-1].startswith("create_tf_record: error:")
    assert not (tmp_path / "o.record").exists()


def test_inspect_record_summary_and_drawings(tmp_path: Path, racers: Path, capsys):
    out = tmp_path / "r.record"
    create(f"--data_dir={racers / 'images_real_val'}", f"--output_path={out}", f"--label_map_path={racers / 'label_map.pbtxt'}")
    capsys.readouterr()
    assert inspect_record([str(out), "--draw", "2", "--out", str(tmp_path / "png"), "--json"]) == 0
    printed = capsys.readouterr().out
    summary = json.loads(printed[: printed.index("drawn:")])
    assert summary["images"] == 32 and summary["image_sizes"] == {"800x600": 32}
    pngs = sorted((tmp_path / "png").glob("*.png"))
    assert len(pngs) == 2 and cv2.imread(str(pngs[0])).shape == (600, 800, 3)
    shutil.copy(racers / "label_map.pbtxt", tmp_path / "not.record")
    assert inspect_record([str(tmp_path / "not.record")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not.record" in err
