"""Streaks, counts, the calendar and the pain trend, from the log's days: pure functions.

Days are the user's local days (the log keeps each session's own local time), and
``today`` is given, so every figure can be tested from a fixed log at any date.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

HEAT_WEEKS = 12
HEAT_MARKS = "·░▒▓█"  # no session, then 1, 2, 3, 4 or more
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
TREND_DAYS = 7


@dataclass(frozen=True)
class Stats:
    days_practised: int
    sessions: int
    current_streak: int
    longest_streak: int
    this_week: int


@dataclass(frozen=True)
class PainTrend:
    latest: int
    latest_day: date
    recent_mean: float | None  # the last TREND_DAYS days, today included
    before_mean: float | None  # the TREND_DAYS days before those

    def words(self) -> str:
        text = f"latest {self.latest} ({self.latest_day.isoformat()})"
        if self.recent_mean is not None:
            text += f"; last {TREND_DAYS} days {self.recent_mean:.1f}"
        if self.recent_mean is not None and self.before_mean is not None:
            change = self.recent_mean - self.before_mean
            way = "lower" if change < -0.25 else "higher" if change > 0.25 else "about the same"
            text += f", the {TREND_DAYS} before {self.before_mean:.1f}: {way}"
        return text


def practice_stats(days: Mapping[date, int], today: date) -> Stats:
    """The figures ``voice-coach stats`` shows. The current streak counts back from today,
    or from yesterday while today has no session yet (a streak is not lost before the
    day is over)."""
    start = today if today in days else today - timedelta(days=1)
    current = 0
    while start - timedelta(days=current) in days:
        current += 1
    longest, run, previous = 0, 0, None
    for day in sorted(days):
        run = run + 1 if previous is not None and day - previous == timedelta(days=1) else 1
        longest, previous = max(longest, run), day
    monday = today - timedelta(days=today.weekday())
    this_week = sum(count for day, count in days.items() if monday <= day <= today)
    return Stats(len(days), sum(days.values()), current, longest, this_week)


def heat_map(days: Mapping[date, int], today: date, weeks: int = HEAT_WEEKS) -> list[str]:
    """The last ``weeks`` weeks, a column per week (Monday on top), a mark per day by its
    number of sessions; days after today are blank. A line of month names heads it."""
    monday = today - timedelta(days=today.weekday()) - timedelta(weeks=weeks - 1)
    columns = [monday + timedelta(weeks=week) for week in range(weeks)]
    months = ""
    for week, first in enumerate(columns):
        label = first.strftime("%b") if week == 0 or first.month != columns[week - 1].month else ""
        months = months.ljust(week * 2) + label if label else months
    lines = ["    " + months.rstrip()]
    for weekday in range(7):
        row = []
        for first in columns:
            day = first + timedelta(days=weekday)
            if day > today:
                row.append(" ")
            else:
                row.append(HEAT_MARKS[min(days.get(day, 0), len(HEAT_MARKS) - 1)])
        lines.append(f"{WEEKDAYS[weekday]} " + " ".join(row).rstrip())
    return lines


def pain_trend(ratings: Sequence[tuple[date, int]], today: date) -> PainTrend | None:
    """The latest rating, and the mean of the last week against the week before
    (``ratings`` oldest first); ``None`` with no ratings."""
    if not ratings:
        return None
    recent_from = today - timedelta(days=TREND_DAYS - 1)
    before_from = recent_from - timedelta(days=TREND_DAYS)
    recent = [pain for day, pain in ratings if recent_from <= day <= today]
    before = [pain for day, pain in ratings if before_from <= day < recent_from]
    day, latest = ratings[-1]
    return PainTrend(
        latest=latest,
        latest_day=day,
        recent_mean=sum(recent) / len(recent) if recent else None,
        before_mean=sum(before) / len(before) if before else None,
    )
