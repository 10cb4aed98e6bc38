"""Copies of the practice log: a backup, a restore from one, and an import of what
``history --json`` or ``--csv`` wrote (how a log moves between machines).

Every copy of the live log goes through SQLite's online backup API, never a file copy or
a rename: a copy taken while a session writes holds every entry committed before it
began and none half-written, and a restore never replaces the file under a process that
has it open (SQLite lists that as a way to corrupt a WAL-mode database).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from voice_coach.coach.log import (
    COLUMNS,
    ENDINGS,
    PRIVATE_FILE,
    SCHEMA_VERSION,
    PracticeLog,
    log_path,
)
from voice_coach.errors import UsageError, os_reason
from voice_coach.i18n import _

REQUIRED = ("started_at", "protocol", "reps_planned", "ended")


@dataclass(frozen=True)
class Imported:
    added: int
    skipped: int  # already in the log


def backup(target: Path, *, force: bool = False, source: Path | None = None) -> int:
    """A consistent copy of the log at ``target`` (0600, written whole, never over a file
    without ``force``); the number of entries it holds."""
    from voice_coach.files.export import write_whole

    source = source or log_path()
    if not source.exists():
        raise UsageError(
            _("{file}: there is no practice log yet").format(file=source), _("nothing to back up")
        )
    counted: list[int] = []

    def fill(temp: Path) -> None:
        with PracticeLog(source, create=False) as log, _connect(temp) as copy:
            log.copy_to(copy)
            counted.append(copy.execute("SELECT count(*) FROM sessions").fetchone()[0])
            copy.execute("PRAGMA journal_mode = DELETE")  # one file, whole by itself

    write_whole(target, fill, force=force, private=True)
    return int(counted[0])


def check_log_file(path: Path) -> int:
    """``path`` is a practice log this voice-coach can read (this or an older schema,
    whole by ``PRAGMA integrity_check``): its number of entries; else a one-line error."""
    if not path.is_file():
        raise UsageError(_("{file}: no such file").format(file=path))
    try:
        with contextlib.closing(_read_only(path)) as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise UsageError(
                    _(
                        "{file}: was written by a newer voice-coach (log version {version}; "
                        "this one reads up to {known}); nothing was changed"
                    ).format(file=path, version=version, known=SCHEMA_VERSION)
                )
            if db.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                raise UsageError(
                    _("{file}: is damaged (integrity check); nothing was changed").format(file=path)
                )
            columns = {row[1] for row in db.execute("PRAGMA table_info(sessions)")}
            if version < 1 or not set(REQUIRED) <= columns:
                raise sqlite3.DatabaseError("no sessions table")
            return int(db.execute("SELECT count(*) FROM sessions").fetchone()[0])
    except sqlite3.DatabaseError:
        raise UsageError(
            _("{file}: is not a voice-coach practice log; nothing was changed").format(file=path)
        ) from None


def restore(source: Path, *, target: Path | None = None) -> tuple[int, Path | None]:
    """Replace the log's entries with ``source``'s: checked first, the current log saved
    as ``log.sqlite3.bak`` beside it, then ``source`` copied in with the backup API.
    The entries now in the log, and where the old ones were saved (``None``: no log)."""
    count = check_log_file(source)
    target = target or log_path()
    saved = None
    if target.exists():
        saved = target.with_name(target.name + ".bak")
        backup(saved, force=True, source=target)
    reader = contextlib.closing(_read_only(source))
    with reader as src, PracticeLog(target) as log:
        log.copy_from(src)
    with PracticeLog(target):  # an older schema brought up to this one
        pass
    return count, saved


def import_rows(path: Path, *, target: Path | None = None) -> Imported:
    """Entries from a file ``history --json`` or ``--csv`` wrote; one already in the log
    (the same ``started_at`` with its offset, protocol and program) is skipped."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = os_reason(exc) if isinstance(exc, OSError) else _("not UTF-8 text")
        raise UsageError(
            _("{file}: cannot be read ({reason})").format(file=path, reason=reason)
        ) from None
    checked = [
        (_order(row.get("id"), number), _checked(row, path, number))
        for number, row in _rows(text, path)
    ]
    checked.sort(key=lambda pair: pair[0])  # as they came into their own log
    entries = [entry for _, entry in checked]
    with PracticeLog(target) as log:
        added = log.import_entries(entries)
    return Imported(added=added, skipped=len(entries) - added)


def _rows(text: str, path: Path) -> list[tuple[int, Mapping[str, object]]]:
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UsageError(
                _("{file}: is not valid JSON (line {line})").format(file=path, line=exc.lineno)
            ) from None
        if not isinstance(data, list) or not all(isinstance(row, dict) for row in data):
            raise UsageError(
                _("{file}: must be a JSON list of objects, as history --json writes").format(
                    file=path
                )
            )
        return list(enumerate(data, start=1))
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or not set(REQUIRED) <= set(reader.fieldnames):
        raise UsageError(
            _("{file}: is neither history --json's JSON nor its CSV (columns: {columns})").format(
                file=path, columns=", ".join(COLUMNS)
            )
        )
    return [
        (number, {key: (value if value != "" else None) for key, value in row.items()})
        for number, row in enumerate(reader, start=2)
    ]


def _checked(row: Mapping[str, object], path: Path, number: int) -> dict[str, object]:
    """One entry's columns, typed and checked, or a one-line error naming the row."""

    def bad(key: str) -> UsageError:
        return UsageError(
            _("{file}: entry {n}: {key}: {value!r} cannot be read").format(
                file=path, n=number, key=key, value=row.get(key)
            )
        )

    entry_id = row.get("id")
    out: dict[str, object] = {"id": int(entry_id) if str(entry_id).isdigit() else None}
    for key in COLUMNS:
        if key == "id":
            continue
        value = row.get(key)
        try:
            if key in ("started_at", "ended_at"):
                out[key] = None if value is None else datetime.fromisoformat(str(value))
                if out[key] is not None and out[key].tzinfo is None:  # type: ignore[union-attr]
                    raise ValueError
            elif key in ("stage", "reps_planned", "sets", "reps_done", "skipped", "pain"):
                out[key] = None if value is None else int(str(value))
            elif key in ("hold_s", "relax_s", "pace"):
                out[key] = None if value is None else float(str(value))
            else:
                out[key] = None if value is None else str(value)
        except ValueError:
            raise bad(key) from None
    for key in REQUIRED:
        if out.get(key) is None:
            raise bad(key)
    if out["ended"] not in ENDINGS:
        raise bad("ended")
    pain = out.get("pain")
    if pain is not None and not 0 <= pain <= 10:  # type: ignore[operator]
        raise bad("pain")
    out["sets"] = out.get("sets") or 1
    out["pace"] = out.get("pace") or 1.0
    out["reps_done"] = out.get("reps_done") or 0
    out["skipped"] = out.get("skipped") or 0
    return out


def _read_only(path: Path) -> sqlite3.Connection:
    """``path`` opened by SQLite for reading only (a relative path included)."""
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)


def _order(entry_id: object, number: int) -> float:
    """Where an entry came in its own log (its id); else where it stood in the file,
    counted back (the files list newest first)."""
    try:
        return float(str(entry_id))
    except ValueError:
        return -float(number)


def _connect(path: Path) -> contextlib.closing[sqlite3.Connection]:
    path.touch(mode=PRIVATE_FILE)
    return contextlib.closing(sqlite3.connect(path))
