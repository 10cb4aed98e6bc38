"""The renderer: each cue's first audible sample at round(at_s * rate), streamed or read."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from onsets import find_onsets

from voice_coach.audio.tones import load_tones, make_tone
from voice_coach.core.clip import Clip
from voice_coach.core.render import render, resample
from voice_coach.core.timeline import Cue, Span, Timeline


def tone_timeline(times: list[float], duration_s: float) -> Timeline:
    cues = tuple(Cue(t, "tone", None, "squeeze", "p", None, None, "phase", 0.22) for t in times)
    span = Span(0.0, duration_s, "phase", "p", None, None)
    return Timeline("t", cues, (span,), duration_s, 1, 1)


TONES = load_tones(22050, ["squeeze"])  # trimmed: audible from the first sample


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
def test_every_cue_starts_at_its_exact_sample(rate):
    times = [0.0, 0.5004, 1.2345678, 2.0, 3.333333]
    session = render(tone_timeline(times, 4.0), {}, TONES, rate)
    samples = session.read(0, session.total_frames)
    assert find_onsets(samples, rate, floor=1e-4) == [round(t * rate) for t in times]


def test_blocks_stream_the_same_samples_as_one_read():
    session = render(tone_timeline([0.1, 0.9, 1.7], 2.5), {}, TONES, 22050)
    whole = session.read(0, session.total_frames)
    for block in (1, 97, 4096, 10**6):
        streamed = np.concatenate(list(session.blocks(block)))
        np.testing.assert_array_equal(streamed, whole)


def test_random_access_read_matches_the_whole():
    session = render(tone_timeline([0.1, 0.15, 0.9], 1.5), {}, TONES, 22050)
    whole = session.read(0, session.total_frames)
    rng = np.random.default_rng(1)
    for _ in range(50):
        start = int(rng.integers(0, session.total_frames))
        frames = int(rng.integers(1, 5000))
        part = session.read(start, frames)
        expected = np.zeros(frames, np.float32)
        available = whole[start : start + frames]
        expected[: len(available)] = available
        np.testing.assert_array_equal(part, expected)


def test_overlapping_clips_mix_and_stay_within_full_scale():
    loud = Clip(np.full(1000, 0.8, np.float32), 22050)
    timeline = tone_timeline([0.0, 0.01], 0.2)
    session = render(timeline, {}, {"squeeze": loud}, 22050)
    samples = session.read(0, session.total_frames)
    assert samples.max() == pytest.approx(1.0)
    assert samples[300] == pytest.approx(1.0) and samples[100] == pytest.approx(0.8)


def test_sounding_until_is_the_end_of_the_clip_that_sounds():
    session = render(tone_timeline([1.0], 2.0), {}, TONES, 22050)
    start, length = 22050, len(session.placements[0].samples)
    assert session.sounding_until(start + 10) == start + length
    assert session.sounding_until(start - 10) == start - 10
    assert session.sounding_until(start + length + 5) == start + length + 5


def test_speech_volume_scales_only_speech():
    timeline = Timeline(
        "t",
        (
            Cue(0.0, "say", "hi", None, "p", None, None, "phase", 0.1),
            Cue(0.5, "tone", None, "squeeze", "p", None, None, "phase", 0.22),
        ),
        (Span(0.0, 1.0, "phase", "p", None, None),),
        1.0,
        1,
        1,
    )
    word = Clip(np.full(2205, 0.4, np.float32), 22050)
    full = render(timeline, {"hi": word}, TONES, 22050, 1.0).read(0, 22050)
    half = render(timeline, {"hi": word}, TONES, 22050, 0.5).read(0, 22050)
    np.testing.assert_allclose(half[:2205], full[:2205] * 0.5)
    np.testing.assert_array_equal(half[11025:], full[11025:])


def test_resample_keeps_the_onset_in_time():
    clip = make_tone("relax", 22050)
    padded = Clip(np.concatenate([np.zeros(2205, np.float32), clip.samples]), 22050)
    before_s = find_onsets(padded.samples, 22050)[0] / 22050
    up = resample(padded, 48000)
    assert up.sample_rate == 48000
    after_s = find_onsets(up.samples, 48000)[0] / 48000
    assert abs(after_s - before_s) < 0.0002


@given(
    st.lists(
        st.tuples(st.integers(0, 3000), st.integers(1, 400)),  # (start sample, clip length)
        max_size=12,
    )
)
@settings(max_examples=200, deadline=None)
def test_sounding_stretches_hold_every_audible_sample_and_only_those(clips):
    """What an export skips as silence must be silence: outside the stretches every
    sample reads as exactly zero, and each stretch starts and ends on a clip's edge."""
    rate = 1000
    cues = tuple(
        Cue(start / rate, "tone", None, f"t{i}", "p", None, None, "phase", 0.0)
        for i, (start, _) in enumerate(clips)
    )
    tones = {
        f"t{i}": Clip(np.full(length, 0.25, np.float32), rate)
        for i, (_, length) in enumerate(clips)
    }
    timeline = Timeline("t", cues, (), 3.5, 1, 1)
    session = render(timeline, {}, tones, rate)
    stretches = list(session.sounding())
    audible = np.zeros(session.total_frames, bool)
    for start, length in clips:
        audible[start : start + length] = True
    covered = np.zeros(session.total_frames, bool)
    for (start, end), after in zip(stretches, [*stretches[1:], None], strict=False):
        assert start < end and (after is None or end < after[0])  # sorted, apart, merged
        covered[start:end] = True
    np.testing.assert_array_equal(covered, audible)
    whole = session.read(0, session.total_frames)
    assert not whole[~covered].any()


