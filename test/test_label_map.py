"""Label maps: the real ones parse, broken ones give one clear error naming the file."""

from pathlib import Path

import pytest

from tl_classifier.data.label_map import LabelMap, load_label_map, parse_label_map, write_label_map
from tl_classifier.errors import LabelMapError, OutputExistsError


def test_tutorial_label_map(realdata: Path):
    lm = load_label_map(realdata / "labelmaps/alex-lechner/data/udacity_label_map.pbtxt")
    assert dict(lm.names) == {1: "Green", 2: "Red", 3: "Yellow", 4: "off"}
    assert lm.name(9) == "class_9"


def test_rtf_saved_as_pbtxt_is_named(realdata: Path):
    path = realdata / "negative/abhisheksreesaila-rtf-as-pbtxt/ros/src/tl_detector/light_classification/model/label_map.pbtxt"
    with pytest.raises(LabelMapError) as err:
        load_label_map(path)
    assert str(path) in str(err.value) and "RTF" in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("item { id: 0 name: 'Red' }", "below 1"),
        ("item { name: 'Red' }", "lacks"),
        ("item { id: 1 name: 'Red' ", "not a label map"),
        ("", "no item"),
    ],
)
def test_bad_label_maps(text, why):
    with pytest.raises(LabelMapError, match=why):
        parse_label_map(text, "x.pbtxt")


def test_unknown_fields_are_accepted():
    lm = parse_label_map("item { id: 2 name: 'Red' display_name: 'red light' frequency: FREQUENT }")
    assert dict(lm.names) == {2: "Red"}


def test_write_round_trip_and_no_overwrite(tmp_path: Path):
    lm = LabelMap.from_labels(["Green", "Red", "Yellow", "off", "Red"])
    out = tmp_path / "label_map.pbtxt"
    write_label_map(lm, out)
    assert load_label_map(out) == lm
    with pytest.raises(OutputExistsError):
        write_label_map(lm, out)
    write_label_map(LabelMap.from_labels(["a"]), out, overwrite=True)
    assert dict(load_label_map(out).names) == {1: "a"}
    assert [p.name for p in tmp_path.iterdir()] == ["label_map.pbtxt"]


def test_missing_file(tmp_path: Path):
    with pytest.raises(LabelMapError, match="no such file"):
        load_label_map(tmp_path / "nope.pbtxt")


def test_an_id_named_twice_keeps_both_names(realdata: Path):
    lm = load_label_map(realdata / "bstld/tf_object_detection/label_maps/bstld_label_map_no_classes.pbtxt")
    assert dict(lm.names) == {1: "Off|Green|Yellow|Red"}
    assert lm.state(1).name == "UNKNOWN"
    assert parse_label_map("item { id: 1 name: 'RedLeft' } item { id: 1 name: 'Red' }").state(1).name == "RED"
