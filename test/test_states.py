"""States, label names from real label maps, and the styx mapping."""

from pathlib import Path

import pytest

from tl_classifier.data.label_map import load_label_map
from tl_classifier.states import State, state_from_label, to_styx


def test_zero_is_unknown_never_red():
    assert State(0) is State.UNKNOWN
    assert State.RED != 0


@pytest.mark.parametrize(
    ("label", "state"),
    [
        ("Red", State.RED),
        ("red", State.RED),
        ("RED", State.RED),
        ("R", State.RED),
        ("RedLeft", State.RED),
        ("RedStraightLeft", State.RED),
        ("Yellow", State.YELLOW),
        ("y", State.YELLOW),
        ("Green", State.GREEN),
        ("GreenStraightRight", State.GREEN),
        ("G", State.GREEN),
        ("off", State.OFF),
        ("Off", State.OFF),
        ("Unknown", State.UNKNOWN),
        ("traffic light", State.UNKNOWN),
        ("", State.UNKNOWN),
    ],
)
def test_state_from_label(label, state):
    assert state_from_label(label) is state


def test_every_real_label_map_maps_to_a_colour(realdata: Path):
    maps = [p for p in realdata.rglob("*.pbtxt") if "negative" not in p.parts]
    assert len(maps) >= 6
    for path in maps:
        lm = load_label_map(path)
        for class_id, name in lm.names.items():
            if name.lower() == "unknown" or "|" in name:
                assert lm.state(class_id) is State.UNKNOWN
            else:
                assert lm.state(class_id) is not State.UNKNOWN, (path, name)


def test_bosch_labels_map_to_their_colour(realdata: Path):
    lm = load_label_map(realdata / "bstld/tf_object_detection/label_maps/bstld_label_map.pbtxt")
    by_name = {n: lm.state(i) for i, n in lm.names.items()}
    assert by_name["Red"] is State.RED and by_name["Off"] is State.OFF


def test_styx_values():
    assert [to_styx(s) for s in (State.RED, State.YELLOW, State.GREEN, State.UNKNOWN, State.OFF)] == [0, 1, 2, 4, 4]
    with pytest.raises(ValueError):
        to_styx(9)
