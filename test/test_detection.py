"""Deciding a frame's state and the temporal filter's rules."""

import pytest

from tl_classifier.errors import ParameterError
from tl_classifier.model.detection import Detection, TemporalFilter, decide_state
from tl_classifier.params import Roi
from tl_classifier.states import State

R, Y, G, U, OFF = State.RED, State.YELLOW, State.GREEN, State.UNKNOWN, State.OFF


def det(state, score):
    return Detection(state, state.name, 1, score, 0, 0, 1, 1)


def test_decide_the_most_careful_state_wins_and_disagreement_lowers_confidence():
    # a confident RED anywhere beats a GREEN that scores higher (issue 12); the disagreement shows
    state, confidence = decide_state([det(G, 0.9), det(R, 0.6)], 0.5)
    assert state == R and confidence == pytest.approx(0.6 * 0.6 / 1.5)
    assert decide_state([det(G, 0.8), det(R, 0.8)], 0.5) == (R, pytest.approx(0.4))
    assert decide_state([det(Y, 0.7), det(G, 0.9)], 0.5)[0] == Y
    assert decide_state([det(OFF, 0.9), det(G, 0.8)], 0.5)[0] == G
    # lights that agree keep the best score; lights under the threshold and UNKNOWN ones do not count
    assert decide_state([det(R, 0.9), det(R, 0.7), det(G, 0.4)], 0.5) == (R, 0.9)
    assert decide_state([det(G, 0.9), det(U, 0.95)], 0.5) == (G, 0.9)
    assert decide_state([det(G, 0.4)], 0.5) == (U, 0.0)
    assert decide_state([], 0.5) == (U, 0.0)


def test_a_green_needs_more_than_the_threshold():
    """GREEN_MARGIN: a GREEN counts only at 1.5 times the threshold; a RED, YELLOW or OFF at the threshold."""
    assert decide_state([det(G, 0.14)], 0.1) == (U, 0.0)
    assert decide_state([det(G, 0.151)], 0.1) == (G, 0.151)
    assert decide_state([det(R, 0.1)], 0.1) == (R, 0.1)
    assert decide_state([det(OFF, 0.9), det(G, 0.6)], 0.5)[0] == OFF  # 0.6 < 0.75: the GREEN does not count


def test_a_far_intersection_beside_the_near_one_does_not_decide():
    """RELEVANT_HEIGHT: a light under half the tallest counted light's height does not count, whatever it scores
    (dominikma's far housings at the frame's bottom edge, read RED under three near GREEN lights)."""

    def light(state, score, height):
        return Detection(state, state.name, 1, score, 100, 500, 110, 500 + height)

    near = [light(G, 0.93, 70), light(G, 0.87, 72)]
    assert decide_state([*near, light(R, 0.40, 17)], 0.1)[0] == G
    assert decide_state([*near, light(R, 0.40, 36)], 0.1)[0] == R  # half the tallest: the same intersection, it counts
    # the far light decides where it is the only one, and a tall light that does not count (UNKNOWN, under the
    # threshold) does not make it small
    assert decide_state([light(R, 0.40, 17)], 0.1) == (R, 0.40)
    assert decide_state([light(U, 0.9, 70), light(G, 0.05, 70), light(R, 0.40, 17)], 0.1) == (R, 0.40)


def feed(f, states):
    return [f.update(s) for s in states]


def test_starts_unknown_and_needs_n_frames():
    f = TemporalFilter(3)
    assert f.state is U
    assert feed(f, [G, G, G, G]) == [U, U, G, G]


def test_red_is_taken_at_once_but_left_slowly():
    f = TemporalFilter(3, red_count_threshold=1)
    feed(f, [G, G, G])
    assert f.update(R) is R
    assert feed(f, [G, G, G]) == [R, R, G]


def test_unknown_needs_longer_to_replace_a_known_state():
    f = TemporalFilter(3, red_count_threshold=1, unknown_count_threshold=6)
    feed(f, [R])
    assert feed(f, [U] * 6) == [R, R, R, R, R, U]


def test_flicker_never_confirms():
    f = TemporalFilter(3, red_count_threshold=2)
    assert feed(f, [G, Y, G, Y, R, G, R, G]) == [U] * 8


def test_off_is_a_state_like_the_others():
    f = TemporalFilter(2)
    assert feed(f, [OFF, OFF]) == [U, OFF]


@pytest.mark.parametrize("bad", [0, -1, 1.5])
def test_bad_thresholds(bad):
    with pytest.raises(ParameterError):
        TemporalFilter(bad)


def feed_timed(f, states, rate_hz, start=0.0):
    return [f.update(s, start + i / rate_hz) for i, s in enumerate(states)]


