"""Reminders: the .ics file, read back with a second parser (vobject), not icalendar."""

from datetime import datetime, time, timedelta

import pytest
import vobject

from voice_coach.cli import main
from voice_coach.coach.reminders import parse_clock


def read_calendar(path):
    return vobject.readOne(path.read_text(encoding="utf-8"))


def test_one_daily_repeating_event_with_an_alarm_per_time(tmp_path, capsys):
    target = tmp_path / "reminders.ics"
    argv = ["remind", "--at", "14:00", "--at", "09:00", "--at", "7:05", "-o", str(target)]
    assert main([*argv, "--program", "glute-squeeze-daily"]) == 0
    assert "every day at 07:05, 09:00, 14:00" in capsys.readouterr().out
    raw = target.read_bytes()
    assert raw.startswith(b"BEGIN:VCALENDAR\r\n") and b"\r\n" in raw and b"\n\n" not in raw
    calendar = read_calendar(target)
    assert calendar.version.value == "2.0"
    events = calendar.vevent_list
    assert len(events) == 3
    starts = []
    for event in events:
        start = event.dtstart.value
        assert isinstance(start, datetime) and start.tzinfo is None, "floating local time"
        starts.append(start.time())
        assert event.rrule.value == "FREQ=DAILY"
        rule = event.getrruleset()
        following = rule.after(start)
        assert following - start == timedelta(days=1), "repeats every day"
        (alarm,) = event.valarm_list
        assert alarm.action.value == "DISPLAY"
        assert alarm.trigger.value == timedelta(0)
        assert "a few times a day" in event.summary.value
        assert "voice-coach run --program glute-squeeze-daily" in event.description.value
        assert event.uid.value.endswith("@voice-coach")
    assert sorted(starts) == [time(7, 5), time(9, 0), time(14, 0)]
    assert len({event.uid.value for event in events}) == 3


def test_an_existing_file_is_kept_without_force(tmp_path, capsys):
    target = tmp_path / "reminders.ics"
    target.write_text("mine")
    assert main(["remind", "--at", "09:00", "-o", str(target)]) == 2
    assert "already exists" in capsys.readouterr().err and target.read_text() == "mine"
    assert main(["remind", "--at", "09:00", "-o", str(target), "--force"]) == 0
    assert len(read_calendar(target).vevent_list) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["reminders.ics"], "no temporary file left"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--at", "25:00"], "must be a time of day as HH:MM"),
        (["--at", "9"], "HH:MM"),
        (["--at", "09:00", "--at", "9:00"], "once"),
        (["--at", "09:00", "--program", "nope"], "no such file or built-in program"),
    ],
)
def test_bad_reminders_are_one_line_exit_2(tmp_path, capsys, argv, message):
    assert main(["remind", *argv, "-o", str(tmp_path / "r.ics")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert not (tmp_path / "r.ics").exists()


def test_parse_clock():
    assert parse_clock("00:00") == time(0, 0) and parse_clock(" 23:59 ") == time(23, 59)
