"""The practice log is private (0600 in a 0700 folder voice-coach makes), and it can be
backed up, restored and moved between machines: real SQLite files, real processes."""

import json
import os
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import pytest

from voice_coach.cli import main
from voice_coach.coach.log import SCHEMA_VERSION, PracticeLog, SessionShape

TZ = timezone(timedelta(hours=-5))
SHAPE = SessionShape("glute-squeeze", 10, program="glute-squeeze-daily", stage=1)


def mode(path) -> int:
    return path.stat().st_mode & 0o777


@pytest.fixture
def data(tmp_path, monkeypatch):
    folder = tmp_path / "new" / "data"
    monkeypatch.setenv("VOICE_COACH_DATA_DIR", str(folder))
    return folder


def history_json(capsys) -> list[dict]:
    capsys.readouterr()
    assert main(["history", "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_a_fresh_log_and_the_folders_made_for_it_are_private(data, capsys):
    os.umask(0o022)
    assert main(["log", "--pain", "3"]) == 0
    assert mode(data) == 0o700 and mode(data.parent) == 0o700
    log = data / "log.sqlite3"
    assert mode(log) == 0o600
    with PracticeLog() as opened:  # while open, SQLite's -wal and -shm exist: 0600 too
        opened.add(SHAPE, datetime.now(TZ), 10, None)
        for suffix in ("-wal", "-shm"):
            assert mode(log.with_name(log.name + suffix)) == 0o600, suffix
    assert "readable by other users" not in capsys.readouterr().err


def test_a_folder_the_user_chose_is_left_as_it_is(tmp_path, monkeypatch):
    chosen = tmp_path / "shared"
    chosen.mkdir(mode=0o755)
    chosen.chmod(0o755)
    monkeypatch.setenv("VOICE_COACH_DATA_DIR", str(chosen))
    assert main(["log"]) == 0
    assert mode(chosen) == 0o755 and mode(chosen / "log.sqlite3") == 0o600


def test_an_existing_0644_log_is_tightened_on_first_use_and_says_so_once(data, capsys):
    assert main(["log"]) == 0
    log = data / "log.sqlite3"
    log.chmod(0o644)
    capsys.readouterr()
    assert main(["history"]) == 0
    err = capsys.readouterr().err
    assert err.count("readable by other users") == 1 and mode(log) == 0o600
    assert main(["history"]) == 0
    assert "readable" not in capsys.readouterr().err


WRITER = """
import sys, time
from datetime import datetime, timedelta, timezone
from voice_coach.coach.log import PracticeLog, SessionShape
shape = SessionShape("glute-squeeze", 10, program="glute-squeeze-daily", stage=1)
start = datetime(2026, 11, 1, 9, 0, tzinfo=timezone(timedelta(hours=-5)))
with PracticeLog() as log:
    for n in range(100):
        entry = log.add(shape, start + timedelta(minutes=n), 10, n % 11)
        print(entry, flush=True)
        time.sleep(0.01)
"""


def test_a_backup_taken_while_a_process_writes_holds_what_was_committed_and_restores(
    data, tmp_path, capsys
):
    assert main(["log"]) == 0  # the log exists before the writer starts
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER], stdout=subprocess.PIPE, text=True, env=os.environ
    )
    committed = []
    while len(committed) < 40:
        committed.append(int(writer.stdout.readline()))
    backup = tmp_path / "backup.sqlite3"
    assert main(["history", "backup", str(backup)]) == 0
    committed_before = set(committed)  # every one printed was committed before it began
    writer.wait(timeout=60)
    assert mode(backup) == 0o600
    with sqlite3.connect(backup) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        ids = {row[0] for row in copy.execute("SELECT id FROM sessions")}
        whole = copy.execute(
            "SELECT count(*) FROM sessions WHERE ended = 'logged' AND reps_done = 10"
        ).fetchone()[0]
    assert committed_before <= ids, "every entry committed before the backup began"
    assert whole == len(ids), "none half-written"
    assert len(history_json(capsys)) == 101
    assert main(["history", "restore", str(backup)]) == 0
    restored = history_json(capsys)
    assert {row["id"] for row in restored} == ids
    assert (data / "log.sqlite3.bak").exists() and mode(data / "log.sqlite3.bak") == 0o600
    with sqlite3.connect(data / "log.sqlite3.bak") as saved:
        assert saved.execute("SELECT count(*) FROM sessions").fetchone()[0] == 101
    assert main(["history", "backup", str(backup)]) == 2, "never over a file without --force"
    assert "already exists" in capsys.readouterr().err
    assert main(["history", "backup", str(backup), "--force"]) == 0


