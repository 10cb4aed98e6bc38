"""The practice log: every session, in one SQLite file in the user's data folder.

SQLite because a log must survive what a user's machine does to it: a process killed
mid-session, two sessions at once, a power cut. WAL mode lets a reader and a writer work
at once and keeps a killed writer from damaging what was committed; a busy timeout lets
two writers take turns instead of failing. The schema's version is SQLite's own
``user_version``; each migration runs in one transaction, so a log is always at one
version or the next, never between. A log that is not ours, or is newer than this
program, is refused and never written to.

Times are stored as ISO 8601 local time with its UTC offset (what the user saw on the
clock, unambiguous), beside seconds since the epoch for ordering and ranges. The local
day of a session is the first ten characters of its local time: the day where it was
done, whatever the time zone is now.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time as clock
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from types import TracebackType
from typing import Literal

from voice_coach.errors import LogError, os_reason
from voice_coach.i18n import _

LOG_FILE = "log.sqlite3"
EARLIEST_YEAR = 2000  # no session can be logged before it
BUSY_TIMEOUT_MS = 10_000
Ended = Literal["completed", "quit", "interrupted", "unfinished", "logged"]
ENDINGS: tuple[str, ...] = ("completed", "quit", "interrupted", "unfinished", "logged")

# Each entry takes the log from the version before it to its own number (1, 2...).
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE sessions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused, even after a delete
        started_at TEXT NOT NULL,              -- local time with its offset
        started_utc REAL NOT NULL,             -- seconds since the epoch
        ended_at TEXT,                         -- null while unfinished
        protocol TEXT NOT NULL,
        program TEXT,
        stage INTEGER,                         -- the program's stage, from 1
        reps_planned INTEGER NOT NULL,
        sets INTEGER NOT NULL,
        hold_s REAL,
        relax_s REAL,
        pace REAL NOT NULL,
        language TEXT,
        voice TEXT,
        reps_done INTEGER NOT NULL DEFAULT 0,
        skipped INTEGER NOT NULL DEFAULT 0,
        ended TEXT NOT NULL
    );
    CREATE INDEX sessions_by_start ON sessions (started_utc);
    """,
    # 2: how it felt, the 0-10 rating asked at the end of a session.
    "ALTER TABLE sessions ADD COLUMN pain INTEGER;",
)
SCHEMA_VERSION = len(MIGRATIONS)

# The columns of ``history --json`` and ``--csv``, in order: a contract for other tools.
COLUMNS: tuple[str, ...] = (
    "id", "started_at", "ended_at", "protocol", "program", "stage", "reps_planned",
    "reps_done", "skipped", "ended", "pain", "sets", "hold_s", "relax_s", "pace",
    "language", "voice",
)  # fmt: skip


@dataclass(frozen=True)
class SessionShape:
    """What shaped a session, recorded with it (the protocol as played, not as written)."""

    protocol: str
    reps_planned: int
    sets: int = 1
    hold_s: float | None = None
    relax_s: float | None = None
    pace: float = 1.0
    language: str | None = None
    voice: str | None = None
    program: str | None = None
    stage: int | None = None


@dataclass(frozen=True)
class LogEntry:
    id: int
    started_at: datetime
    ended_at: datetime | None
    shape: SessionShape
    reps_done: int
    skipped: int
    ended: str
    pain: int | None

    @property
    def day(self) -> date:
        """The local day it was done, where it was done."""
        return self.started_at.date()

    @property
    def completed(self) -> bool:
        """Done to its end: played through, or done away from the computer and logged."""
        return self.ended in ("completed", "logged")


PRIVATE_FILE = 0o600  # health data: the user's alone
PRIVATE_FOLDER = 0o700
_notes: list[str] = []


def take_notes() -> list[str]:
    """What the log had to say once (a log whose modes were tightened), then nothing."""
    notes = list(_notes)
    _notes.clear()
    return notes


def make_private_folder(folder: Path) -> None:
    """Create ``folder`` and any missing parents readable by the user alone; a folder
    that exists (one the user chose, even ``/tmp``) is left as it is."""
    missing = []
    current = folder
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for path in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another process made it meanwhile
            path.mkdir(mode=PRIVATE_FOLDER)


