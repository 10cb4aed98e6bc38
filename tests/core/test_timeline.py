"""The timeline: every cue's time from a protocol, a pace and the clip lengths."""

import itertools
import math
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voice_coach.core.protocol import Pace, apply_pace, in_language, pace_factor
from voice_coach.core.timeline import (
    END_PAD_S,
    REMARK_GAP_S,
    build_timeline,
    end_start_s,
    find_overlaps,
    session_texts,
    skip_target_s,
    span_at,
    timeline_to_json,
)
from voice_coach.errors import FieldError, UsageError
from voice_coach.files.loader import load_protocol

TONES = {"start": 0.3, "squeeze": 0.2, "relax": 0.25, "set_start": 0.2, "set_end": 0.25, "end": 0.5}


def speech(protocol, length: float = 0.5) -> dict[str, float]:
    return {text: length for text in session_texts(protocol)}


def played(name: str = "glute-squeeze", **pace) -> object:
    return apply_pace(load_protocol(name), Pace(**pace))


def test_reps_start_at_lead_in_plus_whole_reps():
    p = played()
    timeline = build_timeline(p, speech(p), TONES)
    squeezes = [c for c in timeline.cues if c.kind == "tone" and c.tone == "squeeze"]
    assert [c.at_s for c in squeezes] == [p.lead_in_s + k * p.rep_s for k in range(p.reps)]
    assert [c.rep for c in squeezes] == list(range(1, p.reps + 1))


@pytest.mark.parametrize("style", ["both", "voice", "tones"])
def test_words_follow_their_tone_by_style(style):
    p = played()
    timeline = build_timeline(p, speech(p), TONES, style)
    first = [c for c in timeline.cues if c.rep == 1 and c.phase == "squeeze" and c.role == "phase"]
    if style == "both":
        assert [(c.kind, c.at_s) for c in first] == [("tone", 6.0), ("say", 6.2)]
    elif style == "voice":
        assert [(c.kind, c.at_s) for c in first] == [("say", 6.0)]
    else:
        assert [(c.kind, c.at_s) for c in first] == [("tone", 6.0)]
        assert all(c.kind == "tone" for c in timeline.cues)


def test_counts_up_and_down_each_second():
    p = played(hold_s=4)
    up = build_timeline(p, speech(p), TONES)
    counts = [(c.at_s - 6.0, c.text) for c in up.cues if c.role == "count" and c.rep == 1]
    assert counts == [(1.0, "two"), (2.0, "three"), (3.0, "four")]
    from dataclasses import replace

    down = replace(p, phases=(replace(p.phases[0], count="down"), p.phases[1]))
    counts = [
        (c.at_s - 6.0, c.text)
        for c in build_timeline(down, speech(down)).cues
        if c.role == "count" and c.rep == 1
    ]
    assert counts == [(1.0, "three"), (2.0, "two"), (3.0, "one")]


def test_halfway_and_last_rep_remarks_follow_the_relax_words():
    p = played()
    timeline = build_timeline(p, speech(p, 0.6), TONES)
    remarks = {c.role: c for c in timeline.cues if c.role in ("halfway", "last_rep")}
    assert remarks["halfway"].rep == 5 and remarks["last_rep"].rep == 9
    for cue in remarks.values():
        relax_start = p.lead_in_s + (cue.rep - 1) * p.rep_s + p.phases[0].seconds
        assert cue.at_s == pytest.approx(relax_start + TONES["relax"] + 0.6 + REMARK_GAP_S)


def test_sets_have_intros_rests_and_countdowns():
    p = played("glute-squeeze-sets")
    timeline = build_timeline(p, speech(p), TONES)
    intros = [c for c in timeline.cues if c.role == "set" and c.kind == "say"]
    assert [c.text for c in intros] == ["Set 1 of 3.", "Set 2 of 3.", "Set 3 of 3."]
    rests = [s for s in timeline.spans if s.kind == "rest"]
    assert len(rests) == 2 and all(s.end_s - s.start_s == p.rest_s for s in rests)
    for rest in rests:
        countdown = [
            c
            for c in timeline.cues
            if c.role == "countdown" and rest.start_s <= c.at_s < rest.end_s
        ]
        assert [(round(rest.end_s - c.at_s, 6), c.text) for c in countdown] == [
            (3, "three"),
            (2, "two"),
            (1, "one"),
        ]
    set_two = next(s for s in timeline.spans if s.kind == "set" and s.set == 2)
    assert set_two.start_s == pytest.approx(
        p.lead_in_s + p.set_intro_s + p.reps * p.rep_s + p.rest_s
    )


