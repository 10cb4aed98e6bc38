"""Protocols and paces as frozen values, and the rules a usable session must keep.

A protocol is what a physiotherapist writes (phases per rep, words, defaults); a pace is
what the user changes on the command line. ``apply_pace`` turns the two into the protocol
that is actually played, and refuses anything that cannot make a sensible session.
"""

from __future__ import annotations

import math
import string
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from voice_coach.errors import FieldError, ProtocolError, UsageError
from voice_coach.i18n import _

MIN_PHASE_S = 0.5
MAX_PHASE_S = 600.0
MAX_REST_S = 1800.0
MAX_LEAD_IN_S = 120.0
MAX_REPS = 1000
MAX_SETS = 100
MAX_SESSION_S = 4 * 3600.0
MAX_TEXT_CHARS = 300
PACE_PRESETS: Mapping[str, float] = {"slow": 1.5, "normal": 1.0, "fast": 0.75}
MIN_PACE_FACTOR = 0.25
MAX_PACE_FACTOR = 4.0
TEMPLATE_FIELDS = frozenset({"reps", "sets", "set", "rep", "rest"})
_SESSION_FIELDS = frozenset({"reps", "sets", "rest"})
# Where each placeholder has a value: a text said once per session knows the session's
# numbers; one said in a set knows the set; a phase's words and the halfway remark are
# said in a rep and know it. ("Last one" is said before the last rep: that rep is {reps}.)
PLACEHOLDERS: Mapping[str, frozenset[str]] = {
    "start": _SESSION_FIELDS,
    "set_start": _SESSION_FIELDS | {"set"},
    "halfway": _SESSION_FIELDS | {"set", "rep"},
    "last_rep": _SESSION_FIELDS | {"set"},
    "rest": _SESSION_FIELDS | {"set"},
    "end": _SESSION_FIELDS,
    "say": TEMPLATE_FIELDS,
}

CUE_TEXT_KEYS = ("start", "set_start", "halfway", "last_rep", "rest", "end")

CountStyle = Literal["up", "down"]
PhaseKind = Literal["hold", "relax", "other"]


@dataclass(frozen=True)
class Phase:
    """One step of a rep: its words are said at its start, then it lasts ``seconds``.

    ``count`` speaks the seconds inside the phase ("Squeeze, two, three") counting up or
    down; ``kind`` lets ``--hold`` and ``--relax`` reach the right phases of any protocol.
    """

    name: str
    seconds: float
    say: str | None = None
    tone: str | None = None
    kind: PhaseKind = "other"
    count: CountStyle | None = None


@dataclass(frozen=True)
class SessionCues:
    """Words said around the reps. Any may be ``None`` to stay silent.

    Texts may use ``{reps}``, ``{sets}``, ``{set}``, ``{rep}`` and ``{rest}`` (seconds).
    """

    start: str | None = None
    set_start: str | None = None
    halfway: str | None = None
    last_rep: str | None = None
    rest: str | None = None
    rest_countdown: int = 3
    end: str | None = None
    pain_question: str | None = None  # asked after a live session, never in it


@dataclass(frozen=True)
class Translation:
    """The words of a protocol in another language; anything missing stays as it was."""

    title: str | None = None
    description: str | None = None
    about: str | None = None
    safety: str | None = None
    phases: Mapping[str, str] = field(default_factory=dict)
    cues: Mapping[str, str] = field(default_factory=dict)
    numbers: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Protocol:
    """A session as its file describes it, in the words of ``language``.

    ``safety`` is the note shown before a session and written into its exports: the
    protocol's own, or the general one shipped for its language (the loader fills it).
    """

    name: str
    title: str
    description: str
    phases: tuple[Phase, ...]
    about: str = ""
    safety: str = ""
    language: str = "en"
    reps: int = 10
    sets: int = 1
    rest_s: float = 30.0
    lead_in_s: float = 5.0
    set_intro_s: float = 3.0
    cues: SessionCues = field(default_factory=SessionCues)
    numbers: tuple[str, ...] = ()
    translations: Mapping[str, Translation] = field(default_factory=dict)
    source: str = "built-in"

    @property
    def rep_s(self) -> float:
        return sum(phase.seconds for phase in self.phases)

    @property
    def languages(self) -> tuple[str, ...]:
        return (self.language, *sorted(set(self.translations) - {self.language}))


@dataclass(frozen=True)
class Pace:
    """What the user changed: each ``None`` keeps the protocol's own value.

    ``factor`` stretches every duration of the protocol (phases, rests, lead-in) after
    the other values are applied; counts stay one second apart.
    """

    reps: int | None = None
    sets: int | None = None
    rest_s: float | None = None
    lead_in_s: float | None = None
    hold_s: float | None = None
    relax_s: float | None = None
    phase_s: Mapping[str, float] = field(default_factory=dict)
    factor: float = 1.0