def test_restoring_junk_or_a_newer_log_changes_nothing(data, tmp_path, capsys):
    assert main(["log", "--pain", "2"]) == 0
    log = data / "log.sqlite3"
    before = history_json(capsys)
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"not a database at all" * 100)
    newer = tmp_path / "newer.sqlite3"
    with sqlite3.connect(newer) as db:
        db.execute("CREATE TABLE sessions (id INTEGER)")
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    for path, words in [(junk, "is not a voice-coach practice log"), (newer, "newer voice-coach"),
                        (tmp_path / "missing", "no such file")]:  # fmt: skip
        capsys.readouterr()
        assert main(["history", "restore", str(path)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and words in err, err
    assert history_json(capsys) == before
    assert not (data / "log.sqlite3.bak").exists()
    assert mode(log) == 0o600


def test_an_older_schema_backup_restores_and_is_brought_up_to_date(data, tmp_path, capsys):
    old = tmp_path / "v1.sqlite3"
    with sqlite3.connect(old) as db:
        from voice_coach.coach.log import MIGRATIONS

        db.executescript(MIGRATIONS[0])
        db.execute(
            "INSERT INTO sessions (started_at, started_utc, protocol, reps_planned, sets, pace, "
            "reps_done, ended) VALUES ('2026-11-01T09:00:00-05:00', 1793541600, "
            "'glute-squeeze', 10, 1, 1.0, 10, 'completed')"
        )
        db.execute("PRAGMA user_version = 1")
    assert main(["history", "restore", str(old)]) == 0
    (row,) = history_json(capsys)
    assert row["pain"] is None and row["ended"] == "completed"


@pytest.mark.parametrize("form", ["--json", "--csv"])
def test_import_of_what_history_wrote_is_lossless_and_adds_nothing_twice(
    tmp_path, monkeypatch, capsys, form
):
    source = tmp_path / "source"
    monkeypatch.setenv("VOICE_COACH_DATA_DIR", str(source))
    start = datetime(2026, 11, 1, 23, 50, tzinfo=TZ)
    with PracticeLog() as log:
        for n in range(30):
            when = start + timedelta(hours=7 * n)
            entry = log.start(SessionShape("glute-squeeze-sets", 8, sets=2, hold_s=4.0,
                                           relax_s=2.5, pace=1.5, language="de",
                                           voice="gmw/de", program=None), when)  # fmt: skip
            log.finish(entry, ("completed", "quit", "interrupted")[n % 3], n % 8, n % 2,
                       when + timedelta(minutes=2))  # fmt: skip
            if n % 4:
                log.set_pain(entry, n % 11)
        log.add(SHAPE, start, 10, 4)  # two entries in the same second, different programs
        log.add(SHAPE, start, 10, 5)  # and two the same: both kept, both found again
    before = history_json(capsys)
    exported = tmp_path / f"history.{form[2:]}"
    capsys.readouterr()
    assert main(["history", form]) == 0
    exported.write_text(capsys.readouterr().out, encoding="utf-8")
    monkeypatch.setenv("VOICE_COACH_DATA_DIR", str(tmp_path / "other-machine"))
    assert main(["history", "import", str(exported)]) == 0
    assert "Imported 32 new, 0 already in the log" in capsys.readouterr().out
    assert history_json(capsys) == before
    assert main(["history", "import", str(exported)]) == 0
    assert "Imported 0 new, 32 already in the log" in capsys.readouterr().out
    assert history_json(capsys) == before


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("{not json", "is neither history --json's JSON nor its CSV"),
        ("[1, 2]", "must be a JSON list of objects"),
        ('[{"started_at": "yesterday", "protocol": "p", "reps_planned": 1, "ended": "logged"}]',
         "entry 1: started_at"),
        ('[{"started_at": "2026-11-01T09:00:00", "protocol": "p", "reps_planned": 1, '
         '"ended": "logged"}]', "entry 1: started_at"),
        ('[{"started_at": "2026-11-01T09:00:00+01:00", "protocol": "p", "reps_planned": 1, '
         '"ended": "logged", "pain": 12}]', "entry 1: pain"),
        ("id,started_at\n1,2026-11-01T09:00:00+01:00\n", "is neither"),
    ],
)  # fmt: skip
def test_a_bad_import_is_one_line_and_adds_nothing(data, tmp_path, capsys, text, words):
    assert main(["log"]) == 0
    path = tmp_path / "bad.json"
    path.write_text(text, encoding="utf-8")
    capsys.readouterr()
    assert main(["history", "import", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err, err
    assert len(history_json(capsys)) == 1


def test_restore_copies_into_the_live_file_rather_than_renaming_over_it(data, tmp_path):
    """A process holding the log open still sees the restored entries (a rename over a
    WAL-mode database would leave it reading the old, unlinked file)."""
    assert main(["log", "--pain", "1"]) == 0
    backup = tmp_path / "b.sqlite3"
    assert main(["history", "backup", str(backup)]) == 0
    assert main(["log", "--pain", "9"]) == 0
    inode = (data / "log.sqlite3").stat().st_ino
    with PracticeLog() as held:
        assert len(held.entries()) == 2
        assert main(["history", "restore", str(backup)]) == 0
        time.sleep(0.05)
        assert [entry.pain for entry in held.entries()] == [1]
    assert (data / "log.sqlite3").stat().st_ino == inode