def test_pace_factor_stretches_phases_rest_and_lead_in():
    normal, slow = (
        played("glute-squeeze-sets"),
        played("glute-squeeze-sets", factor=pace_factor("slow")),
    )
    assert slow.rep_s == pytest.approx(1.5 * normal.rep_s)
    assert slow.rest_s == pytest.approx(1.5 * normal.rest_s) and slow.lead_in_s == pytest.approx(
        1.5 * normal.lead_in_s
    )
    fast = played(factor=pace_factor("fast"))
    assert fast.phases[0].seconds == pytest.approx(0.75 * 3)


def test_spans_tile_the_session_and_the_end_waits_for_its_words():
    p = played("glute-squeeze-sets", reps=3)
    timeline = build_timeline(p, speech(p, 0.7), TONES)
    spans = timeline.spans
    assert spans[0].start_s == 0.0
    assert all(a.end_s == pytest.approx(b.start_s) for a, b in itertools.pairwise(spans))
    end_words = next(c for c in timeline.cues if c.role == "end" and c.kind == "say")
    assert timeline.duration_s == pytest.approx(end_words.at_s + 0.7 + END_PAD_S)
    assert spans[-1].end_s == pytest.approx(timeline.duration_s)
    times = [c.at_s for c in timeline.cues]
    assert times == sorted(times)


def test_overlaps_are_found_only_where_words_run_over():
    p = played()
    assert find_overlaps(build_timeline(p, speech(p, 0.5), TONES)) == []
    overlaps = find_overlaps(build_timeline(p, speech(p, 1.2), TONES))
    assert overlaps and all(o.needs_s > o.has_s for o in overlaps)
    assert {o.next_cue.role for o in overlaps} >= {"count"}


def test_json_contract():
    p = played()
    data = timeline_to_json(build_timeline(p, speech(p), TONES))
    assert data["protocol"] == "glute-squeeze" and isinstance(data["duration_s"], float)
    for cue in data["cues"]:
        assert {"at_s", "kind", "text", "phase", "rep", "set"} <= set(cue)
        assert cue["kind"] in ("say", "tone") and isinstance(cue["at_s"], float)
        assert (cue["text"] is None) == (cue["kind"] == "tone")


def test_navigation_spans_for_pause_skip_and_quit():
    p = played("glute-squeeze-sets", reps=2)
    timeline = build_timeline(p, speech(p), TONES)
    inside = p.lead_in_s + p.set_intro_s + 1.0
    assert span_at(timeline, inside).phase == "squeeze" and span_at(timeline, inside).rep == 1
    rest = next(s for s in timeline.spans if s.kind == "rest")
    assert skip_target_s(timeline, inside) == rest.start_s
    assert end_start_s(timeline) == timeline.spans[-1].start_s


def test_languages_replace_the_words():
    german = apply_pace(in_language(load_protocol(None), "de-DE"), Pace())
    texts = session_texts(german)
    assert "Anspannen" in texts and "zwei" in texts and "Squeeze" not in texts
    with pytest.raises(UsageError, match="no words for language 'xx'"):
        in_language(load_protocol(None), "xx")


@pytest.mark.parametrize("bad", ["0", "-1", "nan", "inf", "quick", "100"])
def test_bad_pace_values(bad):
    with pytest.raises(FieldError, match=r"^pace: ") as caught:
        pace_factor(bad)
    assert caught.value.field == "pace"


def test_pace_errors_name_the_field_not_a_flag():
    with pytest.raises(FieldError, match="no phase 'hold'"):
        played(phase_s={"hold": 3})
    with pytest.raises(FieldError, match=r"^reps: must be from 1 to 1000, got 0$"):
        played(reps=0)
    with pytest.raises(UsageError, match="hours"):
        played(reps=1000, sets=100)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    reps=st.integers(1, 30),
    sets=st.integers(1, 4),
    hold=st.floats(0.5, 10),
    relax=st.floats(0.5, 10),
    rest=st.floats(0, 60),
    words=st.floats(0, 3),
    style=st.sampled_from(["both", "voice", "tones"]),
)
def test_any_valid_pace_gives_an_ordered_finite_timeline(
    reps, sets, hold, relax, rest, words, style
):
    p = played("glute-squeeze-sets", reps=reps, sets=sets, hold_s=hold, relax_s=relax, rest_s=rest)
    timeline = build_timeline(p, speech(p, words), TONES, style)
    times = [c.at_s for c in timeline.cues]
    assert times == sorted(times)
    assert all(math.isfinite(t) and 0 <= t <= timeline.duration_s for t in times)
    planned = p.lead_in_s + sets * (p.reps * p.rep_s) + (sets - 1) * p.rest_s
    assert timeline.duration_s >= planned


