"""The practice log on real SQLite files: what is kept, what survives, what is refused."""

import json
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from voice_coach.cli import main
from voice_coach.coach.log import (
    COLUMNS,
    MIGRATIONS,
    SCHEMA_VERSION,
    PracticeLog,
    SessionShape,
    parse_day,
    parse_when,
)
from voice_coach.errors import LogError, UsageError

SHAPE = SessionShape("glute-squeeze", 10, hold_s=3.0, relax_s=3.0, language="en")
TZ = timezone(timedelta(hours=-5))


@pytest.fixture
def data(tmp_path, monkeypatch):
    folder = tmp_path / "data"
    monkeypatch.setenv("VOICE_COACH_DATA_DIR", str(folder))
    return folder


def test_an_entry_keeps_what_shaped_it_and_how_it_ended(data):
    started = datetime(2026, 11, 30, 23, 30, tzinfo=TZ)
    with PracticeLog() as log:
        entry_id = log.start(SHAPE, started)
        assert log.get(entry_id).ended == "unfinished"
        assert log.get(entry_id).ended_at is None
        log.finish(entry_id, "quit", 4, 1, started + timedelta(minutes=1))
        log.set_pain(entry_id, 3)
        entry = log.get(entry_id)
    assert entry.started_at == started and entry.started_at.utcoffset() == timedelta(hours=-5)
    assert entry.day == date(2026, 11, 30), "the day where it was done, not UTC's"
    assert (entry.reps_done, entry.skipped, entry.ended, entry.pain) == (4, 1, "quit", 3)
    assert entry.shape == SHAPE
    assert (data / "log.sqlite3").exists()
    with sqlite3.connect(data / "log.sqlite3") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_a_worrying_rating_is_answered_with_the_safety_note(data, capsys):
    """7 or more, or 5 or more and 2 or more above the last rating: stop for today
    first, then why, then the safety note."""
    said = []
    for pain in (2, 4, 5, 8):
        assert main(["log", "--pain", str(pain)]) == 0
        said.append(capsys.readouterr().out)
    assert ["not medical advice" in out for out in said] == [False, False, False, True]
    assert main(["log", "--pain", "2"]) == 0
    capsys.readouterr()
    assert main(["log", "--pain", "5"]) == 0
    rise = capsys.readouterr().out
    assert "\nStop here for today.\nLast time it was 2.\nGeneral information, not medical" in rise
    assert "\nStop here for today.\nThat is high.\nGeneral information, not medical" in said[3]


