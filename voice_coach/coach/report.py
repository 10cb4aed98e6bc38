"""What the report for a clinician says: figures from the practice log, pure.

``files/report_page.py`` draws it as one printable page; this module only counts, so
every figure can be tested from a fixed log at a fixed date, and equals what
``history --json`` lists for the same period.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from voice_coach.coach.log import LogEntry
from voice_coach.coach.programs import Move, Program, StageState, stage_state
from voice_coach.coach.stats import Week, weeks

REPORT_WEEKS = 12  # the default period, and the calendar's
LATEST_MOVES = 10  # a page holds this many stage moves; the rest are counted


@dataclass(frozen=True)
class Totals:
    """The period's sessions as ``history --json`` lists them."""

    sessions: int  # every entry, however it ended
    completed: int  # played to the end, or logged
    days_practised: int  # days with a completed session or a rep done
    reps_done: int
    ratings: tuple[int, ...]  # oldest first


@dataclass(frozen=True)
class Report:
    made: date
    since: date
    totals: Totals
    ratings: tuple[tuple[datetime, int], ...]  # the period's, oldest first
    weeks: tuple[Week, ...]  # oldest first
    days: dict[date, int]  # sessions per day, for the calendar
    program: Program | None
    state: StageState | None
    moves: tuple[Move, ...]  # the latest LATEST_MOVES, newest first
    earlier_moves: int  # how many more came before them
    streak_days: int | None  # None: streaks hidden (show_streaks = false)

    @property
    def empty(self) -> bool:
        return self.totals.sessions == 0


def practised(entry: LogEntry) -> bool:
    """Counts as practice on its day: done to the end, or at least one rep done."""
    return entry.completed or entry.reps_done > 0


def build_report(
    entries: Sequence[LogEntry],
    program_entries: Sequence[LogEntry],
    program: Program | None,
    since: date,
    today: date,
    streak_days: int | None,
) -> Report:
    """The report of ``entries`` (the period's, any order) and, with a program, where its
    own entries (every one, oldest first) put the user and how they got there."""
    period = sorted(entries, key=lambda entry: (entry.started_at, entry.id))
    days: dict[date, int] = {}
    for entry in period:
        if practised(entry):
            days[entry.day] = days.get(entry.day, 0) + 1
    ratings = tuple((entry.started_at, entry.pain) for entry in period if entry.pain is not None)
    totals = Totals(
        sessions=len(period),
        completed=sum(1 for entry in period if entry.completed),
        days_practised=len(days),
        reps_done=sum(entry.reps_done for entry in period),
        ratings=tuple(pain for _, pain in ratings),
    )
    count = (today - (since - timedelta(days=since.weekday()))).days // 7 + 1
    per_day = program.sessions_per_day if program else None
    day_ratings = [(when.date(), pain) for when, pain in ratings]
    plan_from = min((entry.day for entry in program_entries), default=today)
    found = weeks(days, day_ratings, today, per_day, count=max(1, count), plan_from=plan_from)
    state = stage_state(program, program_entries) if program else None
    moves = state.moves if state else ()
    return Report(
        made=today,
        since=since,
        totals=totals,
        ratings=ratings,
        weeks=tuple(reversed(found)),
        days=days,
        program=program,
        state=state,
        moves=tuple(reversed(moves[-LATEST_MOVES:])),
        earlier_moves=max(0, len(moves) - LATEST_MOVES),
        streak_days=streak_days,
    )
