"""The annotation readers on real exports: VoTT JSON, COCO JSON, labelImg folders with frames left unlabelled."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from defusedxml import ElementTree

from tl_classifier.commands.create_tf_record import main as create_tf_record
from tl_classifier.data.annotations import DatasetError, Problems, read_annotations, read_coco, read_vott, unlabelled_images
from tl_classifier.data.records import read_record, summary_path

MISTERMI = "mistermi87/rosbag_data"
VOTT = "dominikma/vott-json-export/SimData-export.json"
LABEL_MAP = "labelmaps/alex-lechner/data/udacity_label_map.pbtxt"


def quiet() -> Problems:
    return Problems(out=lambda _: None)


def test_vott_export_of_real_frames(realdata: Path):
    """dominikma's export: names with ':', half of the frames absent on purpose, 1-9 boxes each."""
    path = realdata / VOTT
    raw = json.loads(path.read_text())
    present = {a["asset"]["name"]: a for a in raw["assets"].values() if (path.parent / a["asset"]["name"]).is_file()}
    problems = quiet()
    examples = [e for e in read_vott(path, problems) if e.image.is_file()]
    assert len(examples) == len(present) == 480
    assert any(":" in e.image.name for e in examples)
    for e in examples[:50]:
        regions = present[e.image.name]["regions"]
        assert len(e.boxes) == len(regions)
        b, r = e.boxes[0], regions[0]["boundingBox"]
        assert (b.xmin, b.ymin, b.xmax - b.xmin, b.ymax - b.ymin) == (r["left"], r["top"], r["width"], r["height"])
        assert b.label == (regions[0]["tags"] or ["untagged"])[0]


def test_vott_through_create_tf_record(realdata: Path, tmp_path: Path, capsys):
    out = tmp_path / "d.record"
    args = [f"--data_dir={realdata / VOTT}", f"--output_path={out}", "--label_mapping=states", "--no_progress",
            f"--label_map_path={realdata / LABEL_MAP}"]  # fmt: skip
    assert create_tf_record(args) == 0
    summary = json.loads(summary_path(out).read_text())
    assert summary["images"] == 480 and summary["skipped"]["missing_image"] == 481
    assert sum(1 for _ in read_record([out])) == 480