@given(
    st.lists(
        st.tuples(st.integers(0, 3000), st.sampled_from(["a", "b", "c"])),  # (start, clip)
        min_size=1,
        max_size=12,
    ),
    # a few block lengths, so blocks of one length often fall in the same clip at different places
    st.lists(
        st.tuples(st.integers(0, 3500), st.sampled_from([1, 20, 37, 150, 600])),
        min_size=2,
        max_size=40,
    ),
)
@settings(max_examples=200, deadline=None)
def test_blocks_with_one_content_key_read_the_same_samples(cues, blocks):
    """An export converts a block once per content key: any two blocks with equal keys
    must read equal samples, however clips repeat and overlap."""
    rate = 1000
    rng = np.random.default_rng(7)
    tones = {
        name: Clip(rng.uniform(-0.6, 0.6, length).astype(np.float32), rate)
        for name, length in (("a", 150), ("b", 40), ("c", 400))
    }
    timeline = Timeline(
        "t",
        tuple(Cue(at / rate, "tone", None, name, "p", None, None, "p", 0.0) for at, name in cues),
        (),
        3.6,
        1,
        1,
    )
    session = render(timeline, {}, tones, rate)
    keys = [session.content_key(start, frames) for start, frames in blocks]
    # Only examples where a key repeats test anything: the others are discarded, so
    # every example that counts compares two blocks.
    assume(len(set(keys)) < len(keys))
    seen: dict[tuple[object, ...], np.ndarray] = {}
    compared = 0
    for (start, frames), key in zip(blocks, keys, strict=True):
        samples = session.read(start, frames)
        if key in seen:
            np.testing.assert_array_equal(samples, seen[key])
            compared += 1
        seen[key] = samples
    assert compared > 0


def test_the_same_clip_at_different_places_has_one_content_key():
    """What makes the reuse worth having: every cue of one clip is one key."""
    session = render(tone_timeline([0.1, 0.9, 1.7], 2.5), {}, TONES, 22050)
    length = len(session.placements[0].samples)
    keys = {session.content_key(start, length) for start in session.starts}
    assert len(keys) == 1
    assert session.content_key(session.starts[0], length - 1) not in keys
    first, second = session.starts[:2]  # the clip 5 and 6 samples into a block
    assert session.content_key(first - 5, length + 10) != session.content_key(
        second - 6, length + 10
    )


def test_different_clips_in_the_same_place_have_different_content_keys():
    rate = 1000
    tones = {
        "low": Clip(np.full(100, 0.25, np.float32), rate),
        "high": Clip(np.full(100, 0.5, np.float32), rate),
    }
    cues = tuple(
        Cue(at, "tone", None, name, "p", None, None, "p", 0.1)
        for at, name in ((0.5, "low"), (1.5, "high"))
    )
    session = render(Timeline("t", cues, (), 2.0, 1, 1), {}, tones, rate)
    assert session.content_key(500, 100) != session.content_key(1500, 100)
