"""Programs: the file format, the built-in, and the rules that move a user between stages."""

import itertools
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from voice_coach.cli import main
from voice_coach.coach.log import LogEntry, SessionShape
from voice_coach.coach.programs import (
    PainRules,
    builtin_program_names,
    load_program,
    next_session,
    stage_state,
)
from voice_coach.core.protocol import apply_pace
from voice_coach.errors import ProtocolError
from voice_coach.files.loader import load_protocol

ROOT = Path(__file__).resolve().parents[2]
TZ = timezone(timedelta(hours=1))
THREE_STAGES = """
name = "three"
description = "Three stages."
sessions_per_day = 2

[[stages]]
protocol = "glute-squeeze"
reps = 5
advance = { sessions = 3, days = 2 }
step_back = { pain_rise = 2 }

[[stages]]
protocol = "glute-squeeze"
reps = 7
advance = { sessions = 3, days = 2 }
step_back = { pain_rise = 2 }

[[stages]]
protocol = "glute-squeeze"
reps = 10
step_back = { pain_rise = 2 }
"""


@pytest.fixture
def three(tmp_path):
    path = tmp_path / "three.toml"
    path.write_text(THREE_STAGES, encoding="utf-8")
    return load_program(path)


COUNTER = itertools.count(1)


def entry(day: int, ended: str = "completed", pain: int | None = None, program="three"):
    n = next(COUNTER)
    started = datetime(2026, 11, day, 9, 0, tzinfo=TZ) + timedelta(minutes=n)
    return LogEntry(
        id=n,
        started_at=started,
        ended_at=started,
        shape=SessionShape("glute-squeeze", 5, program=program),
        reps_done=5,
        skipped=0,
        ended=ended,
        pain=pain,
    )


def done(*days: int, pain: int | None = None) -> list[LogEntry]:
    return [entry(day, pain=pain) for day in days]


def rated(day: int, *pains: int) -> list[LogEntry]:
    return [entry(day, pain=pain) for pain in pains]