def create_private_file(path: Path) -> None:
    """Make ``path`` empty and 0600 if it is missing, before SQLite opens it: there is no
    moment in which it is readable by others (SQLite gives its -wal and -shm the
    database's mode)."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))


def tighten(path: Path) -> None:
    """An existing log (and its -wal and -shm) readable by others made 0600, said once."""
    changed = []
    for each in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            mode = each.stat().st_mode & 0o777
            if mode & 0o077:
                each.chmod(mode & 0o700 or PRIVATE_FILE)
                changed.append(each.name)
        except FileNotFoundError:
            continue
    if changed:
        _notes.append(
            _(
                "{folder}: the practice log was readable by other users; it is now yours "
                "alone ({files} made 0600)"
            ).format(folder=path, files=", ".join(changed))
        )


def log_path() -> Path:
    from voice_coach.userdirs import data_dir

    return data_dir() / LOG_FILE


def local_now() -> datetime:
    """Now, in the local time zone, to the second (what a log entry records)."""
    return datetime.now().astimezone().replace(microsecond=0)


def parse_when(text: str, now: datetime) -> datetime:
    """``--when``: ISO 8601 (a date, or a date and time with or without an offset; local
    time when none), ``today`` or ``yesterday`` (at this time of day), never the future.

    A date alone means noon that day (today: now), so the day is right in any zone."""
    from voice_coach.errors import UsageError

    word = text.strip().lower()
    if word in ("now", "today"):
        return now
    if word == "yesterday":
        return now - timedelta(days=1)
    try:
        if len(word) == 10:
            day = date.fromisoformat(word)
            when = now if day == now.date() else datetime.combine(day, time(12, 0))
        else:
            when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            _("--when {value!r} is not a date or time").format(value=text),
            _(
                "use ISO 8601 (2026-11-30, 2026-11-30T09:15, with or without +01:00), "
                "today or yesterday"
            ),
        ) from None
    if when.year < EARLIEST_YEAR:
        raise UsageError(
            _("--when {value!r} is before {year}; log what was done").format(
                value=text, year=EARLIEST_YEAR
            )
        )
    when = when.astimezone() if when.tzinfo is None else when
    if when > now + timedelta(minutes=1):
        raise UsageError(
            _("--when {value!r} is in the future; log what was done").format(value=text)
        )
    return when.replace(microsecond=0)


def parse_day(text: str, today: date) -> date:
    """``--since``: an ISO 8601 date, ``today`` or ``yesterday``."""
    from voice_coach.errors import UsageError

    word = text.strip().lower()
    if word in ("today", "yesterday"):
        return today - timedelta(days=word == "yesterday")
    try:
        # Nothing was logged before EARLIEST_YEAR: an earlier day means "from the start"
        # (and keeps clear of the year 1, which no time zone can be applied to).
        return max(date.fromisoformat(word), date(EARLIEST_YEAR, 1, 1))
    except ValueError:
        raise UsageError(
            _("--since {value!r} is not a date").format(value=text),
            _("use 2026-11-30, today or yesterday"),
        ) from None


class PracticeLog:
    """An open log. ``create=False`` opens only a log that exists (readers: ``history``,
    ``stats`` never make a file); a missing log then reads as empty."""

    def __init__(self, path: Path | None = None, *, create: bool = True) -> None:
        self.path = path if path is not None else log_path()
        self._db: sqlite3.Connection | None = None
        if not create and not self.path.exists():
            return
        try:
            if create:
                make_private_folder(self.path.parent)
                create_private_file(self.path)
            self._db = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None
            )
            self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._migrate()
            tighten(self.path)  # only a file known to be a log: anything else is left alone
        except sqlite3.DatabaseError as exc:
            self.close()
            raise self._error(exc) from None
        except OSError as exc:
            self.close()
            reason = os_reason(exc)
            raise LogError(
                _("{file}: cannot be opened ({reason})").format(file=self.path, reason=reason)
            ) from None

    def _error(self, exc: sqlite3.Error) -> LogError:
        text = str(exc)
        if "not a database" in text or "malformed" in text:
            return LogError(
                _(
                    "{file}: is not a voice-coach log (not an SQLite database, or damaged); "
                    "left as it is"
                ).format(file=self.path),
                _("move it aside and a new log is started"),
            )
        return LogError(_("{file}: cannot be used ({reason})").format(file=self.path, reason=text))

    def _migrate(self) -> None:
        db = self._require()
        # Reading the version reads the header: a file that is not SQLite fails here,
        # before anything is written to it.
        version = db.execute("PRAGMA user_version").fetchone()[0]
        self._check_version(version)
        _use_wal(db)
        # In WAL mode NORMAL loses no committed entry to a killed process (only, perhaps,
        # the last one to a power cut) and spares a disk flush on every write.
        db.execute("PRAGMA synchronous = NORMAL")
        if version == SCHEMA_VERSION:
            return
        db.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have migrated it while this one waited for the lock.
            version = db.execute("PRAGMA user_version").fetchone()[0]
            self._check_version(version)
            for number in range(version + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[number - 1].split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(f"PRAGMA user_version = {number}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _check_version(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise LogError(
                _(
                    "{file}: was written by a newer voice-coach (log version {version}; this "
                    "one reads up to {known}); left as it is"
                ).format(file=self.path, version=version, known=SCHEMA_VERSION),
                _("update voice-coach"),
            )

    def _require(self) -> sqlite3.Connection:
        assert self._db is not None
        return self._db

    def __enter__(self) -> PracticeLog:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    # --- writing ------------------------------------------------------------------------

    def start(self, shape: SessionShape, started_at: datetime) -> int:
        """A session that has begun: ``unfinished`` until ``finish`` says how it ended."""
        return self._insert(shape, started_at, None, "unfinished", 0, 0, None)

    def finish(
        self, entry_id: int, ended: Ended, reps_done: int, skipped: int, ended_at: datetime
    ) -> None:
        self._write(
            "UPDATE sessions SET ended = ?, reps_done = ?, skipped = ?, ended_at = ? WHERE id = ?",
            (ended, reps_done, skipped, ended_at.isoformat(), entry_id),
        )

    def set_pain(self, entry_id: int, pain: int) -> None:
        self._write("UPDATE sessions SET pain = ? WHERE id = ?", (pain, entry_id))

    def add(
        self, shape: SessionShape, started_at: datetime, reps_done: int, pain: int | None
    ) -> int:
        """A session done away from the computer (``voice-coach log``)."""
        return self._insert(shape, started_at, started_at, "logged", reps_done, 0, pain)

    def delete(self, entry_id: int) -> bool:
        """Remove an entry; ``False`` when there is none with that id."""
        if self._db is None:
            return False
        return self._write("DELETE FROM sessions WHERE id = ?", (entry_id,)) > 0

    def _insert(
        self,
        shape: SessionShape,
        started_at: datetime,
        ended_at: datetime | None,
        ended: str,
        reps_done: int,
        skipped: int,
        pain: int | None,
    ) -> int:
        db = self._require()
        values = (
            started_at.isoformat(), started_at.timestamp(),
            ended_at.isoformat() if ended_at else None, shape.protocol, shape.program,
            shape.stage, shape.reps_planned, shape.sets, shape.hold_s, shape.relax_s,
            shape.pace, shape.language, shape.voice, reps_done, skipped, ended, pain,
        )  # fmt: skip
        try:
            cursor = db.execute(
                "INSERT INTO sessions (started_at, started_utc, ended_at, protocol, program, "
                "stage, reps_planned, sets, hold_s, relax_s, pace, language, voice, reps_done, "
                "skipped, ended, pain) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                values,
            )
        except sqlite3.Error as exc:
            raise self._error(exc) from None
        return int(cursor.lastrowid or 0)

    def _write(self, sql: str, values: tuple[object, ...]) -> int:
        try:
            return self._require().execute(sql, values).rowcount
        except sqlite3.Error as exc:
            raise self._error(exc) from None

    def import_entries(self, rows: Iterable[Mapping[str, object]]) -> int:
        """Entries given by their columns (as ``history --json`` lists them), oldest first,
        in one transaction. An entry counts as already here when the log holds one with
        the same ``started_at`` (with its offset), protocol and program: of ``k`` such in
        ``rows`` and ``m`` in the log, ``k - m`` are added, each with its own ``id`` where
        that is free (so a log moved to a new machine keeps its numbers). How many were
        added."""
        db = self._require()
        names = [name for name in COLUMNS if name not in ("id", "started_at", "ended_at")]
        insert = (
            f"INSERT INTO sessions (id, started_at, started_utc, ended_at, {', '.join(names)}) "
            f"VALUES (?, ?, ?, ?, {', '.join('?' for _ in names)})"
        )
        added = 0
        try:
            db.execute("BEGIN IMMEDIATE")
            here = Counter(db.execute("SELECT started_at, protocol, program FROM sessions"))
            taken = {row[0] for row in db.execute("SELECT id FROM sessions")}
            for row in rows:
                started: datetime = row["started_at"]  # type: ignore[assignment]
                ended_at: datetime | None = row.get("ended_at")  # type: ignore[assignment]
                key = (started.isoformat(), row["protocol"], row.get("program"))
                if here[key] > 0:
                    here[key] -= 1
                    continue
                ended = ended_at.isoformat() if ended_at else None
                wanted = row.get("id")
                entry_id = wanted if isinstance(wanted, int) and wanted not in taken else None
                values = (entry_id, started.isoformat(), started.timestamp(), ended)
                cursor = db.execute(insert, (*values, *(row.get(name) for name in names)))
                taken.add(cursor.lastrowid)
                added += 1
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            raise self._error(exc) from None
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return added

    def copy_to(self, other: sqlite3.Connection) -> None:
        """Every entry committed so far into ``other``, in one step of SQLite's backup
        API: a consistent copy even while another process writes."""
        try:
            self._require().backup(other)
        except sqlite3.Error as exc:
            raise self._error(exc) from None

    def copy_from(self, other: sqlite3.Connection) -> None:
        """This log's entries replaced by ``other``'s, through SQLite's backup API."""
        try:
            other.backup(self._require())
        except sqlite3.Error as exc:
            raise self._error(exc) from None

    # --- reading ------------------------------------------------------------------------

    def entries(
        self,
        *,
        since: datetime | None = None,
        limit: int | None = None,
        program: str | None = None,
        oldest_first: bool = False,
    ) -> list[LogEntry]:
        """Entries newest first (or oldest first), from ``since`` on, for one program."""
        where, values = _filters(since, program)
        order = "ASC" if oldest_first else "DESC"
        sql = (
            f"SELECT {', '.join(COLUMNS)} FROM sessions {where} "
            f"ORDER BY started_utc {order}, id {order}"
        )
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [_entry(row) for row in self._select(sql, values)]

    def get(self, entry_id: int) -> LogEntry | None:
        rows = self._select(f"SELECT {', '.join(COLUMNS)} FROM sessions WHERE id = ?", (entry_id,))
        return _entry(rows[0]) if rows else None

    def json_bytes(self, *, since: datetime | None = None) -> bytes:
        """The entries as a JSON list, one object a line, newest first, as UTF-8: made by
        SQLite itself (``json_object``, ``group_concat``) and never decoded into Python
        text, since it only goes on to standard output."""
        if self._db is None:
            return b"[]"
        where, values = _filters(since, None)
        pairs = ", ".join(f"'{name}', {name}" for name in COLUMNS)
        self._db.text_factory = bytes
        try:
            rows = self._select(
                f"SELECT group_concat(entry, ',\n') FROM (SELECT json_object({pairs}) AS entry "
                f"FROM sessions {where} ORDER BY started_utc DESC, id DESC)",
                values,
            )
        finally:
            self._db.text_factory = str
        joined = rows[0][0] if rows else None
        return b"[\n" + joined + b"\n]" if joined else b"[]"

    def rows(self, *, since: datetime | None = None) -> Iterator[tuple[object, ...]]:
        """Each entry's ``COLUMNS``, newest first, as stored."""
        where, values = _filters(since, None)
        yield from self._cursor(
            f"SELECT {', '.join(COLUMNS)} FROM sessions {where} ORDER BY started_utc DESC, id DESC",
            values,
        )

    def days(self) -> dict[date, int]:
        """Sessions per local day that count as practice: done to the end, or with at
        least one rep done (a session quit half-way was still practice)."""
        rows = self._select(
            "SELECT substr(started_at, 1, 10), count(*) FROM sessions "
            "WHERE reps_done > 0 OR ended IN ('completed', 'logged') GROUP BY 1",
            (),
        )
        return {date.fromisoformat(day): count for day, count in rows}

    def pains(self, since: datetime | None = None) -> list[tuple[date, int]]:
        """(local day, rating) of every rated session, oldest first."""
        where, values = _filters(since, None)
        joiner = "AND" if where else "WHERE"
        rows = self._select(
            f"SELECT substr(started_at, 1, 10), pain FROM sessions {where} {joiner} "
            "pain IS NOT NULL ORDER BY started_utc, id",
            values,
        )
        return [(date.fromisoformat(day), pain) for day, pain in rows]

    def last_pain(self, before_id: int | None = None) -> int | None:
        """The most recent rating (of an entry other than ``before_id``)."""
        rows = self._select(
            "SELECT pain FROM sessions WHERE pain IS NOT NULL AND id IS NOT ? "
            "ORDER BY started_utc DESC, id DESC LIMIT 1",
            (before_id,),
        )
        return rows[0][0] if rows else None

    def start_minutes(self, since: datetime | None = None) -> dict[int, int]:
        """How many sessions started at each local minute of the day (0-1439), counted
        by SQLite: what the usual practice times are found from."""
        where, values = _filters(since, None)
        rows = self._select(
            "SELECT CAST(substr(started_at, 12, 2) AS INTEGER) * 60 "
            f"+ CAST(substr(started_at, 15, 2) AS INTEGER), count(*) FROM sessions {where} "
            "GROUP BY 1",
            values,
        )
        return {int(minute): count for minute, count in rows}

    def latest_rating(self) -> tuple[date, int] | None:
        rows = self._select(
            "SELECT substr(started_at, 1, 10), pain FROM sessions WHERE pain IS NOT NULL "
            "ORDER BY started_utc DESC, id DESC LIMIT 1",
            (),
        )
        return (date.fromisoformat(rows[0][0]), rows[0][1]) if rows else None

    def last_program(self) -> str | None:
        rows = self._select(
            "SELECT program FROM sessions WHERE program IS NOT NULL "
            "ORDER BY started_utc DESC, id DESC LIMIT 1",
            (),
        )
        return rows[0][0] if rows else None

    def _select(self, sql: str, values: tuple[object, ...]) -> list[tuple]:
        return list(self._cursor(sql, values))

    def _cursor(self, sql: str, values: tuple[object, ...]) -> Iterator[tuple]:
        if self._db is None:
            return
        try:
            yield from self._db.execute(sql, values)
        except sqlite3.Error as exc:
            raise self._error(exc) from None


