"""Reminders as an iCalendar file (RFC 5545) that a phone or desktop calendar imports.

One daily repeating event per time, each with an alarm at its start. The times are
floating local times (no time zone): 09:00 stays 09:00 wherever the user travels, which
is what a reminder to practise means. Each event's UID is made from the program and
the time, so importing a new file for the same times updates the events instead of
doubling them. Written with icalendar, a well-kept implementation of the standard.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta

from voice_coach.errors import UsageError
from voice_coach.i18n import _

EVENT_MINUTES = 5
_CLOCK = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")


def parse_clock(text: str) -> time:
    """``HH:MM`` (24-hour) from ``--at``."""
    found = _CLOCK.fullmatch(text.strip())
    if not found:
        raise UsageError(
            _("--at {value!r} must be a time of day as HH:MM, e.g. --at 09:00").format(value=text)
        )
    return time(int(found.group(1)), int(found.group(2)))


def reminder_calendar(
    times: Sequence[time],
    *,
    title: str,
    command: str,
    key: str,
    first_day: date,
    stamp: datetime,
) -> bytes:
    """The calendar: an event every day at each of ``times`` from ``first_day`` on.

    ``command`` (what to run) goes in each event's description; ``key`` (the program,
    or the session) into its UID; ``stamp`` is when the file was made (DTSTAMP).
    """
    from icalendar import Alarm, Calendar, Event

    if not times:
        raise UsageError(_("give at least one --at HH:MM"))
    if len(set(times)) != len(times):
        raise UsageError(_("each --at time must be given once"))
    calendar = Calendar()
    calendar.add("prodid", "-//voice-coach//reminders//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    for at in sorted(times):
        event = Event()
        event.add("uid", f"{key}-{at:%H%M}@voice-coach")
        event.add("dtstamp", stamp.astimezone(UTC))
        event.add("dtstart", datetime.combine(first_day, at))
        event.add("duration", timedelta(minutes=EVENT_MINUTES))
        event.add("rrule", {"freq": "daily"})
        event.add("summary", title)
        event.add("description", _("Time for a short session: {command}").format(command=command))
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("trigger", timedelta(0))
        alarm.add("description", title)
        event.add_component(alarm)
        calendar.add_component(event)
    return calendar.to_ical()