# (what happened, stage it puts the user in (from 1), words the reason must hold)
RULES = [
    ("nothing yet", [], 1, "no sessions"),
    ("two of three done", done(1, 2), 1, "2 of 3 completed sessions, on 2 of 2 days"),
    ("enough sessions, one day", done(1, 1, 1), 1, "3 of 3 completed sessions, on 1 of 2 days"),
    ("advance", done(1, 1, 2), 2, "moved on after 3 completed sessions on 2 days"),
    ("quit sessions do not count", [entry(d, "quit") for d in (1, 2, 3)], 1, "0 of 3"),
    ("interrupted and unfinished neither",
     [entry(1, "interrupted"), entry(2, "unfinished"), entry(3, "interrupted")], 1, "0 of 3"),
    ("logged sessions count", [entry(d, "logged") for d in (1, 2, 3)], 2, "moved on"),
    ("two advances", done(1, 1, 2, 3, 3, 4), 3, "the last stage"),
    ("the last stage holds", done(*range(1, 20)), 3, "the last stage"),
    ("counts start afresh in a new stage", done(1, 1, 2, 3), 2, "1 of 3 completed"),
    ("unrated sessions move up on the count alone", done(1, 1, 2, 3, 3, 4), 3, "moved on"),
    # Pain (0, no pain, to 10, the worst imaginable) and progression.
    ("constant pain of 8 never moves up", done(*range(1, 15), pain=8), 1, "a rating of 8"),
    ("constant pain of 6 never moves up", done(*range(1, 15), pain=6), 1,
     "held at stage 1: the last rating, 6, is above 5"),
    ("constant 4 moves up on the usual count", done(1, 1, 2, 3, 3, 4, pain=4), 3, "moved on"),
    ("ratings of 0-3 move up on the usual count", done(1, 1, 2, pain=3), 2, "moved on"),
    ("zero moves up", done(1, 1, 2, pain=0), 2, "moved on"),
    ("in a stage begun at 4, 2 then 5 steps back",
     [*done(1, 1, 2, pain=4), *rated(3, 2, 5)], 1, "pain rose from 2 to 5 on 2026-11-03"),
    ("2, 3, 4, 5 steps back at the 5",
     [*done(1, 1, 2), *rated(3, 2, 3, 4)], 2, "held at stage 2: the last rating, 4, is above 3"),
    ("... at the 5",
     [*done(1, 1, 2), *rated(3, 2, 3, 4, 5)], 1, "pain rose from 2 to 5"),
    ("1 then 3 does not step back", [*done(1, 1, 2), *rated(3, 1, 3)], 2, "2 of 3"),
    ("a 7 after low ratings steps back",
     [*done(1, 1, 2, pain=1), entry(3, pain=7)], 1, "a rating of 7 on 2026-11-03: back one"),
    ("a 7 at the first stage starts it again",
     [*done(1, 2, pain=2), entry(3, pain=7)], 1, "this stage starts again; 0 of 3"),
    ("a worse rating than where the stage began holds it",
     [*done(1, 1, 2, pain=2), *done(3, 3, 4, pain=4)], 2,
     "held at stage 2: the last rating, 4, is above 3"),
    ("stable moderate pain does not hold forever",
     [*done(1, 1, 2, pain=5), *done(3, 3, 4, pain=5)], 3, "moved on"),
    ("a rise blocks the advance it would have made",
     [*done(1, 1, pain=2), entry(2, pain=5)], 1, "this stage starts again"),
    ("after a step back, unrated sessions do not carry a hurting user up",
     [*done(1, 1, 2), entry(3, pain=8), *done(4, 4, 5)], 1, "the last rating, 8, is above 5"),
    ("after a step back, a lower rating lets the count move up",
     [*done(1, 1, 2), entry(3, pain=8), *done(4, 4, 5, pain=4)], 2, "moved on"),
    ("three 7s within 14 days hold and name a clinician",
     [entry(1, pain=7), entry(5, pain=7), *done(9, 10, 11), entry(14, pain=7), *done(15, 16)],
     1, "see a clinician"),
    ("three 7s over more than 14 days do not",
     [entry(1, pain=7), entry(10, pain=7), *done(11, 12), entry(15, pain=7), *done(16, 17)],
     1, "the last rating, 7, is above 5"),
    ("the clinician hold ends with a lower rating",
     [entry(1, pain=7), entry(5, pain=7), entry(9, pain=7), *done(10, 11, 12, pain=3)],
     2, "moved on"),
]  # fmt: skip


@pytest.mark.parametrize(("label", "entries", "stage", "why"), RULES, ids=[r[0] for r in RULES])
def test_program_rules(three, label, entries, stage, why):
    state = stage_state(three, entries)
    assert state.stage + 1 == stage, (label, state)
    assert why in state.why, (label, state.why)


STRICT = """
[pain]
move_up_at_most = 2
move_up_floor = 0
stop_at = 5
rise_from = 3
rise_by = 1
clinician_days = 1
clinician_window_days = 28
"""


def test_a_program_file_with_stricter_pain_rules(tmp_path, capsys):
    path = tmp_path / "strict.toml"
    path.write_text(THREE_STAGES.replace("sessions_per_day = 2", "sessions_per_day = 2" + STRICT))
    strict = load_program(path)
    assert strict.pain == PainRules(2, 0, 5, 3, 1, 1, 28)
    # a stage's own rise wins over [pain]'s
    assert strict.rules_at(0).rise_by == 2
    cases = [
        (done(1, 1, 2, pain=3), 1, "the last rating, 3, is above 2"),
        (done(1, 1, 2, pain=2), 2, "moved on"),
        ([*done(1, 1, 2, pain=0), entry(3, pain=5)], 1, "a rating of 5"),
        ([*done(1, 1, 2, pain=0), entry(3, pain=5)], 1, "see a clinician"),
    ]
    for entries, stage, why in cases:
        state = stage_state(strict, entries)
        assert (state.stage + 1, why in state.why) == (stage, True), state.why
    assert main(["programs", "show", str(path)]) == 0
    shown = capsys.readouterr().out
    assert "A rating of 5 or more: stop for today, and back one stage." in shown
    assert "Pain of 5 or more on 1 day within 28 days" in shown


