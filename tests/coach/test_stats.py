"""Streaks, counts, the calendar and the pain trend, from fixed logs on real SQLite files."""

import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest

from voice_coach.coach.log import PracticeLog, SessionShape
from voice_coach.coach.stats import HEAT_MARKS, heat_map, pain_trend, practice_stats

SHAPE = SessionShape("glute-squeeze", 5)


def log_with(path, *times: str, pain: dict[str, int] | None = None) -> dict[date, int]:
    """A real log holding a completed session at each ISO time; its days as stats reads them."""
    with PracticeLog(path) as log:
        for when in times:
            started = datetime.fromisoformat(when)
            entry = log.start(SHAPE, started)
            log.finish(entry, "completed", 5, 0, started + timedelta(minutes=1))
            if pain and when in pain:
                log.set_pain(entry, pain[when])
        return log.days()


def test_a_gap_ends_a_streak_and_the_longest_is_kept(tmp_path):
    days = log_with(
        tmp_path / "log.sqlite3",
        "2026-11-01T09:00+01:00", "2026-11-02T09:00+01:00", "2026-11-03T09:00+01:00",
        "2026-11-03T18:00+01:00",  # two sessions, one day
        "2026-11-05T09:00+01:00", "2026-11-06T09:00+01:00",
    )  # fmt: skip
    stats = practice_stats(days, date(2026, 11, 6))
    assert (stats.days_practised, stats.sessions) == (5, 6)
    assert (stats.current_streak, stats.longest_streak) == (2, 3)


def test_a_streak_runs_over_a_months_end(tmp_path):
    days = log_with(
        tmp_path / "log.sqlite3",
        "2026-10-30T09:00+01:00", "2026-10-31T09:00+01:00", "2026-11-01T09:00+01:00",
        "2026-11-02T09:00+01:00",
    )  # fmt: skip
    assert practice_stats(days, date(2026, 11, 2)).current_streak == 4
    # Over a year's end and February's too: only the days matter, not the calendar's seams.
    days = {date(2026, 2, 28): 1, date(2026, 3, 1): 1, date(2025, 12, 31): 1, date(2026, 1, 1): 1}
    assert practice_stats(days, date(2026, 3, 1)).current_streak == 2
    assert practice_stats(days, date(2026, 3, 1)).longest_streak == 2


def test_today_not_yet_practised_keeps_yesterdays_streak_but_a_day_missed_ends_it():
    days = {date(2026, 11, 28): 1, date(2026, 11, 29): 1}
    assert practice_stats(days, date(2026, 11, 30)).current_streak == 2
    assert practice_stats(days, date(2026, 12, 1)).current_streak == 0
    assert practice_stats(days, date(2026, 12, 1)).longest_streak == 2
    assert practice_stats({}, date(2026, 12, 1)).current_streak == 0


def test_a_session_just_after_midnight_counts_for_the_new_day(tmp_path):
    days = log_with(
        tmp_path / "log.sqlite3", "2026-11-29T23:59:30+01:00", "2026-11-30T00:00:30+01:00"
    )
    assert days == {date(2026, 11, 29): 1, date(2026, 11, 30): 1}
    assert practice_stats(days, date(2026, 11, 30)).current_streak == 2


def test_the_day_is_the_local_day_where_it_was_done_not_utcs(tmp_path):
    # 23:30 in New York is 04:30 the next day in UTC; 00:30 in Berlin is 23:30 the day
    # before in UTC. Each counts on its own local day.
    days = log_with(tmp_path / "log.sqlite3", "2026-11-27T23:30-05:00", "2026-11-29T00:30+01:00")
    assert days == {date(2026, 11, 27): 1, date(2026, 11, 29): 1}


def test_run_and_log_store_the_local_time_of_the_machines_time_zone(tmp_path):
    """The time zone is the process's own (TZ): a session at 00:30 in Tokyo is logged
    with +09:00 and counts on Tokyo's day, though in UTC it was the day before."""
    env = {**os.environ, "TZ": "Asia/Tokyo", "VOICE_COACH_DATA_DIR": str(tmp_path)}
    code = (
        "from voice_coach.cli import main; import sys; "
        "sys.exit(main(['log', '--when', '2026-11-30T00:30']))"
    )
    subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True)
    with PracticeLog(tmp_path / "log.sqlite3") as log:
        (entry,) = log.entries()
        days = log.days()
    assert entry.started_at.utcoffset() == timedelta(hours=9)
    assert entry.started_at.astimezone(UTC).day == 29
    assert days == {date(2026, 11, 30): 1}


