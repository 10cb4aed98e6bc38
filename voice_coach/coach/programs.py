"""Programs: stages of a protocol that move forward as sessions are done, and back with pain.

A program is a TOML file (built-ins ship in ``voice_coach/programs/``) read through the
protocol loader's machinery, so it gets the same bounds and one-line errors. Where a
user stands in a program is never stored: it is replayed from the practice log each
time (``stage_state``), so a deleted entry or an edited program file is simply taken
into account, and the rules stay a pure function that tests drive from tables.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from voice_coach.core.protocol import MAX_PHASE_S, MAX_REPS, MAX_SETS, MIN_PHASE_S, Pace, apply_pace
from voice_coach.errors import ProtocolError, UsageError
from voice_coach.files.loader import (
    _known_keys,
    _seconds,
    _table,
    _text,
    load_protocol,
    read_toml,
    shipped_names,
)

if TYPE_CHECKING:
    from voice_coach.coach.log import LogEntry

PROGRAMS_PACKAGE = "voice_coach.programs"
MAX_STAGES = 50
MAX_SESSIONS_PER_DAY = 24
TOP_KEYS = {"name", "title", "description", "about", "sessions_per_day", "stages"}
STAGE_KEYS = {"protocol", "reps", "sets", "hold_s", "relax_s", "pace", "advance", "step_back"}
ADVANCE_KEYS = {"sessions", "days"}
STEP_BACK_KEYS = {"pain_rise"}


@dataclass(frozen=True)
class Stage:
    """A protocol with overrides, and when to leave it.

    ``advance_sessions`` completed sessions on at least ``advance_days`` different days
    move on (``None``: the last stage, or one that holds); a pain rating
    ``step_back_pain_rise`` or more above the one the stage began with goes back one.
    """

    protocol: str
    pace: Pace
    advance_sessions: int | None = None
    advance_days: int = 1
    step_back_pain_rise: int | None = None

    def summary(self) -> str:
        parts = [self.protocol]
        pace = self.pace
        if pace.reps is not None:
            parts.append(f"{pace.reps} reps")
        if pace.sets is not None:
            parts.append(f"{pace.sets} sets")
        if pace.hold_s is not None:
            parts.append(f"{pace.hold_s:g} s hold")
        if pace.relax_s is not None:
            parts.append(f"{pace.relax_s:g} s relax")
        if pace.factor != 1.0:
            parts.append(f"pace x{pace.factor:g}")
        return ", ".join(parts)

    def rules(self) -> str:
        rules = []
        if self.advance_sessions is not None:
            days = f" on {self.advance_days} different days" if self.advance_days > 1 else ""
            rules.append(f"moves on after {self.advance_sessions} completed sessions{days}")
        if self.step_back_pain_rise is not None:
            rules.append(f"back one stage if pain rises by {self.step_back_pain_rise} or more")
        return "; ".join(rules)


@dataclass(frozen=True)
class Program:
    name: str
    title: str
    description: str
    about: str
    sessions_per_day: int
    stages: tuple[Stage, ...]
    source: str = "built-in"


@dataclass(frozen=True)
class StageState:
    """Where the log puts the user in a program: the stage (from 0), what was done in it,
    the rating it began with, and why it is this stage, in words."""

    stage: int
    completed: int
    days: int
    began_pain: int | None
    why: str


@dataclass(frozen=True)
class NextSession:
    """Today's next session of a program: what to play (``protocol`` with ``pace``), why,
    and how many of the day's sessions are done. What ``run --program`` and
    ``export --program`` play."""

    program: Program
    stage_number: int  # from 1
    stage: Stage
    why: str
    done_today: int

    @property
    def protocol(self) -> str:
        return self.stage.protocol

    @property
    def pace(self) -> Pace:
        return self.stage.pace

    @property
    def progress(self) -> str:
        """The stage's place in the program, and what the day's sessions say."""
        of = len(self.program.stages)
        per_day = self.program.sessions_per_day
        return (
            f"stage {self.stage_number} of {of}; "
            f"{self.done_today} of {per_day} session{'s' if per_day != 1 else ''} done today"
        )


def builtin_program_names() -> list[str]:
    return shipped_names(PROGRAMS_PACKAGE)


def load_program(name_or_path: str | Path) -> Program:
    """A built-in program by name, or a program file by path."""
    raw, where, source = read_toml(name_or_path, PROGRAMS_PACKAGE, "program", builtin_program_names)
    folder = Path(source).parent if source != "built-in" else None
    return _program_from(raw, where, source, folder)


def _program_from(raw: dict[str, Any], where: str, source: str, folder: Path | None) -> Program:
    _known_keys(raw, TOP_KEYS, where, "")
    name = _text(raw, "name", where, "", required=True) or ""
    stages = raw.get("stages")
    if not isinstance(stages, list) or not stages or not all(isinstance(s, dict) for s in stages):
        raise ProtocolError(f"{where}: stages: a program needs at least one [[stages]] table")
    if len(stages) > MAX_STAGES:
        raise ProtocolError(f"{where}: stages: {len(stages)} stages; the limit is {MAX_STAGES}")
    return Program(
        name=name,
        title=_text(raw, "title", where, "", required=False) or name,
        description=_text(raw, "description", where, "", required=True) or "",
        about=_text(raw, "about", where, "", required=False, limit=4000) or "",
        sessions_per_day=_count(raw, "sessions_per_day", where, "", MAX_SESSIONS_PER_DAY) or 1,
        stages=tuple(
            _stage(item, where, f"stages[{index}].", folder)
            for index, item in enumerate(stages, start=1)
        ),
        source=source,
    )


def _stage(raw: Mapping[str, Any], where: str, prefix: str, folder: Path | None) -> Stage:
    _known_keys(raw, STAGE_KEYS, where, prefix)
    protocol = _text(raw, "protocol", where, prefix, required=True) or ""
    try:
        pace = Pace(
            reps=_count(raw, "reps", where, prefix, MAX_REPS),
            sets=_count(raw, "sets", where, prefix, MAX_SETS),
            hold_s=_optional(
                raw,
                "hold_s",
                lambda: _seconds(raw, "hold_s", where, None, MIN_PHASE_S, MAX_PHASE_S, prefix),
            ),
            relax_s=_optional(
                raw,
                "relax_s",
                lambda: _seconds(raw, "relax_s", where, None, MIN_PHASE_S, MAX_PHASE_S, prefix),
            ),
            factor=_pace_factor(raw.get("pace", 1.0)),
        )
        beside = folder / protocol if folder is not None else None
        if beside is not None and not _is_builtin_name(protocol) and beside.exists():
            protocol = str(beside)
        apply_pace(load_protocol(protocol), pace)  # a stage that cannot play is refused now
    except UsageError as exc:
        message = exc.message.removeprefix(f"{where}: ")
        raise ProtocolError(f"{where}: {prefix[:-1]}: {message}", exc.hint) from None
    advance = _table(raw, "advance", where, prefix)
    _known_keys(advance, ADVANCE_KEYS, where, prefix + "advance.")
    step_back = _table(raw, "step_back", where, prefix)
    _known_keys(step_back, STEP_BACK_KEYS, where, prefix + "step_back.")
    return Stage(
        protocol=protocol,
        pace=pace,
        advance_sessions=_count(advance, "sessions", where, prefix + "advance.", 1000),
        advance_days=_count(advance, "days", where, prefix + "advance.", 1000) or 1,
        step_back_pain_rise=_count(step_back, "pain_rise", where, prefix + "step_back.", 10),
    )


def _optional(raw: Mapping[str, Any], key: str, read: Any) -> Any:
    return read() if key in raw else None


def _pace_factor(value: object) -> float:
    from voice_coach.core.protocol import parse_pace_factor

    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise UsageError(f"pace: must be slow, normal, fast or a factor, got {value!r}")
    return parse_pace_factor(str(value))


def _count(raw: Mapping[str, Any], key: str, where: str, prefix: str, high: int) -> int | None:
    if key not in raw:
        return None
    value = raw[key]
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
        raise ProtocolError(f"{where}: {prefix}{key}: must be a whole number from 1 to {high}")
    return value


def _is_builtin_name(protocol: str) -> bool:
    from voice_coach.files.loader import builtin_names

    return protocol in builtin_names()


# --- the rules: pure, from the log's entries ------------------------------------------------


def stage_state(program: Program, entries: Sequence[LogEntry]) -> StageState:
    """Replay the program's entries (oldest first) through its rules.

    Each rated entry is checked first: a rating ``step_back_pain_rise`` or more above the
    one the stage began with (the last rating before it, else its first) goes back one
    stage (at the first stage, it starts the stage's count again). Otherwise a completed
    entry counts towards the stage, and once its sessions and days are reached (and it is
    not the last stage) the next stage begins. Counts start afresh in every stage.
    """
    stage, completed, days = 0, 0, set[date]()
    last_pain: int | None = None
    began_pain: int | None = None
    why = "the first stage: no sessions of this program yet" if not entries else ""
    for entry in entries:
        rules = program.stages[stage]
        if entry.pain is not None:
            if began_pain is None:
                began_pain = entry.pain
            rise = rules.step_back_pain_rise
            if rise is not None and entry.pain - began_pain >= rise:
                why = (
                    f"pain rose from {began_pain} to {entry.pain} on {entry.day.isoformat()}: "
                    + ("back one stage" if stage > 0 else "this stage starts again")
                )
                stage = max(0, stage - 1)
                completed, days, began_pain = 0, set(), entry.pain
                last_pain = entry.pain
                continue
            last_pain = entry.pain
        if entry.completed:
            completed += 1
            days.add(entry.day)
            if (
                rules.advance_sessions is not None
                and stage + 1 < len(program.stages)
                and completed >= rules.advance_sessions
                and len(days) >= rules.advance_days
            ):
                why = (
                    f"moved on after {completed} completed sessions on {len(days)} "
                    f"day{'s' if len(days) != 1 else ''}"
                )
                stage += 1
                completed, days, began_pain = 0, set(), last_pain
    rules = program.stages[stage]
    if rules.advance_sessions is not None and stage + 1 < len(program.stages):
        left = (
            f"{completed} of {rules.advance_sessions} completed sessions, "
            f"on {len(days)} of {rules.advance_days} days, to move on"
        )
    elif stage + 1 == len(program.stages):
        left = "the last stage"
    else:
        left = "this stage holds"
    why = f"{why}; {left}" if why else left
    return StageState(stage, completed, len(days), began_pain, why)


def next_session(program: Program, entries: Sequence[LogEntry], now: datetime) -> NextSession:
    """Today's next session of ``program``, from its log entries (oldest first).

    ``now`` is an aware local time: it decides which entries are today's.
    """
    mine = [entry for entry in entries if entry.shape.program == program.name]
    state = stage_state(program, mine)
    today = now.date()
    done_today = sum(1 for entry in mine if entry.completed and entry.day == today)
    return NextSession(
        program=program,
        stage_number=state.stage + 1,
        stage=program.stages[state.stage],
        why=state.why,
        done_today=done_today,
    )
