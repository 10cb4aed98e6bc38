"""Programs: stages of a protocol that move forward as sessions are done, and back with pain.

A program is a TOML file (built-ins ship in ``voice_coach/programs/``) read through the
protocol loader's machinery, so it gets the same bounds and one-line errors. Where a
user stands in a program is never stored: it is replayed from the practice log each
time (``stage_state``), so a deleted entry or an edited program file is simply taken
into account, and the rules stay a pure function that tests drive from tables.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from voice_coach.coach.stats import on_days_words, reps_words, sets_words
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
from voice_coach.i18n import _, language_code, language_in_use, ngettext, number

if TYPE_CHECKING:
    from voice_coach.coach.log import LogEntry

PROGRAMS_PACKAGE = "voice_coach.programs"
MAX_STAGES = 50
MAX_SESSIONS_PER_DAY = 24
TOP_KEYS = {
    "name",
    "title",
    "description",
    "about",
    "sessions_per_day",
    "pain",
    "stages",
    "translations",
}
PROGRAM_WORDS = ("title", "description", "about")  # what [translations.LANG] may hold
STAGE_KEYS = {"protocol", "reps", "sets", "hold_s", "relax_s", "pace", "advance", "step_back"}
ADVANCE_KEYS = {"sessions", "days"}
STEP_BACK_KEYS = {"pain_rise"}


@dataclass(frozen=True)
class PainRules:
    """How pain ratings (0-10) move a user in a program: the ``[pain]`` table of a program
    file. Each key may be made stricter, never looser than the default (``PAIN_BOUNDS``):
    a program cannot turn the safety rules off."""

    move_up_at_most: int = 5  # the stage's latest rating must be at most this...
    move_up_floor: int = 3  # ...and at most max(this, the stage's baseline)
    stop_at: int = 7  # a rating this high: stop for today, back one stage
    rise_from: int = 5  # a rating this high...
    rise_by: int = 2  # ...this much above the previous rating or the baseline: back one
    clinician_days: int = 3  # ratings of stop_at or more on this many days...
    clinician_window_days: int = 14  # ...within this many: see a clinician, hold


PAIN_BOUNDS = {  # key: (lowest, highest) a program file may set
    "move_up_at_most": (0, 5),
    "move_up_floor": (0, 3),
    "stop_at": (1, 7),
    "rise_from": (1, 5),
    "rise_by": (1, 2),
    "clinician_days": (1, 3),
    "clinician_window_days": (14, 365),
}


@dataclass(frozen=True)
class Stage:
    """A protocol with overrides, and when to leave it.

    ``advance_sessions`` completed sessions on at least ``advance_days`` different days
    move on (``None``: the last stage, or one that holds); ``step_back_pain_rise``, if
    set, is this stage's ``PainRules.rise_by`` (within the same bounds).
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
            parts.append(reps_words(pace.reps))
        if pace.sets is not None:
            parts.append(sets_words(pace.sets))
        if pace.hold_s is not None:
            parts.append(_("{seconds} s hold").format(seconds=number(pace.hold_s)))
        if pace.relax_s is not None:
            parts.append(_("{seconds} s relax").format(seconds=number(pace.relax_s)))
        if pace.factor != 1.0:
            parts.append(_("pace x{factor}").format(factor=number(pace.factor)))
        return ", ".join(parts)

    def rules(self) -> str:
        if self.advance_sessions is None:
            return ""
        sessions = self.advance_sessions
        if self.advance_days > 1:
            return ngettext(
                "moves on after {n} completed session on {days} different days",
                "moves on after {n} completed sessions on {days} different days",
                sessions,
            ).format(n=sessions, days=self.advance_days)
        return ngettext(
            "moves on after {n} completed session",
            "moves on after {n} completed sessions",
            sessions,
        ).format(n=sessions)