def test_the_clinician_hold_is_flagged(three):
    entries = [entry(1, pain=7), entry(5, pain=7), entry(9, pain=7), *done(10, 11, 12)]
    state = stage_state(three, entries)
    assert state.see_clinician and state.stage == 0 and "clinician" in (state.held or "")
    assert not stage_state(three, [*entries, entry(13, pain=6)]).see_clinician


def test_a_rating_of_7_says_stop_for_the_rest_of_that_day(three):
    entries = [*done(1, 1), entry(4, pain=7)]
    assert next_session(three, entries, datetime(2026, 11, 4, 23, 59, tzinfo=TZ)).stop_today
    assert not next_session(three, entries, datetime(2026, 11, 5, 0, 1, tzinfo=TZ)).stop_today


def test_next_session_is_the_stage_with_todays_count(three):
    now = datetime(2026, 11, 4, 20, 0, tzinfo=TZ)
    entries = [*done(1, 1, 2), entry(4), entry(4, "quit"), entry(4, program="other")]
    plan = next_session(three, entries, now)
    assert plan.stage_number == 2 and plan.protocol == "glute-squeeze"
    assert plan.pace.reps == 7
    assert plan.done_today == 1  # completed, of this program, today
    assert plan.progress == "stage 2 of 3; 1 of 2 sessions done today"


def test_the_built_in_program_stays_within_the_article():
    """5 to 10 reps, short holds, a few short sessions a day, a step back when pain
    rises (docs: ../shared/protocol-source.md)."""
    assert builtin_program_names() == ["glute-squeeze-daily"]
    program = load_program("glute-squeeze-daily")
    assert 2 <= program.sessions_per_day <= 4
    reps = [stage.pace.reps for stage in program.stages]
    assert reps[0] == 5 and reps[-1] == 10 and reps == sorted(reps)
    for stage in program.stages:
        played = apply_pace(load_protocol(stage.protocol), stage.pace)
        assert played.sets == 1, "several sets go beyond the article's dose"
        holds = [phase.seconds for phase in played.phases if phase.kind == "hold"]
        assert holds and max(holds) <= 5, "short holds"
    assert program.pain == PainRules(), "the built-in program's pain rules are the defaults"
    words = (program.description + program.about).lower()
    for claim in ("heal", "cure", "recover", "push through", "no pain"):
        assert claim not in words


def test_the_readme_example_loads(tmp_path):
    readme = (ROOT / "docs" / "formats.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Programs") :]
    example = re.search(r"```toml\n(.*?)```", section, re.S)
    assert example, "the README documents the program format with a TOML example"
    path = tmp_path / "example.toml"
    path.write_text(example.group(1), encoding="utf-8")
    program = load_program(path)
    assert program.stages and all(stage.protocol for stage in program.stages)


def test_a_stage_protocol_is_found_beside_the_program_file(tmp_path):
    (tmp_path / "mine.toml").write_text(
        'name = "mine"\ndescription = "x"\n[[phases]]\nname = "a"\nseconds = 2\n',
        encoding="utf-8",
    )
    path = tmp_path / "p.toml"
    path.write_text(
        'name = "p"\ndescription = "d"\n[[stages]]\nprotocol = "mine.toml"\n', encoding="utf-8"
    )
    assert load_protocol(load_program(path).stages[0].protocol).name == "mine"