def test_this_week_counts_from_monday():
    days = {date(2026, 11, 29): 2, date(2026, 11, 30): 1, date(2026, 12, 2): 3}  # Sun, Mon, Wed
    assert practice_stats(days, date(2026, 12, 2)).this_week == 4


def test_the_heat_map_has_12_weeks_a_row_per_weekday_and_marks_by_count():
    today = date(2026, 12, 2)  # a Wednesday
    days = {today: 1, date(2026, 11, 30): 2, date(2026, 9, 14): 9, date(2026, 9, 13): 5}
    lines = heat_map(days, today)
    assert len(lines) == 8 and lines[1].startswith("Mon") and lines[7].startswith("Sun")
    monday = lines[1].split()[1:]
    wednesday = lines[3].split()[1:]
    assert len(monday) == 12
    assert monday[-1] == HEAT_MARKS[2] and wednesday[-1] == HEAT_MARKS[1]
    assert monday[0] == HEAT_MARKS[-1], "12 weeks back: the week of 2026-09-14, 4 or more"
    assert HEAT_MARKS[-1] not in lines[7], "2026-09-13 is 13 weeks back: not shown"
    assert len(lines[4].split()) == 12, "Thursday: nothing after today is drawn"
    assert lines[0].split() == ["Sep", "Oct", "Nov", "Dec"], "each month over its first day"
    assert lines[0].index("Dec") == 4 + 11 * 2, "over the week of 1 December, today's"


@pytest.mark.parametrize("today", [date(2026, 12, 1), date(2026, 12, 6), date(2026, 12, 31)])
def test_the_calendar_always_names_the_current_month(today):
    assert "Dec" in heat_map({}, today)[0]


@pytest.mark.parametrize(
    ("ratings", "words"),
    [
        ([(date(2026, 11, 20), 6), (date(2026, 11, 28), 3), (date(2026, 11, 29), 2)],
         "latest 2 (2026-11-29); last 7 days 2.5, the 7 before 6.0: lower"),
        ([(date(2026, 11, 28), 3), (date(2026, 11, 29), 5)],
         "latest 5 (2026-11-29); last 7 days 4.0"),
        ([(date(2026, 10, 1), 4)], "latest 4 (2026-10-01)"),
    ],
)  # fmt: skip
def test_the_pain_trend(ratings, words):
    assert pain_trend(ratings, date(2026, 11, 30)).words() == words
    assert pain_trend([], date(2026, 11, 30)) is None


def test_stats_command_on_a_real_log(tmp_path, monkeypatch, capsys):
    from voice_coach.cli import main
    from voice_coach.coach.log import local_now

    monkeypatch.setenv("VOICE_COACH_DATA_DIR", str(tmp_path))
    now = local_now()
    times = [(now - timedelta(days=n)).isoformat() for n in (0, 1, 2, 5)]
    log_with(tmp_path / "log.sqlite3", *times, pain={times[0]: 3, times[1]: 4})
    assert main(["stats"]) == 0
    shown = capsys.readouterr().out
    assert "Days practised: 4 (4 sessions)" in shown
    assert "Streak: 3 days now, 3 at the longest" in shown
    assert "Pain: latest 3" in shown


def test_weeks_start_on_monday_and_count_against_the_plan():
    from voice_coach.coach.stats import weeks

    today = date(2026, 12, 3)  # a Thursday
    days = {date(2026, 11, 30): 3, date(2026, 12, 2): 2, date(2026, 11, 29): 1}
    ratings = [(date(2026, 11, 29), 6), (date(2026, 12, 1), 2), (date(2026, 12, 3), 4)]
    found = weeks(days, ratings, today, sessions_per_day=3)
    assert len(found) == 5 and found[0].monday == date(2026, 11, 30)
    this, last = found[0], found[1]
    assert (this.days_so_far, this.sessions, this.days_practised, this.planned) == (4, 5, 2, 12)
    assert this.pain_mean == 3.0 and this.on_plan is False
    assert (last.monday, last.days_so_far, last.sessions, last.planned) == (
        date(2026, 11, 23), 7, 1, 21)  # fmt: skip
    assert last.words() == "1 session of 21 planned, 1 day practised, pain 6.0 on average"
    assert weeks({}, [], today, None)[0].words() == "0 sessions, 0 days practised"