@dataclass(frozen=True)
class Program:
    name: str
    title: str
    description: str
    about: str
    sessions_per_day: int
    stages: tuple[Stage, ...]
    source: str = "built-in"
    pain: PainRules = field(default_factory=PainRules)

    def rules_at(self, stage: int) -> PainRules:
        """The pain rules in force at ``stage`` (from 0): a stage may set its own rise."""
        rise = self.stages[stage].step_back_pain_rise
        return self.pain if rise is None else replace(self.pain, rise_by=rise)

    def pain_rules_text(self) -> list[str]:
        """The pain rules in plain words, as ``programs show`` explains them."""
        rules = self.pain
        rises = sorted({self.rules_at(n).rise_by for n in range(len(self.stages))})
        rise = _(" or ").join(str(value) for value in rises)
        return [
            _(
                "Moving up also needs the stage's last pain rating, if any, to be {most} or "
                "less, and no higher than the rating the stage began with (or {floor}, if "
                "that is higher)."
            ).format(most=rules.move_up_at_most, floor=rules.move_up_floor),
            _("A rating of {stop_at} or more: stop for today, and back one stage.").format(
                stop_at=rules.stop_at
            ),
            _(
                "A rating of {rise_from} or more that is {rise} or more above the one before, "
                "or above where the stage began: back one stage."
            ).format(rise_from=rules.rise_from, rise=rise),
            _("{condition}: see a clinician; the program holds until a lower rating.").format(
                condition=sentence(clinician_rule(rules))
            ),
        ]


@dataclass(frozen=True)
class Move:
    """A change of stage (from 1), or a first stage started again, and why."""

    day: date
    from_stage: int
    to_stage: int
    reason: str


@dataclass(frozen=True)
class StageState:
    """Where the log puts the user in a program: the stage (from 0), what was done in it,
    the rating it began with, and why it is this stage, in words."""

    stage: int
    completed: int
    days: int
    began_pain: int | None
    why: str
    held: str | None = None  # why pain keeps the user here, if it does
    see_clinician: bool = False
    last_alarm: date | None = None  # the day of the latest rating of stop_at or more
    moves: tuple[Move, ...] = ()  # oldest first


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
    stop_today: bool = False  # a rating of stop_at or more today: skip the exercise
    see_clinician: bool = False

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
        return _("stage {stage} of {stages}; {done} done today").format(
            stage=self.stage_number,
            stages=of,
            done=ngettext("{done} of {n} session", "{done} of {n} sessions", per_day).format(
                done=self.done_today, n=per_day
            ),
        )


def builtin_program_names() -> list[str]:
    return shipped_names(PROGRAMS_PACKAGE)


def load_program(name_or_path: str | Path, language: str | None = None) -> Program:
    """A built-in program by name, or a program file by path, with its words (title,
    description, about) in ``language`` where the file has them (``[translations.de]``,
    as a protocol file has); ``None``: the language the screens are in."""
    raw, where, source = read_toml(name_or_path, PROGRAMS_PACKAGE, "program", builtin_program_names)
    folder = Path(source).parent if source != "built-in" else None
    program = _program_from(raw, where, source, folder)
    words = _program_words(raw, where).get(language_code(language or language_in_use()) or "")
    return replace(program, **words) if words else program


def _program_words(raw: Mapping[str, Any], where: str) -> dict[str, dict[str, str]]:
    """The ``[translations.LANG]`` tables of a program file, checked, by language code."""
    found = {}
    for code, words in _table(raw, "translations", where, "").items():
        prefix = f"translations.{code}."
        if not isinstance(words, dict):
            raise ProtocolError(
                _("{where}: translations.{code}: must be a table of words").format(
                    where=where, code=code
                )
            )
        _known_keys(words, set(PROGRAM_WORDS), where, prefix)
        texts = {
            key: _text(words, key, where, prefix, required=False, **_limit(key))
            for key in PROGRAM_WORDS
        }
        found[str(code).lower()] = {key: value for key, value in texts.items() if value}
    return found


def _limit(key: str) -> dict[str, int]:
    """The length a program's text may have: ``about`` is paragraphs, the rest a line."""
    return {"limit": 4000} if key == "about" else {}