BROKEN = [
    ("not TOML", "name = ", "is not valid TOML"),
    ("unknown key", THREE_STAGES.replace("sessions_per_day", "sessions_a_day"),
     "sessions_a_day: unknown key; did you mean sessions_per_day?"),
    ("no stages", 'name = "x"\ndescription = "d"\n', "stages: a program needs at least one"),
    ("unknown protocol", THREE_STAGES.replace('"glute-squeeze"', '"glute-sqeeze"', 1),
     "stages[1]: glute-sqeeze: no such file or built-in protocol"),
    ("reps out of range", THREE_STAGES.replace("reps = 5", "reps = 0"),
     "stages[1].reps: must be a whole number from 1"),
    ("a hold the protocol cannot take", THREE_STAGES.replace("reps = 5", "hold_s = 0.1"),
     "stages[1].hold_s: must be from 0.5"),
    ("a bad pace", THREE_STAGES.replace("reps = 5", 'pace = "zippy"'), "stages[1]:"),
    ("a rule key typo", THREE_STAGES.replace("days = 2", "dayz = 2", 1),
     "stages[1].advance.dayz: unknown key"),
    ("a rise out of range", THREE_STAGES.replace("pain_rise = 2", "pain_rise = 11", 1),
     "stages[1].step_back.pain_rise: must be a whole number from 1 to 2"),
    ("pain rules cannot be loosened", THREE_STAGES.replace("sessions_per_day = 2",
     "sessions_per_day = 2\n[pain]\nstop_at = 9"),
     "pain.stop_at: must be a whole number from 1 to 7"),
    ("...nor the move up", THREE_STAGES.replace("sessions_per_day = 2",
     "sessions_per_day = 2\n[pain]\nmove_up_at_most = 6"),
     "pain.move_up_at_most: must be a whole number from 0 to 5"),
    ("...nor the clinician's window", THREE_STAGES.replace("sessions_per_day = 2",
     "sessions_per_day = 2\n[pain]\nclinician_window_days = 7"),
     "pain.clinician_window_days: must be a whole number from 14 to 365"),
    ("a pain key typo", THREE_STAGES.replace("sessions_per_day = 2",
     "sessions_per_day = 2\n[pain]\nstop_att = 6"), "pain.stop_att: unknown key"),
    ("not UTF-8", b"name = '\xff'", "is not UTF-8"),
]  # fmt: skip