def test_the_plan_runs_from_the_program_s_first_day():
    """A program begun on Wednesday plans nothing for Monday and Tuesday, nor for the
    weeks before: the chart and the sentence do not call a user behind for days before
    they began."""
    from voice_coach.coach.stats import week_sentence, weeks

    today = date(2026, 12, 3)  # a Thursday
    days = {date(2026, 12, 2): 2, date(2026, 11, 24): 2}
    found = weeks(days, [], today, sessions_per_day=3, plan_from=date(2026, 12, 2))
    this, last = found[0], found[1]
    assert (this.plan_days, this.planned, this.sessions) == (2, 6, 2)
    assert (last.plan_days, last.planned, last.on_plan) == (0, None, None)
    assert last.words() == "2 sessions, 1 day practised"
    last_week_only = {date(2026, 11, 24): 2}
    began_today = weeks(last_week_only, [], today, sessions_per_day=3, plan_from=today)[0]
    begins = "The program begins today: 3 sessions a day is the plan."
    assert week_sentence(began_today, 3, [], "p") == begins  # not "A new week" on a Thursday
    behind = week_sentence(this, 3, [], "p")  # Wednesday's 3, not Monday's and Tuesday's
    assert behind.startswith("This week: 2 of the 3 sessions planned before today."), behind


def test_the_week_sentence_praises_on_plan_and_gives_one_step_when_behind():
    from voice_coach.coach.stats import Week, usual_times, week_sentence

    def week(sessions, days_so_far):
        return Week(date(2026, 11, 30), days_so_far, sessions, min(sessions, days_so_far),
                    3 * days_so_far, None, plan_days=days_so_far)  # fmt: skip

    assert "on plan. Well done." in week_sentence(week(9, 4), 3, [], "p")
    assert week_sentence(week(0, 1), 3, [], "p") == "A new week: 3 sessions a day is the plan."
    starts = [datetime(2026, 11, d, h, m) for d in (20, 21, 22) for h, m in ((8, 55), (17, 31))]
    minutes = Counter(start.hour * 60 + start.minute for start in starts)
    times = usual_times(minutes, 3)
    assert [f"{t:%H:%M}" for t in times] == ["09:00", "17:30"]
    behind = week_sentence(week(4, 4), 3, times, "glute-squeeze-daily")
    assert behind.startswith("This week: 4 of the 9 sessions planned before today.")
    assert behind.endswith("voice-coach remind --at 09:00 --at 17:30 --program glute-squeeze-daily")
    assert "--at 09:00 --at 13:00 --at 18:00" in week_sentence(week(0, 3), 3, [], "p")


def test_a_session_at_23_50_counts_on_its_local_day(tmp_path):
    days = log_with(tmp_path / "log.sqlite3", "2026-11-30T23:50-05:00")  # 04:50 UTC on Dec 1
    assert days == {date(2026, 11, 30): 1}
    assert practice_stats(days, date(2026, 11, 30)).current_streak == 1


def test_show_streaks_false_removes_every_streak_line(tmp_path, monkeypatch, capsys):
    from voice_coach.cli import main
    from voice_coach.coach.log import local_now

    monkeypatch.setenv("VOICE_COACH_DATA_DIR", str(tmp_path))
    now = local_now()
    for back in (0, 1, 2):
        when = (now - timedelta(days=back)).strftime("%Y-%m-%dT%H:%M")
        assert main(["log", "--program", "glute-squeeze-daily", "--when", when]) == 0
    config = tmp_path / "config.toml"
    monkeypatch.setenv("VOICE_COACH_CONFIG", str(config))
    shown = {}
    for setting in ("", "show_streaks = false\n"):
        config.write_text(setting, encoding="utf-8")
        capsys.readouterr()
        assert main(["stats"]) == 0 and main(["today"]) == 0
        shown[setting] = capsys.readouterr().out
    assert "Streak: 3 days now" in shown[""] and "Streak: 3 days in a row." in shown[""]
    assert "streak" not in shown["show_streaks = false\n"].lower()
    assert "Weeks, from Monday (Glute squeeze, a few times a day: 3 a day):" in shown[""]
    config.write_text("show_streaks = 0\n", encoding="utf-8")
    assert main(["stats"]) == 2
    assert "show_streaks: must be true or false" in capsys.readouterr().err