# --- every word on its beat ------------------------------------------------------------


def onsets(protocol, style="both") -> dict[str, float]:
    """A different onset for each text (50 to 170 ms), so a word placed by another
    word's onset, or by none, shows."""
    return {text: 0.05 + 0.02 * (len(text) % 7) for text in session_texts(protocol, style)}


def on_beat(cue, timeline, onset) -> None:
    """Heard on a whole second (every beat of these protocols is one), so it starts its
    onset before it."""
    assert cue.beat_s == pytest.approx(round(cue.beat_s), abs=1e-9), cue
    assert cue.at_s == pytest.approx(round(cue.beat_s) - onset, abs=1e-9), cue


def after_tone(cue, timeline, onset) -> None:
    """Right after the tone that marks its beat, heard its onset later."""
    tone = max((c for c in timeline.cues if c.kind == "tone" and c.role == cue.role
                and c.phase == cue.phase and c.rep == cue.rep and c.set == cue.set
                and c.at_s < cue.at_s), key=lambda c: c.at_s)  # fmt: skip
    assert cue.at_s == pytest.approx(tone.at_s + TONES[tone.tone], abs=1e-9), cue
    assert cue.beat_s == pytest.approx(cue.at_s + onset, abs=1e-9)
    assert tone.beat_s == tone.at_s == round(tone.at_s)


def opening(cue, timeline, onset) -> None:
    """The opening words start the session; they are no beat to be pulled ahead of."""
    assert cue.at_s == 0.0 and cue.beat_s == pytest.approx(onset)


def chained(cue, timeline, onset) -> None:
    """A remark follows the words before it by REMARK_GAP_S, wherever those were placed."""
    before = max((c for c in timeline.cues if c.kind == "say" and c.at_s < cue.at_s),
                 key=lambda c: c.at_s)  # fmt: skip
    assert cue.at_s == pytest.approx(before.at_s + before.duration_s + REMARK_GAP_S)
    assert cue.beat_s == pytest.approx(cue.at_s + onset, abs=1e-9)


PLACEMENT = [
    ("both", "count", on_beat),
    ("voice", "count", on_beat),
    ("both", "countdown", on_beat),
    ("voice", "countdown", on_beat),
    ("both", "phase", after_tone),
    ("voice", "phase", on_beat),
    ("both", "set", after_tone),
    ("voice", "set", on_beat),
    ("both", "rest", after_tone),
    ("voice", "rest", on_beat),
    ("both", "end", after_tone),
    ("voice", "end", on_beat),
    ("both", "start", after_tone),
    ("voice", "start", opening),
    ("both", "halfway", chained),
    ("voice", "halfway", chained),
    ("both", "last_rep", chained),
    ("voice", "last_rep", chained),
]


@pytest.mark.parametrize(("style", "role", "rule"), PLACEMENT)
def test_each_word_is_placed_by_its_role_and_style(style, role, rule):
    p = played("glute-squeeze-sets")
    heard = onsets(p, style)
    timeline = build_timeline(p, speech(p, 0.4), TONES, style, heard)
    cues = [c for c in timeline.cues if c.kind == "say" and c.role == role]
    assert cues, role
    for cue in cues:
        assert cue.onset_s == heard[cue.text]
        rule(cue, timeline, heard[cue.text])
    assert find_overlaps(timeline) == []


def test_a_phase_without_a_tone_has_its_words_on_the_beat_even_with_tones_on():
    p = played()
    quiet_relax = replace(p, phases=(p.phases[0], replace(p.phases[1], tone=None)))
    heard = onsets(quiet_relax)
    timeline = build_timeline(quiet_relax, speech(quiet_relax), TONES, "both", heard)
    relax = [c for c in timeline.cues if c.role == "phase" and c.phase == "relax"]
    assert relax and all(c.kind == "say" for c in relax)
    for cue in relax:
        on_beat(cue, timeline, heard["And relax"])


def test_tones_alone_are_heard_on_their_first_sample():
    p = played()
    timeline = build_timeline(p, speech(p), TONES, "tones", onsets(p))
    assert all(c.kind == "tone" and c.beat_s == c.at_s == round(c.at_s) for c in timeline.cues)


def timeline_cue(protocol, text):
    return next(c for c in build_timeline(protocol).cues if c.text == text)


