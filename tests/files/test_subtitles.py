"""Subtitles from hand-made timelines: formats a player accepts, times the timeline set.

Pure and fast. The stamps are parsed back and compared with the cues they came from, so
a rounding or ordering slip shows as a wrong time, not only as a wrong string.
"""

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voice_coach.core.timeline import Cue, Timeline, build_timeline
from voice_coach.files.loader import load_protocol
from voice_coach.files.subtitles import MIN_ON_SCREEN_S, subtitles, to_srt, to_vtt

SRT_STAMP = re.compile(
    r"^(\d\d):([0-5]\d):([0-5]\d),(\d{3}) --> (\d\d):([0-5]\d):([0-5]\d),(\d{3})$"
)
VTT_STAMP = re.compile(
    r"^(\d\d):([0-5]\d):([0-5]\d)\.(\d{3}) --> (\d\d):([0-5]\d):([0-5]\d)\.(\d{3})$"
)


def say(at_s: float, text: str, duration_s: float = 0.5, onset_s: float = 0.0) -> Cue:
    return Cue(at_s, "say", text, None, "squeeze", 1, 1, "phase", duration_s, onset_s)


def tone(at_s: float, name: str = "squeeze") -> Cue:
    return Cue(at_s, "tone", None, name, "squeeze", 1, 1, "phase", 0.15)


def timeline(*cues: Cue, duration_s: float = 60.0) -> Timeline:
    return Timeline("hand-made", tuple(cues), (), duration_s, 1, 1)


def millis(match: re.Match[str], first: int) -> int:
    h, m, s, ms = (int(match.group(first + i)) for i in range(4))
    return ((h * 60 + m) * 60 + s) * 1000 + ms


def parse_srt(text: str) -> list[tuple[int, int, str]]:
    """Strictly: numbered from 1, one stamp line, one text line, blank-line separated."""
    if text == "":
        return []
    assert text.endswith("\n") and not text.endswith("\n\n\n")
    entries = []
    for number, block in enumerate(text.rstrip("\n").split("\n\n"), start=1):
        index, stamp, words = block.split("\n")
        assert index == str(number)
        match = SRT_STAMP.match(stamp)
        assert match, stamp
        entries.append((millis(match, 1), millis(match, 5), words))
    return entries


def parse_vtt(text: str) -> list[tuple[int, int, str]]:
    assert text.startswith("WEBVTT\n\n")
    body = text.removeprefix("WEBVTT\n\n").rstrip("\n")
    entries = []
    for block in body.split("\n\n") if body else []:
        stamp, words = block.split("\n")
        match = VTT_STAMP.match(stamp)
        assert match, stamp
        entries.append((millis(match, 1), millis(match, 5), words))
    return entries


def test_each_spoken_cue_is_a_subtitle_at_its_time_and_tones_are_not():
    session = timeline(
        tone(1.0), say(1.15, "Squeeze", 0.9), tone(4.0, "relax"), say(4.2, "And relax", 1.2)
    )
    assert parse_srt(to_srt(session)) == [
        (1150, 2050, "Squeeze"),
        (4200, 5400, "And relax"),
    ]
    assert parse_vtt(to_vtt(session)) == parse_srt(to_srt(session))


def test_a_word_shows_from_when_it_is_heard_until_it_ends():
    # "Squeeze" starts at 5.833 s with a soft hiss and is heard on the beat at 6.0; a
    # long phrase heard late stays to its last sample, a short one 0.8 s from its beat.
    session = timeline(say(5.833, "Squeeze", 1.5, 0.167), say(8.9, "two", 0.3, 0.1))
    assert parse_srt(to_srt(session)) == [(6000, 7333, "Squeeze"), (9000, 9800, "two")]


def test_a_short_word_stays_long_enough_to_read_but_never_past_the_next():
    session = timeline(say(2.0, "two", 0.3), say(10.0, "three", 0.3), say(10.5, "four", 0.3))
    (two, three, four) = parse_srt(to_srt(session))
    assert two[1] - two[0] == round(MIN_ON_SCREEN_S * 1000)
    assert three[1] == four[0] == 10_500  # cut at the next start, not 0.8 s
    assert four[1] == 11_300


def test_an_overlapping_phrase_ends_where_the_next_begins():
    session = timeline(say(1.0, "A long instruction", 5.0), say(3.0, "Squeeze", 0.5))
    assert [(s, e) for s, e, _ in parse_srt(to_srt(session))] == [(1000, 3000), (3000, 3800)]