def pace_factor(value: str | float) -> float:
    """``slow``, ``normal``, ``fast`` or a positive factor such as ``1.25`` (a pace as a
    protocol, program or settings file gives it)."""
    preset = PACE_PRESETS.get(str(value).strip().lower())
    if preset is not None:
        return preset
    try:
        factor = float(value)
    except ValueError:
        factor = math.nan
    if not (math.isfinite(factor) and MIN_PACE_FACTOR <= factor <= MAX_PACE_FACTOR):
        presets = ", ".join(f"{k} (x{v:g})" for k, v in PACE_PRESETS.items())
        raise FieldError(
            "pace",
            _(
                "must be a preset or a factor from {MIN_PACE_FACTOR:g} to {MAX_PACE_FACTOR:g}, got "
                "{value!r}"
            ).format(
                MIN_PACE_FACTOR=MIN_PACE_FACTOR, MAX_PACE_FACTOR=MAX_PACE_FACTOR, value=str(value)
            ),
            _("presets: {presets}").format(presets=presets),
        )
    return factor


def check_seconds(where: str, seconds: float, low: float, high: float) -> float:
    """A finite duration within bounds, or an error that names the field it is about."""
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise FieldError(
            where, _("must be a number of seconds, got {seconds!r}").format(seconds=seconds)
        )
    if not math.isfinite(seconds) or not low <= seconds <= high:
        raise FieldError(
            where,
            _("must be from {low:g} to {high:g} seconds, got {seconds:g}").format(
                low=low, high=high, seconds=seconds
            ),
        )
    return float(seconds)


