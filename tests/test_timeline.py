"""The timeline: every cue's time from a protocol, a pace and the clip lengths."""

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voice_coach.errors import UsageError
from voice_coach.loader import load_protocol
from voice_coach.protocol import Pace, apply_pace, in_language, parse_pace_factor
from voice_coach.timeline import (
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
        played("glute-squeeze-sets", factor=parse_pace_factor("slow")),
    )
    assert slow.rep_s == pytest.approx(1.5 * normal.rep_s)
    assert slow.rest_s == pytest.approx(1.5 * normal.rest_s) and slow.lead_in_s == pytest.approx(
        1.5 * normal.lead_in_s
    )
    fast = played(factor=parse_pace_factor("fast"))
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
    with pytest.raises(UsageError, match="--pace"):
        parse_pace_factor(bad)


def test_pace_errors_name_the_option():
    with pytest.raises(UsageError, match="no phase 'hold'"):
        played(phase_s={"hold": 3})
    with pytest.raises(UsageError, match="--reps"):
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
