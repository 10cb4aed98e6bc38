"""Streaks, counts, the calendar and the pain trend, from the log's days: pure functions.

Days are the user's local days (the log keeps each session's own local time), and
``today`` is given, so every figure can be tested from a fixed log at any date.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, time, timedelta

from voice_coach.i18n import _, babel_locale, day_text, decimal, ngettext

HEAT_WEEKS = 12
HEAT_MARKS = "·░▒▓█"  # no session, then 1, 2, 3, 4 or more
TREND_DAYS = 7
FEEDBACK_WEEKS = 5  # this week and the four before


def sessions_words(count: int) -> str:
    """ "1 session", "2 sessions", in the language in use."""
    return ngettext("{n} session", "{n} sessions", count).format(n=count)


def reps_words(count: int) -> str:
    """ "1 rep", "10 reps", in the language in use."""
    return ngettext("{n} rep", "{n} reps", count).format(n=count)


def sets_words(count: int) -> str:
    """ "1 set", "3 sets", in the language in use."""
    return ngettext("{n} set", "{n} sets", count).format(n=count)


def days_words(count: int) -> str:
    """ "1 day", "2 days", in the language in use."""
    return ngettext("{n} day", "{n} days", count).format(n=count)


def on_days_words(count: int) -> str:
    """ "on 1 day", "on 3 days": the days a count of sessions was done on (a phrase of
    its own, as languages decline the noun after the preposition)."""
    return ngettext("on {n} day", "on {n} days", count).format(n=count)


def weekday_names() -> list[str]:
    """Monday to Sunday, abbreviated, in the language in use, padded to one width."""
    from babel.dates import get_day_names

    names = get_day_names("abbreviated", locale=babel_locale())
    shown = [str(names[day]) for day in range(7)]
    width = max(len(name) for name in shown)
    return [name.ljust(width) for name in shown]


def month_name(day: date) -> str:
    """The month of ``day``, abbreviated, in the language in use."""
    return day_text(day, "LLL")


@dataclass(frozen=True)
class Week:
    """One ISO week (Monday to Sunday) of practice, up to ``today`` in the current one."""

    monday: date
    days_so_far: int  # 7, or fewer in the current week (today included)
    sessions: int
    days_practised: int
    planned: int | None  # sessions per day times the days of the plan in it, with a program
    pain_mean: float | None
    plan_days: int  # the days of the week so far the program was followed (from its start)

    @property
    def on_plan(self) -> bool | None:
        return None if self.planned is None else self.sessions >= self.planned

    def words(self) -> str:
        if self.planned is not None:
            done = ngettext(
                "{n} session of {planned} planned",
                "{n} sessions of {planned} planned",
                self.sessions,
            ).format(n=self.sessions, planned=self.planned)
        else:
            done = sessions_words(self.sessions)
        practised = ngettext("{n} day practised", "{n} days practised", self.days_practised)
        text = done + ", " + practised.format(n=self.days_practised)
        if self.pain_mean is not None:
            pain = _("pain {mean} on average").format(mean=decimal(self.pain_mean))
            text += ", " + pain
        return text


def weeks(
    days: Mapping[date, int],
    ratings: Sequence[tuple[date, int]],
    today: date,
    sessions_per_day: int | None,
    count: int = FEEDBACK_WEEKS,
    plan_from: date | None = None,
) -> list[Week]:
    """This week and the ``count - 1`` before it, newest first: sessions against the
    plan (``sessions_per_day`` times the days of the week so far that are on or after
    ``plan_from``, the program's first day; none before it), days practised, the mean
    pain rating."""
    this_monday = today - timedelta(days=today.weekday())
    found = []
    for back in range(count):
        monday = this_monday - timedelta(weeks=back)
        last = min(monday + timedelta(days=6), today)
        span = (last - monday).days + 1
        inside = {day: n for day, n in days.items() if monday <= day <= last}
        pains = [pain for day, pain in ratings if monday <= day <= last]
        first = max(monday, plan_from) if plan_from is not None else monday
        plan_days = max(0, (last - first).days + 1)
        found.append(
            Week(
                monday=monday,
                days_so_far=span,
                sessions=sum(inside.values()),
                days_practised=len(inside),
                planned=(sessions_per_day * plan_days if sessions_per_day and plan_days else None),
                pain_mean=sum(pains) / len(pains) if pains else None,
                plan_days=plan_days,
            )
        )
    return found


DEFAULT_REMINDERS = (time(9, 0), time(13, 0), time(18, 0), time(21, 0))


def week_sentence(week: Week, per_day: int, times: Sequence[time], program: str) -> str:
    """One sentence on the current week for ``today``: praise when on plan (every
    planned session of the days before today done), else one concrete step, the exact
    reminder command for the times the user practised before (or usual times)."""
    due = per_day * max(0, week.plan_days - 1)  # today is not over yet
    if week.sessions >= due:
        if week.sessions == 0 and week.plan_days < week.days_so_far:  # begun mid-week
            return ngettext(
                "The program begins today: {n} session a day is the plan.",
                "The program begins today: {n} sessions a day is the plan.",
                per_day,
            ).format(n=per_day)
        if week.sessions == 0:
            return ngettext(
                "A new week: {n} session a day is the plan.",
                "A new week: {n} sessions a day is the plan.",
                per_day,
            ).format(n=per_day)
        return _("This week: {sessions} {on_days}, on plan. Well done.").format(
            sessions=sessions_words(week.sessions), on_days=on_days_words(week.days_practised)
        )
    at = list(times)[:per_day] or list(DEFAULT_REMINDERS[:per_day])
    command = " ".join(f"--at {clock:%H:%M}" for clock in sorted(at))
    return ngettext(
        "This week: {done} of the {due} session planned before today. A daily reminder at "
        "the times you practise may help: {command}",
        "This week: {done} of the {due} sessions planned before today. A daily reminder at "
        "the times you practise may help: {command}",
        due,
    ).format(
        done=week.sessions,
        due=due,
        command=f"voice-coach remind {command} --program {program}",
    )


def usual_times(minutes: Mapping[int, int], most: int) -> list[time]:
    """The times of day the user has practised at most often (``minutes``: sessions per
    minute of the day), to the quarter hour, earliest first: what a reminder should say."""
    quarters: Counter[int] = Counter()
    for minute, count in minutes.items():
        quarters[(round(minute / 15) * 15) % (24 * 60)] += count
    chosen = sorted(minute for minute, _count in quarters.most_common(most))
    return [time(minute // 60, minute % 60) for minute in chosen]


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
        text = _("latest {pain} ({day})").format(pain=self.latest, day=self.latest_day.isoformat())
        if self.recent_mean is not None:
            text += _("; ") + ngettext(
                "last {n} day {mean}", "last {n} days {mean}", TREND_DAYS
            ).format(n=TREND_DAYS, mean=decimal(self.recent_mean))
        if self.recent_mean is not None and self.before_mean is not None:
            change = self.recent_mean - self.before_mean
            if change < -0.25:
                way = _("lower")
            elif change > 0.25:
                way = _("higher")
            else:
                way = _("about the same")
            text += ", " + _("the {n} before {mean}: {way}").format(
                n=TREND_DAYS, mean=decimal(self.before_mean), way=way
            )
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


def calendar_weeks(today: date, weeks: int = HEAT_WEEKS) -> tuple[list[date], dict[int, str]]:
    """The Mondays of the last ``weeks`` weeks, oldest first, and the month names over
    them: a month is named over the week its first day falls in, the first column's
    month over it when there is room, so the current month is always named."""
    monday = today - timedelta(days=today.weekday()) - timedelta(weeks=weeks - 1)
    columns = [monday + timedelta(weeks=week) for week in range(weeks)]
    labels: dict[int, str] = {}
    for week, first in enumerate(columns):
        sunday = first + timedelta(days=6)
        if first.day == 1 or sunday.month != first.month:
            labels[week] = month_name(first if first.day == 1 else sunday)
    if 0 not in labels and 1 not in labels:
        labels[0] = month_name(columns[0])
    return columns, labels


def heat_map(days: Mapping[date, int], today: date, weeks: int = HEAT_WEEKS) -> list[str]:
    """The last ``weeks`` weeks, a column per week (Monday on top), a mark per day by its
    number of sessions; days after today are blank. Month names head it
    (``calendar_weeks``)."""
    columns, labels = calendar_weeks(today, weeks)
    names = weekday_names()
    margin = " " * (len(names[0]) + 1)
    months = ""
    for week, label in sorted(labels.items()):
        months = months.ljust(week * 2) + label
    lines = [margin + months.rstrip()]
    for weekday in range(7):
        row = []
        for first in columns:
            day = first + timedelta(days=weekday)
            if day > today:
                row.append(" ")
            else:
                row.append(HEAT_MARKS[min(days.get(day, 0), len(HEAT_MARKS) - 1)])
        lines.append(f"{names[weekday]} " + " ".join(row).rstrip())
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