def test_words_at_the_same_time_share_one_subtitle():
    session = timeline(say(5.0, "Set 2", 0.6), say(5.0, "of 3", 1.1), say(7.0, "Go", 0.4))
    assert parse_srt(to_srt(session)) == [(5000, 6100, "Set 2 of 3"), (7000, 7800, "Go")]


def test_the_last_subtitle_ends_with_the_session():
    session = timeline(say(59.7, "Well done", 1.5), duration_s=60.0)
    assert parse_srt(to_srt(session)) == [(59_700, 60_000, "Well done")]


def test_text_is_one_line_and_stamps_count_hours():
    session = timeline(say(3725.5, "Squeeze,\n   and\thold  ", 1.0), duration_s=4000.0)
    srt = to_srt(session)
    assert srt == "1\n01:02:05,500 --> 01:02:06,500\nSqueeze, and hold\n"
    assert to_vtt(session) == "WEBVTT\n\n01:02:05.500 --> 01:02:06.500\nSqueeze, and hold\n"


def test_vtt_keeps_markup_as_words():
    session = timeline(say(1.0, "<b>Rest</b> & breathe --> slowly", 1.0))
    (entry,) = parse_vtt(to_vtt(session))
    assert entry[2] == "&lt;b&gt;Rest&lt;/b&gt; &amp; breathe --&gt; slowly"
    assert to_vtt(session).count("-->") == 1
    assert parse_srt(to_srt(session))[0][2] == "<b>Rest</b> & breathe --> slowly"


def test_a_session_without_words_has_empty_but_valid_files():
    session = timeline(tone(1.0), tone(4.0, "relax"), say(6.0, "   ", 0.2))
    assert to_srt(session) == ""
    assert to_vtt(session) == "WEBVTT\n\n"


def test_subtitles_picks_the_kind_and_refuses_others():
    session = timeline(say(1.0, "Squeeze"))
    assert subtitles(session, "srt") == to_srt(session)
    assert subtitles(session, "vtt") == to_vtt(session)
    with pytest.raises(ValueError, match="ass"):
        subtitles(session, "ass")


@pytest.mark.parametrize("style", ["both", "voice"])
def test_a_built_in_session_has_a_subtitle_for_every_spoken_cue_on_its_beat(style):
    protocol = load_protocol("glute-squeeze-sets")
    words = {cue.text: 0.6 for cue in build_timeline(protocol).cues if cue.text}
    onsets = {text: 0.05 + 0.01 * len(text) % 0.2 for text in words}
    session = build_timeline(protocol, words, {}, style, onsets)
    spoken = [cue for cue in session.cues if cue.kind == "say"]
    starts = sorted({round(cue.beat_s * 1000) for cue in spoken})
    counts = [cue for cue in spoken if cue.role == "count"]
    assert {round(cue.beat_s * 1000) % 1000 for cue in counts} == {0}, "counts on whole seconds"
    entries = parse_srt(to_srt(session))
    assert [start for start, _, _ in entries] == starts
    assert entries[-1][1] <= round(session.duration_s * 1000)


cue_lists = st.lists(
    st.tuples(
        st.floats(0, 7200, allow_nan=False),
        st.sampled_from(["say", "tone"]),
        st.text(min_size=0, max_size=30),
        st.floats(0, 10, allow_nan=False),
        st.floats(0, 0.3, allow_nan=False),
    ),
    max_size=40,
)


@given(cue_lists, st.floats(0, 8000, allow_nan=False))
def test_any_timeline_gives_ordered_non_overlapping_subtitles(raw, duration_s):
    cues = [
        say(at, text, length, onset) if kind == "say" else tone(at)
        for at, kind, text, length, onset in sorted(raw, key=lambda r: r[0])
    ]
    session = timeline(*cues, duration_s=duration_s)
    entries = parse_srt(to_srt(session))
    assert parse_vtt(to_vtt(session)) == [
        (s, e, w.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))
        for s, e, w in entries
    ]
    spoken = sorted(
        {round(c.beat_s * 1000) for c in cues if c.kind == "say" and c.text and c.text.strip()}
    )
    assert [start for start, _, _ in entries] == spoken
    for start, end, words in entries:
        assert start < end and "\n" not in words and words == words.strip() and words
    for (_, end, _), (following, _, _) in itertools.pairwise(entries):
        assert end <= following