@pytest.mark.parametrize(("label", "text", "message"), BROKEN, ids=[b[0] for b in BROKEN])
def test_a_broken_program_file_is_one_line_naming_it(tmp_path, capsys, label, text, message):
    path = tmp_path / "broken.toml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    with pytest.raises(ProtocolError) as caught:
        load_program(path)
    assert caught.value.one_line().startswith(str(path)), caught.value.one_line()
    assert message in caught.value.one_line()
    assert main(["programs", "show", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_an_unknown_program_is_exit_2_with_a_suggestion(capsys):
    assert main(["today", "glute-squeeze-dayly"]) == 2
    err = capsys.readouterr().err
    assert "no such file or built-in program" in err and "glute-squeeze-daily" in err
    assert main(["run", "--program", "nope", "--quiet"]) == 2


def test_programs_list_and_show(capsys):
    assert main(["programs"]) == 0
    assert "glute-squeeze-daily" in capsys.readouterr().out
    assert main(["programs", "show", "glute-squeeze-daily"]) == 0
    shown = capsys.readouterr().out
    assert "stage 1: glute-squeeze, 5 reps" in shown and "stage 3: glute-squeeze, 10 reps" in shown
    assert "moves on after 6 completed sessions on 3 different days" in shown
    assert "Safety:" in shown


def test_script_with_a_program_plays_its_stage_and_the_command_line_overrides(capsys):
    assert main(["script", "--program", "glute-squeeze-daily", "--json"]) == 0
    import json

    timeline = json.loads(capsys.readouterr().out)
    reps = {cue["rep"] for cue in timeline["cues"] if cue["rep"]}
    assert reps == set(range(1, 6))
    assert main(["script", "--program", "glute-squeeze-daily", "--reps", "6", "--json"]) == 0
    timeline = json.loads(capsys.readouterr().out)
    assert {cue["rep"] for cue in timeline["cues"] if cue["rep"]} == set(range(1, 7))
    assert main(["script", "glute-squeeze", "--program", "glute-squeeze-daily"]) == 2


def test_export_with_a_program_writes_its_stage(tmp_path, capsys):
    import soundfile

    assert main(["script", "--program", "glute-squeeze-daily", "--json"]) == 0
    import json

    duration_s = json.loads(capsys.readouterr().out)["duration_s"]
    target = tmp_path / "today.wav"
    assert main(["export", "--program", "glute-squeeze-daily", "-o", str(target), "-q"]) == 0
    info = soundfile.info(target)
    assert abs(info.frames / info.samplerate - duration_s) < 0.01


def log_rated(*pains: int, days_ago: int = 0) -> None:
    """Completed sessions of the built-in program logged today (or days ago), rated."""
    when = (datetime.now().astimezone() - timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M")
    for pain in pains:
        assert main(["log", "--program", "glute-squeeze-daily", "--when", when,
                     "--pain", str(pain)]) == 0  # fmt: skip


def test_today_says_which_rule_holds_the_user(capsys):
    for days_ago in (3, 2, 1):
        log_rated(6, 6, days_ago=days_ago)
    capsys.readouterr()
    assert main(["today", "glute-squeeze-daily"]) == 0
    shown = capsys.readouterr().out
    assert "stage 1 of 3" in shown
    assert "held at stage 1: the last rating, 6, is above 5" in shown
    assert "Stop here for today" not in shown


def test_a_rating_of_8_stops_today_and_answers_safety_first(capsys):
    log_rated(2)
    capsys.readouterr()
    log_rated(8)
    said = capsys.readouterr().out.splitlines()
    assert said[0].startswith("Logged:")
    assert said[1:3] == ["Stop here for today.", "That is high."], said
    assert said[3].startswith("General information, not medical advice.")
    assert main(["today", "glute-squeeze-daily"]) == 0
    shown = capsys.readouterr().out
    assert "Stop here for today. Skip the exercise today and keep moving gently." in shown
    assert "Today's sessions are done" not in shown
    main(["run", "--program", "glute-squeeze-daily", "--no-log"])  # no sound device here
    before_playing = capsys.readouterr().out
    assert "Stop here for today. Skip the exercise today" in before_playing


def test_a_low_rating_is_not_answered(capsys):
    log_rated(2, 3)
    said = capsys.readouterr().out.splitlines()
    assert len(said) == 2 and all(line.startswith("Logged:") for line in said)


def test_three_high_days_name_a_clinician_in_today(capsys):
    for days_ago in (9, 5, 1):
        log_rated(7, days_ago=days_ago)
    capsys.readouterr()
    assert main(["today", "glute-squeeze-daily"]) == 0
    shown = capsys.readouterr().out
    assert "See a clinician before going on: pain of 7 or more on 3 days within 14 days." in shown
    assert "Stop here for today" not in shown, "the last 7 was yesterday"


def test_each_move_is_kept_with_its_day_and_reason(three):
    entries = [*done(1, 1, 2), *done(3, 3, 4), entry(5, pain=8), entry(6, pain=7)]
    moves = stage_state(three, entries).moves
    assert [(m.day.day, m.from_stage, m.to_stage) for m in moves] == [
        (2, 1, 2), (4, 2, 3), (5, 3, 2), (6, 2, 1)]  # fmt: skip
    assert moves[0].reason == "moved on after 3 completed sessions on 2 days"
    assert moves[2].reason == "a rating of 8"


def test_a_first_stage_started_again_says_so_in_its_move(three):
    """Stage 1 has no stage below it: its move reads "1 -> 1" and must say why it is one."""
    moves = stage_state(three, [*done(1, pain=2), entry(2, pain=5)]).moves
    assert [(m.from_stage, m.to_stage) for m in moves] == [(1, 1)]
    assert moves[0].reason == "pain rose from 2 to 5: this stage starts again"