def test_history_json_is_the_contract(data, capsys):
    with PracticeLog() as log:
        first = log.start(SHAPE, datetime(2026, 11, 29, 9, 0, tzinfo=TZ))
        log.finish(first, "completed", 10, 0, datetime(2026, 11, 29, 9, 1, tzinfo=TZ))
        log.set_pain(first, 2)
        log.start(SHAPE, datetime(2026, 11, 30, 9, 0, tzinfo=TZ))
    assert main(["log", "--reps", "6", "--when", "2026-11-28T08:00+01:00", "--pain", "4"]) == 0
    capsys.readouterr()
    assert main(["history", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["ended"] for row in rows] == ["unfinished", "completed", "logged"], "newest first"
    for row in rows:
        assert list(row) == list(COLUMNS)
        assert datetime.fromisoformat(row["started_at"]).tzinfo is not None
    unfinished, completed, logged = rows
    assert unfinished["ended_at"] is None and unfinished["pain"] is None
    assert completed["ended_at"] == "2026-11-29T09:01:00-05:00" and completed["pain"] == 2
    assert (completed["reps_planned"], completed["reps_done"], completed["skipped"]) == (10, 10, 0)
    assert logged["started_at"] == "2026-11-28T08:00:00+01:00" and logged["pain"] == 4
    assert logged["reps_done"] == 6 and logged["program"] is None
    assert main(["history", "--csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == ",".join(COLUMNS) and len(lines) == 4
    assert main(["history", "--json", "--since", "2026-11-29"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 2


def test_history_shows_the_latest_20_unless_all(data, capsys):
    with PracticeLog() as log:
        for day in range(1, 26):
            log.add(SHAPE, datetime(2026, 10, day, 9, 0, tzinfo=TZ), 10, None)
    assert main(["history"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 21 and "2026-10-25" in lines[0] and "--all" in lines[-1]
    assert main(["history", "--all"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 25


def test_history_delete_removes_one_entry(data, capsys):
    with PracticeLog() as log:
        ids = [log.add(SHAPE, datetime(2026, 11, d, 9, 0, tzinfo=TZ), 10, None) for d in (1, 2)]
    assert main(["history", "delete", str(ids[0])]) == 0
    assert "Deleted: #" in capsys.readouterr().out
    with PracticeLog() as log:
        assert [entry.id for entry in log.entries()] == [ids[1]]
    assert main(["history", "delete", str(ids[0])]) == 2
    assert f"no entry #{ids[0]}" in capsys.readouterr().err


def test_readers_do_not_create_a_log(data, capsys):
    assert main(["history"]) == 0 and "No sessions yet" in capsys.readouterr().out
    assert main(["stats"]) == 0
    assert main(["history", "--json"]) == 0 and capsys.readouterr().out.strip().endswith("[]")
    assert not data.exists()


NOW = datetime(2026, 11, 30, 15, 20, 5, tzinfo=TZ)
WHEN = [
    ("today", NOW),
    ("now", NOW),
    ("yesterday", NOW - timedelta(days=1)),
    ("2026-11-30", NOW),
    ("2026-11-29T09:15", datetime(2026, 11, 29, 9, 15).astimezone()),
    ("2026-11-29T09:15:00+01:00", datetime(2026, 11, 29, 9, 15, tzinfo=timezone(timedelta(hours=1)))),  # noqa: E501
    ("2026-11-29T09:15Z", datetime(2026, 11, 29, 9, 15, tzinfo=UTC)),
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), WHEN)
def test_when_reads_iso_8601_and_words(text, expected):
    assert parse_when(text, NOW) == expected


def test_a_date_alone_is_noon_local_that_day():
    when = parse_when("2026-11-28", NOW)
    assert when.date() == date(2026, 11, 28) and when.hour == 12 and when.tzinfo is not None


@pytest.mark.parametrize(
    "text",
    ["2026-12-01", "tomorrow", "2026-13-01", "9:15", "", "💪", "0001-01-01", "0001-01-01T00:00",
     "1999-12-31T23:59+14:00", "9999-12-31"],
)  # fmt: skip
def test_a_bad_or_future_when_is_refused(text):
    with pytest.raises(UsageError):
        parse_when(text, NOW)


def test_since_reads_a_day():
    assert parse_day("2026-11-02", date(2026, 11, 30)) == date(2026, 11, 2)
    assert parse_day("yesterday", date(2026, 11, 30)) == date(2026, 11, 29)
    assert parse_day("0001-01-01", date(2026, 11, 30)) == date(2000, 1, 1), "from the start"
    with pytest.raises(UsageError):
        parse_day("last week", date(2026, 11, 30))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["log", "--pain", "11"], "--pain 11 must be from 0 to 10"),
        (["log", "--pain", "-1"], "must be from 0 to 10"),
        (["log", "--when", "next tuesday"], "is not a date or time"),
        (["log", "--when", "2099-01-01"], "is in the future"),
        (["log", "--program", "nope"], "no such file or built-in program"),
        (["log", "glute-squeeze", "--program", "glute-squeeze-daily"], "not both"),
        (["log", "--reps", "0"], "--reps"),
        (["history", "--since", "whenever"], "is not a date"),
        (["history", "delete", "12345"], "no entry #12345"),
        (["history", "--json", "--csv"], "not both"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(data, capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err


def test_log_against_a_program_records_its_stage(data, capsys):
    assert main(["log", "--program", "glute-squeeze-daily", "--when", "yesterday"]) == 0
    with PracticeLog() as log:
        (entry,) = log.entries()
    assert entry.shape.program == "glute-squeeze-daily" and entry.shape.stage == 1
    assert entry.reps_done == entry.shape.reps_planned == 5 and entry.ended == "logged"


# --- what the log survives ------------------------------------------------------------

NOT_A_LOG = [
    ("text", b"these are my notes, not a database\n" * 20),
    ("random bytes", bytes(range(256)) * 64),
    ("a log with its header damaged", None),
]


def damaged_log(path):
    with PracticeLog(path) as log:
        for day in range(1, 10):
            log.add(SHAPE, datetime(2026, 11, day, 9, 0, tzinfo=TZ), 10, None)
    data = bytearray(path.read_bytes())
    data[:16] = b"Not SQLite 3 \x00\x00\x00"
    for extra in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        extra.unlink(missing_ok=True)
    return bytes(data)


@pytest.mark.parametrize(("label", "content"), NOT_A_LOG, ids=[c[0] for c in NOT_A_LOG])
def test_a_corrupted_log_is_refused_and_left_as_it_was(data, capsys, label, content):
    data.mkdir()
    path = data / "log.sqlite3"
    content = content if content is not None else damaged_log(path)
    path.write_bytes(content)
    for argv in (["history"], ["history", "--json"], ["stats"], ["log", "--pain", "2"],
                 ["history", "delete", "1"], ["today", "glute-squeeze-daily"]):  # fmt: skip
        assert main(argv) == 1, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "is not a voice-coach log" in err, (argv, err)
        assert path.read_bytes() == content, f"{argv} changed the file"


def test_a_log_from_a_newer_version_is_refused_and_left_as_it_was(data, capsys):
    data.mkdir()
    path = data / "log.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE sessions (id INTEGER PRIMARY KEY, future TEXT)")
        db.execute("PRAGMA user_version = 99")
    db.close()
    before = path.read_bytes()
    for argv in (["history"], ["stats"], ["log"]):
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert "written by a newer voice-coach (log version 99" in err and err.count("\n") == 1
    assert path.read_bytes() == before


def test_a_version_1_log_migrates_with_every_row_kept(data):
    data.mkdir()
    path = data / "log.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(MIGRATIONS[0])
    db.execute("PRAGMA user_version = 1")
    for day in range(1, 31):
        db.execute(
            "INSERT INTO sessions (started_at, started_utc, ended_at, protocol, program, stage, "
            "reps_planned, sets, pace, reps_done, skipped, ended) "
            "VALUES (?, ?, ?, 'glute-squeeze', 'glute-squeeze-daily', 1, 5, 1, 1.0, ?, 0, ?)",
            (
                f"2026-11-{day:02d}T09:00:00-05:00",
                datetime(2026, 11, day, 9, tzinfo=TZ).timestamp(),
                f"2026-11-{day:02d}T09:01:00-05:00",
                day % 6,
                "completed" if day % 6 == 5 else "quit",
            ),
        )
    db.commit()
    before = db.execute("SELECT * FROM sessions ORDER BY id").fetchall()
    db.close()
    with PracticeLog() as log:
        entries = log.entries(oldest_first=True)
        log.set_pain(entries[0].id, 4)  # the new column works
    assert len(entries) == 30
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        after = db.execute("SELECT * FROM sessions ORDER BY id").fetchall()
    assert [row[: len(before[0])] for row in after] == before, "every row, every value kept"
    assert [row[-1] for row in after] == [4] + [None] * 29


WRITER = textwrap.dedent(
    """
    import sys
    from datetime import datetime, timezone
    from pathlib import Path
    from voice_coach.coach.log import PracticeLog, SessionShape
    path, count, tag = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    print("ready", flush=True)
    sys.stdin.readline()  # start together
    for n in range(count):
        with PracticeLog(path) as log:
            entry = log.start(SessionShape(tag, n + 1), datetime.now(timezone.utc))
            log.finish(entry, "completed", n + 1, 0, datetime.now(timezone.utc))
    """
)


def test_two_processes_writing_100_entries_each_at_once_lose_none(tmp_path):
    path = tmp_path / "log.sqlite3"
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), "100", tag],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for tag in ("one", "two")
    ]
    for writer in writers:
        assert writer.stdout.readline().strip() == "ready"
    for writer in writers:
        writer.stdin.write("go\n")
        writer.stdin.flush()
    for writer in writers:
        _out, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err
    with PracticeLog(path) as log:
        entries = log.entries()
    for tag in ("one", "two"):
        mine = [e for e in entries if e.shape.protocol == tag]
        assert sorted(e.reps_done for e in mine) == list(range(1, 101))
        assert all(e.ended == "completed" for e in mine)


KILLED_WRITER = textwrap.dedent(
    """
    import sys
    from datetime import datetime, timezone
    from pathlib import Path
    from voice_coach.coach.log import PracticeLog, SessionShape
    path = Path(sys.argv[1])
    n = 0
    with PracticeLog(path) as log:
        while True:
            n += 1
            entry = log.start(SessionShape("glute-squeeze", n), datetime.now(timezone.utc))
            log.finish(entry, "completed", n, 0, datetime.now(timezone.utc))
            if n == 50:
                print("going", flush=True)
    """
)


@pytest.mark.parametrize("round_", range(4))
def test_kill_9_mid_write_leaves_a_log_that_opens_with_everything_before(tmp_path, round_):
    path = tmp_path / "log.sqlite3"
    writer = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert writer.stdout.readline().strip() == "going"
    time.sleep(0.05 + 0.1 * round_)
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=30)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    with PracticeLog(path) as log:
        entries = log.entries(oldest_first=True)
    assert len(entries) >= 50
    assert [e.shape.reps_planned for e in entries] == list(range(1, len(entries) + 1))
    unfinished = [e for e in entries if e.ended == "unfinished"]
    assert len(unfinished) <= 1 and all(e is entries[-1] for e in unfinished)
    assert all(e.reps_done == e.shape.reps_planned for e in entries if e.ended == "completed")


def test_a_session_record_that_cannot_be_written_says_why_and_raises_nothing(tmp_path, monkeypatch):
    from voice_coach.coach.practice import SessionRecord

    blocker = tmp_path / "file"
    blocker.write_text("a file where the data folder would be")
    monkeypatch.setenv("VOICE_COACH_DATA_DIR", str(blocker / "data"))
    record = SessionRecord(SHAPE)
    record.begin()
    record.finish("completed", 10, 0)
    assert record.entry_id is None and record.problem and "cannot be opened" in record.problem
    assert record.rate(3) is None


def test_log_errors_are_log_errors(tmp_path):
    path = tmp_path / "x.sqlite3"
    path.write_bytes(b"x" * 4096)
    with pytest.raises(LogError):
        PracticeLog(path)
    assert path.stat().st_size == 4096