def coco_from_xml(folder: Path, out: Path, images_dir: str = "") -> dict:
    """A COCO export written by the test from labelImg XML (what CVAT or Roboflow would export for those frames)."""
    cats: dict[str, int] = {}
    images, anns = [], []
    for i, xml in enumerate(sorted((folder / "annotations").glob("*.xml"))[:40]):
        root = ElementTree.parse(xml).getroot()
        name = root.findtext("filename")
        images.append({"id": i + 1, "file_name": name, "width": 800, "height": 600})
        for obj in root.iter("object"):
            label = obj.findtext("name")
            b = obj.find("bndbox")
            x0, y0, x1, y1 = (float(b.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax"))
            cats.setdefault(label, len(cats) + 1)
            anns.append({"id": len(anns) + 1, "image_id": i + 1, "category_id": cats[label], "bbox": [x0, y0, x1 - x0, y1 - y0]})
        (out / images_dir).mkdir(parents=True, exist_ok=True)
        shutil.copy(folder / "images" / name, out / images_dir / name)
    negative = next(p for p in unlabelled_images(folder, "labels"))
    shutil.copy(negative, out / images_dir / negative.name)
    images.append({"id": 999, "file_name": negative.name, "width": 800, "height": 600})
    data = {"images": images, "annotations": anns, "categories": [{"id": v, "name": k} for k, v in cats.items()]}
    (out / "coco.json").write_text(json.dumps(data))
    return data


@pytest.mark.parametrize("images_dir", ["", "images"])
def test_coco_export_matches_the_labelimg_xml_it_was_made_from(realdata: Path, tmp_path: Path, images_dir: str):
    data = coco_from_xml(realdata / MISTERMI, tmp_path, images_dir)
    examples = {e.image.name: e for e in read_coco(tmp_path / "coco.json", quiet())}
    xml = {e.image.name: e for e in read_annotations([realdata / MISTERMI], "labels", quiet())}
    assert len(examples) == len(data["images"])
    for name, e in examples.items():
        assert e.image.is_file()
        if name in xml:
            assert [(b.label, b.xmin, b.ymin, b.xmax, b.ymax) for b in e.boxes] == [
                (b.label, b.xmin, b.ymin, b.xmax, b.ymax) for b in xml[name].boxes
            ]
        else:
            assert e.boxes == []  # the image without annotations: a frame without a light
    assert sum(not e.boxes for e in examples.values()) == 1


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("not json {", "is not JSON"),
        ('{"images": "x"}', "neither a VoTT export"),
        ("[1, 2]", "neither a VoTT export"),
    ],
)
def test_a_json_that_is_no_export_is_one_line(tmp_path: Path, text: str, words: str, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(text)
    out = tmp_path / "o.record"
    assert create_tf_record([f"--data_dir={bad}", f"--output_path={out}", "--label_map_path=lm.pbtxt", "--no_progress"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(bad) in err[0] and words in err[0]
    assert not list(tmp_path.glob("o.record*"))


def test_bad_coco_entries_are_skipped_named_and_counted(realdata: Path, tmp_path: Path):
    data = coco_from_xml(realdata / MISTERMI, tmp_path)
    data["annotations"] += [
        {"id": 900, "image_id": 1, "category_id": 77, "bbox": [1, 2, 3, 4]},  # no such category
        {"id": 901, "image_id": 1, "category_id": 1, "bbox": "wide"},  # not a box
        {"id": 902, "image_id": 555, "category_id": 1, "bbox": [1, 2, 3, 4]},  # no such image
    ]
    data["images"] += [{"id": 1000, "file_name": "../../etc/passwd"}, {"id": 1001}]
    (tmp_path / "coco.json").write_text(json.dumps(data))
    lines: list[str] = []
    problems = Problems(out=lines.append)
    examples = read_coco(tmp_path / "coco.json", problems)
    assert problems.counts == {"malformed_annotation": 4, "outside_dataset": 1}
    assert len(lines) == 5 and all(str(tmp_path / "coco.json") in line for line in lines)
    assert len(examples) == 41
    with pytest.raises(DatasetError, match="not a COCO JSON export"):
        read_coco(tmp_path / "coco.json", problems, {"images": []})


def test_frames_no_xml_names_are_said_and_used_on_request(realdata: Path, tmp_path: Path):
    """mistermi87: 366 frames, 296 with XML; the other 70 are the car facing no light."""
    folder = realdata / MISTERMI
    images = list((folder / "images").glob("*.jpg"))
    xml_stems = {p.stem for p in (folder / "annotations").glob("*.xml")}
    bare = unlabelled_images(folder, "labels")
    assert {p.stem for p in bare} == {p.stem for p in images} - xml_stems and len(bare) == 70
    lines: list[str] = []
    left_out = list(read_annotations([folder], "labels", Problems(out=lines.append)))
    assert len(left_out) == 296 and all(e.image.is_file() for e in left_out)
    assert lines == [f"note: {folder}: 70 images have no annotation: left out (--include_unlabelled: frames without a light)"]
    out = tmp_path / "m.record"
    args = [f"--data_dir={folder}", f"--output_path={out}", "--include_unlabelled", "--no_progress",
            f"--label_map_path={realdata / LABEL_MAP}", "--label_mapping=states"]  # fmt: skip
    assert create_tf_record(args) == 0
    summary = json.loads(summary_path(out).read_text())
    assert summary["images"] == 366 and summary["images_without_boxes"] == 70
    assert summary["unlabelled_images"] == {"unlabelled_image_included": 70}