def _program_from(raw: dict[str, Any], where: str, source: str, folder: Path | None) -> Program:
    _known_keys(raw, TOP_KEYS, where, "")
    name = _text(raw, "name", where, "", required=True) or ""
    stages = raw.get("stages")
    if not isinstance(stages, list) or not stages or not all(isinstance(s, dict) for s in stages):
        raise ProtocolError(
            _("{where}: stages: a program needs at least one [[stages]] table").format(where=where)
        )
    if len(stages) > MAX_STAGES:
        raise ProtocolError(
            _("{where}: stages: {count} stages; the limit is {MAX_STAGES}").format(
                where=where, count=len(stages), MAX_STAGES=MAX_STAGES
            )
        )
    return Program(
        name=name,
        title=_text(raw, "title", where, "", required=False) or name,
        description=_text(raw, "description", where, "", required=True) or "",
        about=_text(raw, "about", where, "", required=False, **_limit("about")) or "",
        sessions_per_day=_count(raw, "sessions_per_day", where, "", MAX_SESSIONS_PER_DAY) or 1,
        pain=_pain_rules(_table(raw, "pain", where, ""), where),
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
        step_back_pain_rise=_bounded(
            step_back, "pain_rise", where, prefix + "step_back.", PAIN_BOUNDS["rise_by"]
        ),
    )


def _pain_rules(raw: Mapping[str, Any], where: str) -> PainRules:
    _known_keys(raw, set(PAIN_BOUNDS), where, "pain.")
    values = {key: _bounded(raw, key, where, "pain.", PAIN_BOUNDS[key]) for key in raw}
    return PainRules(**values)


def _bounded(
    raw: Mapping[str, Any], key: str, where: str, prefix: str, bounds: tuple[int, int]
) -> int | None:
    if key not in raw:
        return None
    low, high = bounds
    value = raw[key]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ProtocolError(
            _("{where}: {prefix}{key}: must be a whole number from {low} to {high}").format(
                where=where, prefix=prefix, key=key, low=low, high=high
            )
        )
    return value


def _optional(raw: Mapping[str, Any], key: str, read: Any) -> Any:
    return read() if key in raw else None


def _pace_factor(value: object) -> float:
    from voice_coach.core.protocol import pace_factor

    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise UsageError(
            _("pace: must be slow, normal, fast or a factor, got {value!r}").format(value=value)
        )
    return pace_factor(str(value))


def _count(raw: Mapping[str, Any], key: str, where: str, prefix: str, high: int) -> int | None:
    return _bounded(raw, key, where, prefix, (1, high))


def _is_builtin_name(protocol: str) -> bool:
    from voice_coach.files.loader import builtin_names

    return protocol in builtin_names()


# --- the rules: pure, from the log's entries ------------------------------------------------


def worrying_rise(pain: int, previous: int | None, began: int | None, rules: PainRules) -> bool:
    """A rating of ``rules.rise_from`` or more that is ``rules.rise_by`` or more above the
    previous rating or above the stage's baseline: a slow creep counts, everyday noise
    (1 then 3) does not."""
    if pain < rules.rise_from:
        return False
    return any(base is not None and pain - base >= rules.rise_by for base in (previous, began))