def test_yellow_after_red_is_red():
    f = TemporalFilter(3)
    feed(f, [R])
    assert feed(f, [Y] * 5) == [R] * 5  # a pale red read as yellow never releases the car
    assert feed(f, [G, G, G]) == [R, R, G]  # a real green still does


def test_yellow_after_red_limit_yellow_after_green_is_yellow():
    f = TemporalFilter(3)
    feed(f, [G, G, G])
    assert feed(f, [Y, Y, Y]) == [G, G, Y]  # the normal cycle is untouched
    off = TemporalFilter(3, yellow_after_red=False)
    feed(off, [R])
    assert feed(off, [Y, Y, Y]) == [R, R, Y]  # and the rule can be switched off


@pytest.mark.parametrize("rate_hz", [5.0, 10.0, 30.0])
def test_unknown_hold_is_the_same_time_at_any_camera_rate(rate_hz):
    f = TemporalFilter(3, unknown_hold=1.5)
    feed_timed(f, [R], rate_hz)
    n = int(round(3 * rate_hz))  # three seconds without a light, from the next frame on
    out = feed_timed(f, [U] * n, rate_hz, start=1 / rate_hz)
    released = out.index(U)  # the first frame at or past 1.5 s after the first UNKNOWN frame
    assert 1.5 - 1e-9 <= released / rate_hz < 1.5 + 1 / rate_hz
    assert set(out[:released]) == {R}


def test_unknown_hold_limit_counts_are_shorter_at_high_rates_and_without_stamps():
    counted = TemporalFilter(3, unknown_count_threshold=6)
    feed_timed(counted, [R], 30.0)
    out = feed_timed(counted, [U] * 10, 30.0, start=1 / 30)
    assert out.index(U) == 5  # six frames: 0.2 s at 30 Hz (1.2 s at 5 Hz): what unknown_hold is for
    no_stamps = TemporalFilter(3, unknown_count_threshold=6, unknown_hold=1.5)
    feed(no_stamps, [R])
    assert feed(no_stamps, [U] * 6)[-1] is U  # without stamps the count rule stands in


def test_red_is_published_on_its_first_frame_at_any_rate():
    for rate_hz in (2.0, 10.0, 60.0):
        f = TemporalFilter(3)
        feed_timed(f, [G, G, G], rate_hz)
        assert f.update(R, 3 / rate_hz) is R


def test_state_timeout_forgets_an_old_state():
    f = TemporalFilter(3, state_timeout=1.0)
    feed_timed(f, [G, G, G], 10.0)
    assert f.state is G
    assert feed_timed(f, [G, G, G], 10.0, start=5.0) == [U, U, G]  # after 5 s without frames: seen again first


def test_state_timeout_limit_short_gaps_keep_the_state_and_zero_is_off():
    f = TemporalFilter(3, state_timeout=1.0)
    feed_timed(f, [G, G, G], 10.0)
    assert feed_timed(f, [G], 10.0, start=1.1) == [G]  # 0.9 s after the last frame: still current
    off = TemporalFilter(3)
    feed_timed(off, [G, G, G], 10.0)
    assert feed_timed(off, [G], 10.0, start=100.0) == [G]


@pytest.mark.parametrize("kw", [{"unknown_hold": -1.0}, {"state_timeout": -0.5}])
def test_bad_times(kw):
    with pytest.raises(ParameterError):
        TemporalFilter(3, **kw)


def test_region_of_interest_holds_a_box_by_its_centre():
    hood = Roi.parse("0, 0, 1, 0.65")
    assert (hood.x_min, hood.y_min, hood.x_max, hood.y_max) == (0, 0, 1, 0.65) and str(hood) == "0,0,1,0.65"
    assert Roi().whole and not hood.whole and Roi.parse("0,0,1,1") == Roi()
    light = Detection(R, "Red", 2, 0.9, 390, 100, 410, 150)  # centre y 125 of 600
    reflection = Detection(Y, "Yellow", 3, 0.9, 390, 480, 410, 520)  # centre y 500 of 600 (0.83)
    straddling = Detection(Y, "Yellow", 3, 0.9, 390, 360, 410, 420)  # centre y 390 = 0.65: on the edge, kept
    assert hood.contains(light, 800, 600) and not hood.contains(reflection, 800, 600)
    assert hood.contains(straddling, 800, 600) and not hood.contains(straddling, 800, 599)
    for bad in ("0,0,1", "1,0,0,1", "0,0,1,2", "x,0,1,1", ""):
        with pytest.raises(ParameterError, match="region of interest"):
            Roi.parse(bad)