def check_count(where: str, value: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise FieldError(where, _("must be a whole number, got {value!r}").format(value=value))
    if not 1 <= value <= high:
        raise FieldError(
            where, _("must be from 1 to {high}, got {value}").format(high=high, value=value)
        )
    return value


def check_text(where: str, text: str | None, fields: frozenset[str] | None = None) -> str | None:
    """Words to speak: plain text, bounded, its placeholders among ``fields``.

    Control characters and markup-looking text are refused here so that no user text
    can become a pause, a command or an instruction to the speech engine. ``fields``
    ``None`` means the text is no template (a name, a title): braces stay as written.
    """
    if text is None:
        return None
    if not isinstance(text, str):
        raise ProtocolError(_("{where}: must be text, got {text!r}").format(where=where, text=text))
    if len(text) > MAX_TEXT_CHARS:
        raise ProtocolError(
            _("{where}: is {count} characters; the limit is {MAX_TEXT_CHARS}").format(
                where=where, count=len(text), MAX_TEXT_CHARS=MAX_TEXT_CHARS
            )
        )
    if has_control_characters(text):
        raise ProtocolError(
            _("{where}: contains control characters; use plain words").format(where=where)
        )
    if "<" in text or ">" in text:
        raise ProtocolError(
            _("{where}: '<' and '>' are not allowed; cue words are plain text").format(where=where)
        )
    if fields is not None:
        check_placeholders(where, text, fields)
    if not text.strip():
        return None
    return text


def check_placeholders(where: str, text: str, fields: frozenset[str]) -> None:
    """Every placeholder in ``text`` known and with a value where the text is said."""
    try:
        used = [(f, spec, conv) for _, f, spec, conv in string.Formatter().parse(text)]
    except ValueError as exc:
        raise ProtocolError(
            _("{where}: {exc}; write {{{{ and }}}} for literal braces").format(where=where, exc=exc)
        ) from None
    allowed = ", ".join("{" + f + "}" for f in sorted(fields)) or "none"
    for name, spec, conversion in used:
        if name is None:
            continue
        if spec or conversion:
            # A format spec such as {rest:>99999999} would build a huge text when filled.
            raise ProtocolError(
                _("{where}: write placeholders plainly, e.g. {{rep}}").format(where=where)
            )
        if name not in TEMPLATE_FIELDS:
            known = ", ".join("{" + f + "}" for f in sorted(TEMPLATE_FIELDS))
            raise ProtocolError(
                _("{where}: unknown placeholder {{{name}}}; known: {known}").format(
                    where=where, name=name, known=known
                )
            )
        if name not in fields:
            raise ProtocolError(
                _(
                    "{where}: {{{name}}} has no value where this is said; it may use {allowed}"
                ).format(where=where, name=name, allowed=allowed)
            )


def has_control_characters(text: str, allowed: str = "") -> bool:
    """C0 and C1 controls and DEL: a pause or command to a speech engine, an escape to a
    terminal. ``allowed`` lets line breaks through in texts that are only shown."""
    return any(
        (ord(ch) < 32 or ord(ch) == 127 or 0x80 <= ord(ch) < 0xA0) and ch not in allowed
        for ch in text
    )


def fill(text: str, **values: object) -> str:
    """A cue text with its placeholders filled (validated by ``check_text``)."""
    return text.format(**{key: values.get(key, "") for key in TEMPLATE_FIELDS})


def in_language(
    protocol: Protocol, language: str | None, *, allow_fallback: bool = False
) -> Protocol:
    """The protocol with the words of ``language`` (a code such as ``de`` or ``es-419``).

    Nothing is said in the protocol's own language with another language's voice: a
    spoken text the translation leaves out (the loader has already filled the standard
    cues the language ships) is an error naming each one, unless ``allow_fallback`` lets
    it be said as written. Count words the language lacks are left out, not borrowed.
    """
    if language is None or language.lower() == protocol.language.lower():
        return protocol
    wanted = language.lower()
    code = next((c for c in protocol.translations if c.lower() == wanted), None)
    if code is None:
        code = next((c for c in protocol.translations if wanted.startswith(c.lower())), None)
    if code is None:
        raise UsageError(
            _("protocol {name!r} has no words for language {language!r}").format(
                name=protocol.name, language=language
            ),
            _("it has: {items}; add a [translations.{language}] table").format(
                items=", ".join(protocol.languages), language=language
            ),
        )
    words = protocol.translations[code]
    missing = untranslated(protocol, words)
    if missing and not allow_fallback:
        raise FieldError(
            "allow_fallback",
            _("protocol {name!r} has no {code!r} words for: {items}").format(
                name=protocol.name, code=code, items=", ".join(missing)
            ),
            _("add them under [translations.{code}]").format(code=code),
        )
    phases = tuple(
        replace(phase, say=words.phases.get(phase.name, phase.say)) for phase in protocol.phases
    )
    return replace(
        protocol,
        title=words.title or protocol.title,
        description=words.description or protocol.description,
        about=words.about or protocol.about,
        safety=words.safety or protocol.safety,
        language=code,
        phases=phases,
        cues=replace(protocol.cues, **dict(words.cues)),
        numbers=words.numbers or (protocol.numbers if allow_fallback else ()),
    )


def untranslated(protocol: Protocol, words: Translation) -> list[str]:
    """The keys of the texts the protocol speaks that ``words`` leaves out."""
    phases = [
        f"phases.{phase.name}.say"
        for phase in protocol.phases
        if phase.say is not None and phase.name not in words.phases
    ]
    cues = [
        f"cues.{key}"
        for key in CUE_TEXT_KEYS
        if getattr(protocol.cues, key) is not None and key not in words.cues
    ]
    return phases + cues


def apply_pace(protocol: Protocol, pace: Pace) -> Protocol:
    """The protocol as it will be played, or an error naming the option that is wrong."""
    phase_s = dict(pace.phase_s)
    names = [phase.name for phase in protocol.phases]
    for name in phase_s:
        if name not in names:
            raise FieldError(
                "phase_s",
                _("protocol {name!r} has no phase {name2!r}").format(
                    name=protocol.name, name2=name
                ),
                _("its phases: {items}").format(items=", ".join(names)),
            )
    for field_name, kind, seconds in (
        ("hold_s", "hold", pace.hold_s),
        ("relax_s", "relax", pace.relax_s),
    ):
        if seconds is None:
            continue
        targets = [phase.name for phase in protocol.phases if phase.kind == kind]
        if not targets:
            raise FieldError(
                field_name,
                _("protocol {name!r} has no {kind} phase").format(name=protocol.name, kind=kind),
                _("set the phases by name instead: {items}").format(items=", ".join(names)),
            )
        for name in targets:
            phase_s.setdefault(name, seconds)

    factor = pace.factor
    phases = tuple(
        replace(
            phase,
            seconds=check_seconds(
                f"phase {phase.name!r}",
                phase_s.get(phase.name, phase.seconds) * factor,
                MIN_PHASE_S,
                MAX_PHASE_S,
            ),
        )
        for phase in protocol.phases
    )
    played = replace(
        protocol,
        phases=phases,
        reps=check_count("reps", pace.reps if pace.reps is not None else protocol.reps, MAX_REPS),
        sets=check_count("sets", pace.sets if pace.sets is not None else protocol.sets, MAX_SETS),
        rest_s=check_seconds(
            "rest_s",
            (pace.rest_s if pace.rest_s is not None else protocol.rest_s) * factor,
            0.0,
            MAX_REST_S,
        ),
        lead_in_s=check_seconds(
            "lead_in_s",
            (pace.lead_in_s if pace.lead_in_s is not None else protocol.lead_in_s) * factor,
            0.0,
            MAX_LEAD_IN_S,
        ),
    )
    check_session_length(played)
    return played


def planned_length_s(protocol: Protocol) -> float:
    """The session's length before words are measured: lead-in, sets, rests."""
    intro = protocol.set_intro_s if protocol.sets > 1 else 0.0
    return (
        protocol.lead_in_s
        + protocol.sets * (intro + protocol.reps * protocol.rep_s)
        + (protocol.sets - 1) * protocol.rest_s
    )


def check_session_length(protocol: Protocol) -> None:
    length = planned_length_s(protocol)
    if length > MAX_SESSION_S:
        raise UsageError(
            _("that session would last {value:.1f} hours; the limit is {value2:g} hours").format(
                value=length / 3600, value2=MAX_SESSION_S / 3600
            ),
            _("use fewer reps or sets, or shorter phases"),
        )
