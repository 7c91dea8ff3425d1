"""Node parameters: defaults, types and ranges, checked without a ROS master."""

import pytest

from tl_classifier.errors import ParameterError
from tl_classifier.params import NodeParams


def read(**given):
    return NodeParams.read(lambda name, default: given.get(name.lstrip("~"), default))


def test_defaults():
    p = read(model="m.pb")
    assert (p.camera_topic, p.state_count_threshold, p.red_count_threshold, p.device) == ("/image_color", 3, 1, "auto")
    assert p.buff_size >= 1 << 24


@pytest.mark.parametrize(
    ("given", "name"),
    [
        ({"model": ""}, "~model"),
        ({"score_threshold": 1.5}, "~score_threshold"),
        ({"score_threshold": -0.5}, "~score_threshold"),
        ({"score_threshold": "high"}, "~score_threshold"),
        ({"state_count_threshold": 0}, "~state_count_threshold"),
        ({"state_count_threshold": 2.5}, "~state_count_threshold"),
        ({"state_count_threshold": True}, "~state_count_threshold"),
        ({"device": "tpu"}, "device"),
        ({"gpu_memory_limit": -1}, "~gpu_memory_limit"),
        ({"buff_size": 65536}, "~buff_size"),
        ({"warmup_width": 4}, "~warmup_width"),
        ({"roi": "0,0,1"}, "~roi"),
        ({"roi": "0,0.7,1,0.6"}, "~roi"),
        ({"roi": "0,0,1,1.5"}, "~roi"),
        ({"roi": "left,top,right,bottom"}, "~roi"),
    ],
)
def test_invalid(given, name):
    with pytest.raises(ParameterError, match=name):
        read(**{"model": "m.pb", **given})


def test_numbers_from_launch_strings_and_ints_for_floats():
    p = read(model="m", score_threshold=1, state_count_threshold=4.0, max_frame_age=" 0.5 ")
    assert p.score_threshold == 1.0 and p.state_count_threshold == 4 and p.max_frame_age == 0.5


def test_roi_from_a_launch_string():
    assert read(model="m", roi=" 0, 0, 1, 0.65").roi == " 0, 0, 1, 0.65" and read(model="m").roi == "0,0,1,1"


def test_sizes_are_two_positive_numbers_and_a_bad_one_names_its_option():
    from tl_classifier.params import parse_size

    assert parse_size("640x480", "--second_look") == (640, 480) and parse_size("800X600", "--size") == (800, 600)
    for bad in ("640", "640x", "axb", "640x480x3", "0x480", "-640x480"):
        with pytest.raises(ParameterError, match=r"^--size: "):
            parse_size(bad, "--size")
