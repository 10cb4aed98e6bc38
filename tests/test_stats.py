"""Streaks, counts, the calendar and the pain trend, from fixed logs on real SQLite files."""

import os
import subprocess
import sys
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
    assert lines[0].split() == ["Sep", "Oct", "Nov"], "a month named over its first Monday"


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
