"""Deciding a frame's state and the temporal filter's rules."""

import pytest

from tl_classifier.errors import ParameterError
from tl_classifier.model.detection import Detection, TemporalFilter, decide_state
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
    assert decide_state([det(OFF, 0.9), det(G, 0.6)], 0.5)[0] == G
    # lights that agree keep the best score; lights under the threshold and UNKNOWN ones do not count
    assert decide_state([det(R, 0.9), det(R, 0.7), det(G, 0.4)], 0.5) == (R, 0.9)
    assert decide_state([det(G, 0.9), det(U, 0.95)], 0.5) == (G, 0.9)
    assert decide_state([det(G, 0.4)], 0.5) == (U, 0.0)
    assert decide_state([], 0.5) == (U, 0.0)


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