def stage_state(program: Program, entries: Sequence[LogEntry]) -> StageState:
    """Replay the program's entries (oldest first) through its pain rules.

    The baseline B of a stage is the last rating before it began, else its first. A
    rating of ``stop_at`` or more, or a worrying rise (``worrying_rise``), goes back one
    stage (at the first, the stage starts again), and that rating stays the stage's
    latest until a new one, so unrated sessions cannot carry a hurting user up. A stage
    is left when its sessions and days are reached and its latest rating, if any, is at
    most ``move_up_at_most`` and at most max(``move_up_floor``, B), unless ratings of
    ``stop_at`` or more came on ``clinician_days`` days within ``clinician_window_days``
    and no lower rating has come since. Counts start afresh in every stage.
    """
    rules = program.pain
    stage, completed, days = 0, 0, set[date]()
    began: int | None = None  # B
    latest: int | None = None  # the stage's latest rating
    previous: int | None = None  # the program's rating before the one being read
    alarm_days: list[date] = []
    moves: list[Move] = []
    clinician = False
    last_alarm: date | None = None
    why = _("the first stage: no sessions of this program yet") if not entries else ""
    for entry in entries:
        if entry.pain is not None:
            pain = entry.pain
            if began is None:
                began = pain
            if pain >= rules.stop_at:
                last_alarm = entry.day
                window = entry.day - timedelta(days=rules.clinician_window_days - 1)
                alarm_days = [day for day in alarm_days if window <= day != entry.day]
                alarm_days.append(entry.day)
                clinician = len(alarm_days) >= rules.clinician_days
            else:
                clinician = False
            high = pain >= rules.stop_at
            in_force = program.rules_at(stage)
            rise = not high and worrying_rise(pain, previous, began, in_force)
            base = previous if rise and worrying_rise(pain, previous, None, in_force) else began
            previous = latest = pain
            if high or rise:
                if high:
                    cause = _("a rating of {pain}").format(pain=pain)
                else:
                    cause = _("pain rose from {before} to {pain}").format(before=base, pain=pain)
                step = _("back one stage") if stage > 0 else _("this stage starts again")
                why = _("{cause} on {day}: {step}").format(
                    cause=cause, day=entry.day.isoformat(), step=step
                )
                # A first stage started again says so: "1 -> 1" alone reads as a slip.
                reason = cause if stage > 0 else _("{cause}: {step}").format(cause=cause, step=step)
                moves.append(Move(entry.day, stage + 1, max(1, stage), reason))
                stage = max(0, stage - 1)
                completed, days, began = 0, set(), pain
                continue
        if entry.completed:
            completed += 1
            days.add(entry.day)
        stage_rules = program.stages[stage]
        if (
            stage_rules.advance_sessions is not None
            and stage + 1 < len(program.stages)
            and completed >= stage_rules.advance_sessions
            and len(days) >= stage_rules.advance_days
            and _pain_hold(rules, began, latest, clinician) is None
        ):
            why = ngettext(
                "moved on after {n} completed session {on_days}",
                "moved on after {n} completed sessions {on_days}",
                completed,
            ).format(n=completed, on_days=on_days_words(len(days)))
            moves.append(Move(entry.day, stage + 1, stage + 2, why))
            stage += 1
            completed, days, began, latest = 0, set(), previous, None
    stage_rules = program.stages[stage]
    held = _pain_hold(rules, began, latest, clinician)
    if stage_rules.advance_sessions is not None and stage + 1 < len(program.stages):
        left = ngettext(
            "{done} of {n} completed session, on {days} of {need} days, to move on",
            "{done} of {n} completed sessions, on {days} of {need} days, to move on",
            stage_rules.advance_sessions,
        ).format(
            done=completed,
            n=stage_rules.advance_sessions,
            days=len(days),
            need=stage_rules.advance_days,
        )
    elif stage + 1 == len(program.stages):
        left = _("the last stage")
    else:
        left = _("this stage holds")
    reasons = [reason for reason in (why, left) if reason]
    if held is not None and stage + 1 < len(program.stages):
        reasons.append(_("held at stage {stage}: {why}").format(stage=stage + 1, why=held))
    return StageState(
        stage=stage,
        completed=completed,
        days=len(days),
        began_pain=began,
        why=_("; ").join(reasons),
        held=held,
        see_clinician=clinician,
        last_alarm=last_alarm,
        moves=tuple(moves),
    )


def _pain_hold(
    rules: PainRules, began: int | None, latest: int | None, clinician: bool
) -> str | None:
    """Why pain keeps a user in their stage, in words; ``None`` when it does not."""
    if clinician:
        return _("{condition}; see a clinician before going on").format(
            condition=clinician_rule(rules)
        )
    if latest is None:
        return None
    if latest > rules.move_up_at_most:
        return _("the last rating, {pain}, is above {most}").format(
            pain=latest, most=rules.move_up_at_most
        )
    limit = max(rules.move_up_floor, began if began is not None else 0)
    if latest > limit:
        return _("the last rating, {pain}, is above {limit}, where this stage began").format(
            pain=latest, limit=limit
        )
    return None


def clinician_rule(rules: PainRules) -> str:
    """When the rules send a user to a clinician, in words: "pain of 7 or more on 3 days
    within 14 days" (the one wording of it, wherever it is shown)."""
    return ngettext(
        "pain of {stop_at} or more on {days} day within {window} days",
        "pain of {stop_at} or more on {days} days within {window} days",
        rules.clinician_days,
    ).format(stop_at=rules.stop_at, days=rules.clinician_days, window=rules.clinician_window_days)


def sentence(text: str) -> str:
    """``text`` with a capital first letter, to begin a sentence."""
    return text[:1].upper() + text[1:]


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
        stop_today=state.last_alarm == today,
        see_clinician=state.see_clinician,
    )
