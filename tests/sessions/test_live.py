"""The live loop's keys, played through the real PulseAudio null sink.

The keyboard is the one fake here (there is no person to press keys in CI): a key
reader that "presses" keys once the session has been heard to reach their times.
Everything else is real: the rendered session, the player, the device, and the
recording the checks are made on.
"""

import itertools
import threading
import time

import numpy as np
import pytest
from isolation import copy_warm
from onsets import find_onsets
from pulse import HeardKeys, Tap, record_while

from voice_coach.core.protocol import Pace
from voice_coach.live import LiveState, play_live
from voice_coach.session import SessionOptions, prepare_session
from voice_coach.userdirs import CACHE_DIR_ENV

RATE = 44100


# espeak-ng: the onset detector reads its words exactly (see tests/files/test_export.py).
@pytest.fixture(scope="module")
def session(tmp_path_factory, warmed_cache):
    with pytest.MonkeyPatch.context() as patch:
        cache = copy_warm(warmed_cache, tmp_path_factory.mktemp("cache"))
        patch.setenv(CACHE_DIR_ENV, str(cache))
        prepared = prepare_session(
            "glute-squeeze", SessionOptions(pace=Pace(reps=3), engine="espeak-ng")
        )
    return prepared.render(RATE)


# How far a gap between onsets heard through the sink may be from the timeline's: the
# live drift test (tests/sessions/test_run_live.py) finds every cue of a minute-long session
# within 0.2 ms of a straight line; 5 ms leaves room for the onset detector on speech.
GAP_TOLERANCE_S = 0.005


def gaps_s(onsets: list[int], rate: int) -> list[float]:
    return [(b - a) / rate for a, b in itertools.pairwise(onsets)]


@pytest.mark.pulse
def test_pause_finishes_the_word_holds_silence_and_resumes_at_the_phase(pulse_server, session):
    # Rep 1's squeeze runs 6-9 s ("two" at 7 s); pause at 7.4 s, resume 2.5 s later,
    # quit 2.2 s after that.
    result = {}

    def play(tap: Tap) -> None:
        keys = HeardKeys(tap, [(7.4, " "), (9.9, " "), (12.1, "q")])
        result["live"] = play_live(session, backend="sounddevice", display_mode="quiet", keys=keys)

    samples, rate = record_while(play, pulse_server, tap=True)
    assert result["live"].quit and not result["live"].interrupted
    found = find_onsets(samples, rate)
    # The opening words pause at their commas; the reps start 6 s after the first sound.
    onsets = [o for o in found if o - found[0] >= round(5.9 * rate)]
    assert (onsets[0] - found[0]) / rate == pytest.approx(6.0, abs=0.01)
    gaps = gaps_s(onsets, rate)
    # squeeze (6 s) -> "two" (heard at 7 s) -> pause -> the squeeze phase again from its
    # start: tone+word, "two", "three", relax, on the beats -> the end, on q. Each word
    # starts its onset before its beat, so the first samples are that much closer.
    tone, _, two, three = [c.at_s for c in session.timeline.cues if c.rep == 1][:4]
    assert gaps[0] == pytest.approx(two - tone, abs=GAP_TOLERANCE_S), gaps
    paused = gaps[1]
    assert 2.0 <= paused <= 3.5, gaps
    assert gaps[2:4] == pytest.approx([two - tone, three - two], abs=GAP_TOLERANCE_S), gaps
    # What resumed is the phase's start, the tone and "Squeeze" (about 0.7 s), not the
    # count that was due ("three", about 0.3 s): up to where "two" starts, ahead of its beat.
    resumed = samples[onsets[2] : onsets[2] + round((two - tone - 0.01) * rate)]
    squeeze = [c for c in session.timeline.cues if c.rep == 1 and c.role == "phase"][:2]
    expected_s = squeeze[1].at_s + squeeze[1].duration_s - squeeze[0].at_s
    heard_s = np.flatnonzero(np.abs(resumed) > 1e-3)[-1] / rate
    assert heard_s == pytest.approx(expected_s, abs=0.03)
    # The pause fell silent only after "two" was finished: its whole length was heard.
    two_at = onsets[1]
    quiet = np.flatnonzero(np.abs(samples[two_at : two_at + rate]) > 1e-3)
    two_length = session.timeline.cues[4].duration_s
    assert session.timeline.cues[4].text == "two"
    assert quiet[-1] / rate == pytest.approx(two_length, abs=0.02)


@pytest.mark.pulse
def test_skip_goes_to_the_end_of_a_one_set_session_and_plays_it(pulse_server, session):
    result = {}

    def play(tap: Tap) -> None:
        keys = HeardKeys(tap, [(7.5, "n")])
        result["live"] = play_live(session, backend="sounddevice", display_mode="quiet", keys=keys)

    samples, rate = record_while(play, pulse_server, tap=True)
    onsets = find_onsets(samples, rate)
    assert result["live"].finished
    heard_s = (onsets[-1] - onsets[0]) / rate
    assert heard_s < 11.0, "the reps after the skip were not played"
    end = next(c for c in session.timeline.cues if c.role == "end")
    tail = samples[onsets[-1] : onsets[-1] + round(end.duration_s * rate)]
    assert np.max(np.abs(tail)) > 0.1, "the closing chime was heard"


@pytest.mark.pulse
def test_another_thread_reads_what_is_heard_up_to_and_after_the_device_closing(
    pulse_server, session
):
    """Other sound's ducking and the media keys read what the user hears from threads of
    their own, and may as the session ends: never from a closed device (which raised
    in the ducking's thread and printed a traceback after the session)."""
    state = LiveState()
    problems: list[Exception] = []
    done = threading.Event()
    result = {}

    def read_all_along() -> None:
        while not done.is_set():
            try:
                state.heard_s()
            except Exception as exc:  # what the test is looking for
                problems.append(exc)
                return
            time.sleep(0.0005)

    reader = threading.Thread(target=read_all_along)

    def play(tap: Tap) -> None:
        keys = HeardKeys(tap, [(1.0, "q")])
        reader.start()
        try:
            result["live"] = play_live(
                session, backend="sounddevice", display_mode="quiet", keys=keys, state=state
            )
            result["after"] = state.heard_s()
        finally:
            done.set()
            reader.join()

    record_while(play, pulse_server, tap=True)
    assert not problems, problems
    assert result["live"].quit
    assert result["after"] == session.timeline.duration_s