def test_the_lead_in_grows_to_fit_the_opening_and_the_first_word_pulled_ahead():
    p = played()  # a 6 s lead-in
    opening = session_texts(p)[0]
    assert timeline_cue(p, opening).role == "start"
    words = speech(p, 0.4) | {opening: 6.0}
    heard = onsets(p) | {"Squeeze": 0.2}
    timeline = build_timeline(p, words, TONES, "voice", heard)
    first = next(c for c in timeline.cues if c.text == "Squeeze")
    assert first.at_s == pytest.approx(6.0) and first.beat_s == pytest.approx(6.2)
    assert timeline.spans[0].kind == "lead-in" and timeline.spans[0].end_s == first.at_s
    assert find_overlaps(timeline) == []
    fits = build_timeline(p, words | {opening: 5.0}, TONES, "voice", heard)
    assert next(c for c in fits.cues if c.text == "Squeeze").beat_s == 6.0


def test_a_first_set_and_a_session_without_lead_in_start_no_earlier_than_zero():
    sets = played("glute-squeeze-sets", lead_in_s=0.0)
    sets = replace(sets, cues=replace(sets.cues, start=None))
    timeline = build_timeline(sets, speech(sets), TONES, "voice", onsets(sets, "voice"))
    assert timeline.cues[0].role == "set" and timeline.cues[0].at_s == 0.0
    assert timeline.spans[0].kind == "set" and timeline.spans[0].start_s == 0.0
    assert all(c.at_s >= 0 for c in timeline.cues)


def test_spans_start_where_their_first_sound_starts():
    p = played("glute-squeeze-sets", reps=2)
    heard = onsets(p, "voice")
    timeline = build_timeline(p, speech(p), TONES, "voice", heard)
    assert all(a.end_s == b.start_s for a, b in itertools.pairwise(timeline.spans))
    for span in timeline.spans[1:]:
        beat = math.ceil(span.start_s)  # every beat here is a whole second
        opening = [c.at_s for c in timeline.cues if c.beat_s == pytest.approx(beat)]
        assert opening and span.start_s == min(opening) < beat, span  # all of the word
    squeeze = next(c for c in timeline.cues if c.text == "Squeeze")
    assert span_at(timeline, squeeze.at_s).phase == "squeeze"
    rest_words = next(c for c in timeline.cues if c.role == "rest")
    assert skip_target_s(timeline, squeeze.at_s) == rest_words.at_s
    end_words = next(c for c in timeline.cues if c.role == "end")
    assert end_start_s(timeline) == end_words.at_s


def test_a_count_pulled_into_the_words_before_it_is_an_overlap():
    p = played()
    words = speech(p, 0.4) | {"Squeeze": 0.75}  # after its 0.2 s tone: ends 0.95 s in
    assert find_overlaps(build_timeline(p, words, TONES, "both")) == []
    overlaps = find_overlaps(build_timeline(p, words, TONES, "both", {"two": 0.1}))
    assert overlaps and {(o.cue.text, o.next_cue.text) for o in overlaps} == {("Squeeze", "two")}
    assert all(o.has_s == pytest.approx(0.7) and o.needs_s == 0.75 for o in overlaps)


def test_a_word_pulled_into_a_tone_before_it_is_an_overlap():
    p = played()
    silent_squeeze = replace(p, phases=(replace(p.phases[0], say=None), p.phases[1]))
    long_tone = TONES | {"squeeze": 0.95}
    timeline = build_timeline(silent_squeeze, speech(p), long_tone, "both", {"two": 0.1})
    overlaps = find_overlaps(timeline)
    assert overlaps and all(o.cue.tone == "squeeze" and o.next_cue.text == "two" for o in overlaps)
    from voice_coach.session import overlap_error

    message = overlap_error(overlaps[0], len(overlaps)).one_line()
    assert "the squeeze tone at 0:06.0" in message and "--rate" in message


def test_json_gives_when_each_cue_is_heard():
    p = played()
    heard = onsets(p)
    data = timeline_to_json(build_timeline(p, speech(p), TONES, "both", heard))
    for cue in data["cues"]:
        assert isinstance(cue["beat_s"], float)
        onset = heard[cue["text"]] if cue["kind"] == "say" else 0.0
        assert cue["beat_s"] == pytest.approx(cue["at_s"] + onset, abs=2e-6)
    counts = [c for c in data["cues"] if c["role"] == "count"]
    assert counts and all(c["beat_s"] == round(c["beat_s"]) for c in counts)