def _use_wal(db: sqlite3.Connection) -> None:
    """Switch to WAL mode (once per file; it stays). Two processes opening a new log at
    once can both try, and SQLite then answers "locked" at once instead of waiting for
    the busy timeout, so the wait is done here."""
    deadline = clock.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            db.execute("PRAGMA journal_mode = WAL").fetchone()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or clock.monotonic() > deadline:
                raise
        clock.sleep(0.005)


def _filters(since: datetime | None, program: str | None) -> tuple[str, tuple[object, ...]]:
    clauses, values = [], []
    if since is not None:
        clauses.append("started_utc >= ?")
        values.append(since.timestamp())
    if program is not None:
        clauses.append("program = ?")
        values.append(program)
    return ("WHERE " + " AND ".join(clauses) if clauses else ""), tuple(values)


def _entry(row: tuple) -> LogEntry:
    values = dict(zip(COLUMNS, row, strict=True))
    return LogEntry(
        id=values["id"],
        started_at=datetime.fromisoformat(values["started_at"]),
        ended_at=datetime.fromisoformat(values["ended_at"]) if values["ended_at"] else None,
        shape=SessionShape(
            protocol=values["protocol"],
            reps_planned=values["reps_planned"],
            sets=values["sets"],
            hold_s=values["hold_s"],
            relax_s=values["relax_s"],
            pace=values["pace"],
            language=values["language"],
            voice=values["voice"],
            program=values["program"],
            stage=values["stage"],
        ),
        reps_done=values["reps_done"],
        skipped=values["skipped"],
        ended=values["ended"],
        pain=values["pain"],
    )
