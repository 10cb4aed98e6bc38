"""Protocol files (TOML) and the built-in protocols, read into ``Protocol`` values.

Every problem a hand-written file can have becomes one ``ProtocolError`` line that
names the file, the field (or TOML's line and column) and what would be right.
"""

from __future__ import annotations

import difflib
import functools
import tomllib
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from voice_coach.core.protocol import (
    CUE_TEXT_KEYS,
    MAX_LEAD_IN_S,
    MAX_PHASE_S,
    MAX_REPS,
    MAX_REST_S,
    MAX_SETS,
    MAX_TEXT_CHARS,
    MIN_PHASE_S,
    PLACEHOLDERS,
    Phase,
    Protocol,
    SessionCues,
    Translation,
    check_count,
    check_seconds,
    check_session_length,
    check_text,
    has_control_characters,
)
from voice_coach.errors import ProtocolError, UsageError
from voice_coach.i18n import _
from voice_coach.package_data import read_package_file

DEFAULT_PROTOCOL = "glute-squeeze"
MAX_FILE_BYTES = 256 * 1024
MAX_PHASES = 20
MAX_NUMBERS = 120
BUILTIN_PACKAGE = "voice_coach.protocols"
LANGUAGES_FILE = "languages.toml"
WORD_FILES = frozenset({LANGUAGES_FILE})  # shipped words, not protocols

TOP_KEYS = {
    "name", "title", "description", "about", "safety", "language",
    "session", "phases", "cues", "numbers", "translations",
}  # fmt: skip
SESSION_KEYS = {"reps", "sets", "rest_s", "lead_in_s", "set_intro_s"}
PHASE_KEYS = {"name", "seconds", "say", "tone", "kind", "count"}
# Asked after a live session on a terminal, never said in one: not a session cue, so a
# translation that leaves it out gets its language's shipped question (or none).
QUESTION_KEY = "pain_question"
CUE_KEYS = {*CUE_TEXT_KEYS, QUESTION_KEY, "rest_countdown"}
TRANSLATION_KEYS = {"title", "description", "about", "safety", "phases", "cues", "numbers"}
MAX_ABOUT_CHARS = 4000
MAX_SAFETY_CHARS = 600
PHASE_KINDS = ("hold", "relax", "other")
COUNT_STYLES = ("up", "down")


def builtin_names() -> list[str]:
    """The built-in protocols, default first."""
    names = shipped_names(BUILTIN_PACKAGE, exclude=WORD_FILES)
    return sorted(names, key=lambda name: name != DEFAULT_PROTOCOL)


def shipped_names(package: str, exclude: Collection[str] = ()) -> list[str]:
    """The ``.toml`` files shipped in ``package``, by name, sorted."""
    import importlib.resources  # only listing needs it (see voice_coach/package_data.py)

    return sorted(
        entry.name.removesuffix(".toml")
        for entry in importlib.resources.files(package).iterdir()
        if entry.name.endswith(".toml") and entry.name not in exclude
    )


def load_protocol(name_or_path: str | Path | None = None) -> Protocol:
    """A built-in by name, or a protocol file by path; the default when ``None``."""
    if name_or_path is None:
        name_or_path = DEFAULT_PROTOCOL
    if isinstance(name_or_path, str) and f"{name_or_path}.toml" in WORD_FILES:
        name_or_path = Path(name_or_path)  # the shipped word lists are not protocols
    raw, where, source = read_toml(name_or_path, BUILTIN_PACKAGE, "protocol", builtin_names)
    return _protocol_from(raw, where, source)


def read_toml(
    name_or_path: str | Path, package: str, kind: str, names: Callable[[], list[str]]
) -> tuple[dict[str, Any], str, str]:
    """A hand-written TOML file (a built-in of ``package`` by name, or a path), as a
    table, with how errors name it and where it came from.

    Every file voice-coach reads by hand (protocols, programs, settings) comes through
    here, so each gets the same bounds and the same one-line errors.
    """
    text = str(name_or_path)
    if isinstance(name_or_path, str):
        shipped = read_package_file(package, f"{text}.toml")
        if shipped is not None:
            return parse_toml(shipped, f"built-in {text}", kind), f"built-in {text}", "built-in"
    path = Path(name_or_path)
    if not path.exists():
        close = difflib.get_close_matches(text, names(), n=3)
        if close:
            hint = _("did you mean {names}?").format(names=_(" or ").join(close))
        else:
            hint = _("see: voice-coach {command}").format(command=f"{kind}s")
        raise ProtocolError(
            _("{text}: no such file or built-in {kind}").format(text=text, kind=kind), hint
        )
    return parse_toml(read_bounded(path, kind), text, kind), text, str(path)


def read_bounded(path: Path, kind: str) -> bytes:
    """A hand-written file's bytes, at most one more than the limit (so it can be refused)."""
    text = str(path)
    if path.is_dir():
        raise ProtocolError(
            _("{text}: is a folder, not a {kind} file (.toml)").format(text=text, kind=kind)
        )
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ProtocolError(
                _("{text}: is {size:,} bytes; a {kind} file is at most {MAX_FILE_BYTES:,}").format(
                    text=text, size=size, kind=kind, MAX_FILE_BYTES=MAX_FILE_BYTES
                )
            )
        with path.open("rb") as file:
            # Bounded: /dev/zero or a growing file reports a small size but never ends.
            return file.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ProtocolError(
            _("{text}: cannot be read ({value})").format(text=text, value=exc.strerror or exc)
        ) from None


def parse_protocol(data: bytes, where: str, source: str) -> Protocol:
    """A protocol from the bytes of a TOML file; ``where`` names it in errors."""
    return _protocol_from(parse_toml(data, where, "protocol"), where, source)


def parse_toml(data: bytes, where: str, kind: str) -> dict[str, Any]:
    """The table of a hand-written TOML file, or one ``ProtocolError`` line naming it."""
    if len(data) > MAX_FILE_BYTES:
        raise ProtocolError(
            _("{where}: is {count:,} bytes; the limit is {MAX_FILE_BYTES:,}").format(
                where=where, count=len(data), MAX_FILE_BYTES=MAX_FILE_BYTES
            )
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProtocolError(
            _("{where}: is not UTF-8 text (byte {start}); save it as UTF-8").format(
                where=where, start=exc.start
            )
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProtocolError(
            _("{where}: is not valid TOML: {exc}").format(where=where, exc=exc)
        ) from None
    except RecursionError:
        raise ProtocolError(
            _("{where}: is nested too deeply to be a {kind}").format(where=where, kind=kind)
        ) from None


def _protocol_from(raw: dict[str, Any], where: str, source: str) -> Protocol:
    _known_keys(raw, TOP_KEYS, where, "")
    name = _text(raw, "name", where, "", required=True)
    language = _text(raw, "language", where, "", required=False) or "en"
    session = _table(raw, "session", where, "")
    _known_keys(session, SESSION_KEYS, where, "session.")
    phases = _phases(raw, where)
    cues = _cues(_table(raw, "cues", where, ""), where, "cues.")
    shipped = shipped_words(language)
    if cues.pain_question is None:
        cues = replace(cues, pain_question=shipped.cues.get(QUESTION_KEY))
    numbers = _numbers(raw.get("numbers"), where, "numbers") or shipped.numbers
    safety = _safety(raw, where, "")
    translations = _translations(
        _table(raw, "translations", where, ""), where, phases, cues, own_safety=safety is not None
    )
    protocol = Protocol(
        name=name or "",
        title=_text(raw, "title", where, "", required=False) or name or "",
        description=_text(raw, "description", where, "", required=True) or "",
        about=_text(raw, "about", where, "", required=False, limit=MAX_ABOUT_CHARS) or "",
        safety=safety or shipped.safety,
        language=language,
        phases=phases,
        reps=_whole(session, "reps", where, 10, MAX_REPS),
        sets=_whole(session, "sets", where, 1, MAX_SETS),
        rest_s=_seconds(session, "rest_s", where, 30.0, 0.0, MAX_REST_S),
        lead_in_s=_seconds(session, "lead_in_s", where, 5.0, 0.0, MAX_LEAD_IN_S),
        set_intro_s=_seconds(session, "set_intro_s", where, 3.0, 0.5, 60.0),
        cues=cues,
        numbers=numbers,
        translations=translations,
        source=source,
    )
    try:
        check_session_length(protocol)
    except UsageError as exc:
        raise ProtocolError(f"{where}: {exc.message}", exc.hint) from None
    return protocol


@dataclass(frozen=True)
class ShippedWords:
    """What voice-coach ships for one language (``languages.toml``): count words, the
    standard cues a translation may leave out, and the safety note for a protocol that
    brings none. Empty for a language nothing is shipped for."""

    numbers: tuple[str, ...] = ()
    cues: Mapping[str, str] = field(default_factory=dict)
    safety: str = ""


def shipped_words(language: str) -> ShippedWords:
    """The shipped words for ``language`` (``de-AT`` gets ``de``'s), or none."""
    table = _shipped_table(LANGUAGES_FILE)
    code = language.lower()
    words = table.get(code) or table.get(code.split("-")[0]) or {}
    return ShippedWords(
        numbers=tuple(words.get("numbers", ())),
        cues=dict(words.get("cues", {})),
        safety=words.get("safety", ""),
    )


def builtin_numbers(language: str) -> tuple[str, ...]:
    """Count words shipped for a language (``one``, ``two``...), or none."""
    return shipped_words(language).numbers


def builtin_chapter_words(language: str) -> dict[str, str]:
    """Chapter titles shipped for a language ("Rep {rep} of {reps}"...), else English's."""
    return _shipped_section(language, "chapters")


def builtin_answer_words(language: str) -> dict[str, str]:
    """What the coach says to a worrying pain rating, before the safety note ("That is
    high."), as shipped for a language; none for a language nothing is shipped for, whose
    voice must not be given English words."""
    return _shipped_section(language, "answers", fallback=False)


def _shipped_section(language: str, section: str, *, fallback: bool = True) -> dict[str, str]:
    table = _shipped_table(LANGUAGES_FILE)
    code = language.lower()
    words = table.get(code) or table.get(code.split("-")[0]) or {}
    if not fallback:
        return dict(words.get(section, {}))
    return {**table["en"][section], **words.get(section, {})}  # key by key


@functools.cache
def _shipped_table(name: str) -> dict[str, Any]:
    """A shipped TOML file of words per language, read once."""
    shipped = read_package_file(BUILTIN_PACKAGE, name)
    return tomllib.loads(shipped.decode("utf-8")) if shipped is not None else {}


def _phases(raw: Mapping[str, Any], where: str) -> tuple[Phase, ...]:
    items = raw.get("phases")
    if items is None:
        raise ProtocolError(
            _("{where}: missing [[phases]]: a protocol needs at least one phase").format(
                where=where
            )
        )
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise ProtocolError(
            _("{where}: phases: must be a list of [[phases]] tables").format(where=where)
        )
    if not items:
        raise ProtocolError(
            _("{where}: phases: is empty; a protocol needs at least one phase").format(where=where)
        )
    if len(items) > MAX_PHASES:
        raise ProtocolError(
            _("{where}: phases: {count} phases; the limit is {MAX_PHASES}").format(
                where=where, count=len(items), MAX_PHASES=MAX_PHASES
            )
        )
    phases = []
    seen: set[str] = set()
    for index, item in enumerate(items, start=1):
        prefix = f"phases[{index}]."
        _known_keys(item, PHASE_KEYS, where, prefix)
        name = _text(item, "name", where, prefix, required=True) or ""
        if name in seen:
            raise ProtocolError(
                _("{where}: {prefix}name: {name!r} is used twice; names must differ").format(
                    where=where, prefix=prefix, name=name
                )
            )
        seen.add(name)
        kind = _choice(item, "kind", where, prefix, PHASE_KINDS) or "other"
        count = _choice(item, "count", where, prefix, COUNT_STYLES)
        if "seconds" not in item:
            raise ProtocolError(
                _("{where}: {prefix}seconds: missing; how long the phase lasts").format(
                    where=where, prefix=prefix
                )
            )
        phases.append(
            Phase(
                name=name,
                seconds=_seconds(item, "seconds", where, None, MIN_PHASE_S, MAX_PHASE_S, prefix),
                say=_text(item, "say", where, prefix, required=False, fields=PLACEHOLDERS["say"]),
                tone=_tone(item, where, prefix, name),
                kind=kind,  # type: ignore[arg-type]
                count=count,  # type: ignore[arg-type]
            )
        )
    return tuple(phases)


def _tone(item: Mapping[str, Any], where: str, prefix: str, phase: str) -> str | None:
    """A shipped tone's name, checked here so a typo is the file's error, not a crash."""
    from voice_coach.audio.tones import TONE_NAMES  # numpy and the renderer: only for a tone

    tone = _text(item, "tone", where, prefix, required=False)
    if tone is not None and tone not in TONE_NAMES:
        close = difflib.get_close_matches(tone, TONE_NAMES, n=1)
        guess = f"did you mean {close[0]}? " if close else ""
        raise ProtocolError(
            _("{where}: {prefix}tone: phase {phase!r} has no such tone {tone!r}").format(
                where=where, prefix=prefix, phase=phase, tone=tone
            ),
            _("{guess}tones: {items}").format(guess=guess, items=", ".join(TONE_NAMES)),
        )
    return tone


def _cues(table: Mapping[str, Any], where: str, prefix: str) -> SessionCues:
    _known_keys(table, CUE_KEYS, where, prefix)
    texts = {
        key: _text(table, key, where, prefix, required=False, fields=_fields(key))
        for key in (*CUE_TEXT_KEYS, QUESTION_KEY)
    }
    countdown = table.get("rest_countdown", 3)
    if isinstance(countdown, bool) or not isinstance(countdown, int) or not 0 <= countdown <= 10:
        raise ProtocolError(
            _(
                "{where}: {prefix}rest_countdown: must be a whole number from 0 to 10, got "
                "{countdown!r}"
            ).format(where=where, prefix=prefix, countdown=countdown)
        )
    return SessionCues(rest_countdown=countdown, **texts)


def _fields(key: str) -> frozenset[str]:
    """The placeholders a cue's text may use (the question after a session: none)."""
    return PLACEHOLDERS.get(key, frozenset())


def _translations(
    table: Mapping[str, Any],
    where: str,
    phases: tuple[Phase, ...],
    cues: SessionCues,
    *,
    own_safety: bool,
) -> dict[str, Translation]:
    """Each language's words, with what the language ships filled in where the file
    leaves it out: count words, the standard cues the protocol says, and (for a protocol
    without a safety note of its own) the shipped note."""
    result = {}
    phase_names = [phase.name for phase in phases]
    for code, words in table.items():
        prefix = f"translations.{code}."
        if not isinstance(words, dict):
            raise ProtocolError(
                _("{where}: translations.{code}: must be a table of words").format(
                    where=where, code=code
                )
            )
        _known_keys(words, TRANSLATION_KEYS, where, prefix)
        phase_words = _table(words, "phases", where, prefix)
        _known_keys(phase_words, set(phase_names), where, prefix + "phases.")
        said = {}
        for phase_name, entry in phase_words.items():
            entry_prefix = f"{prefix}phases.{phase_name}."
            if not isinstance(entry, dict):
                raise ProtocolError(
                    _("{where}: {value}: must be a table with say = ...").format(
                        where=where, value=entry_prefix[:-1]
                    )
                )
            _known_keys(entry, {"say"}, where, entry_prefix)
            said[phase_name] = _text(
                entry, "say", where, entry_prefix, required=True, fields=PLACEHOLDERS["say"]
            )
        cue_words = _table(words, "cues", where, prefix)
        _known_keys(cue_words, {*CUE_TEXT_KEYS, QUESTION_KEY}, where, prefix + "cues.")
        shipped = shipped_words(code)
        standard = {
            key: text
            for key, text in shipped.cues.items()
            if getattr(cues, key) is not None and key not in cue_words
        }
        result[code] = Translation(
            title=_text(words, "title", where, prefix, required=False),
            description=_text(words, "description", where, prefix, required=False),
            about=_text(words, "about", where, prefix, required=False, limit=MAX_ABOUT_CHARS),
            safety=_safety(words, where, prefix) or (None if own_safety else shipped.safety),
            phases=said,
            cues=standard
            | {
                key: _text(
                    cue_words, key, where, prefix + "cues.", required=True, fields=_fields(key)
                )
                for key in cue_words
            },
            numbers=_numbers(words.get("numbers"), where, prefix + "numbers")
            or shipped.numbers
            or None,
        )
    return result


def _safety(raw: Mapping[str, Any], where: str, prefix: str) -> str | None:
    """A safety note, on one line wherever it is shown (a status line, a file's tags)."""
    text = _text(raw, "safety", where, prefix, required=False, limit=MAX_SAFETY_CHARS)
    if text is None:
        return None
    return " ".join(text.split()) or None


def _numbers(value: Any, where: str, field: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not value or len(value) > MAX_NUMBERS:
        raise ProtocolError(
            _(
                "{where}: {field}: must be a list of 1 to {MAX_NUMBERS} words, one, two, three..."
            ).format(where=where, field=field, MAX_NUMBERS=MAX_NUMBERS)
        )
    return tuple(
        _text({"n": word}, "n", where, f"{field}[{i}]", required=True, fields=frozenset()) or ""
        for i, word in enumerate(value, 1)
    )


def _known_keys(table: Mapping[str, Any], known: set[str], where: str, prefix: str) -> None:
    for key in table:
        if key not in known:
            close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.5)
            hint = (
                f"did you mean {prefix}{close[0]}?"
                if close
                else f"known: {', '.join(sorted(known))}"
            )
            raise ProtocolError(
                _("{where}: {prefix}{key}: unknown key; {hint}").format(
                    where=where, prefix=prefix, key=key, hint=hint
                )
            )


def _table(raw: Mapping[str, Any], key: str, where: str, prefix: str) -> Mapping[str, Any]:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        raise ProtocolError(
            _("{where}: {prefix}{key}: must be a table ([{prefix}{key}])").format(
                where=where, prefix=prefix, key=key
            )
        )
    return value


def _text(
    raw: Mapping[str, Any],
    key: str,
    where: str,
    prefix: str,
    *,
    required: bool,
    limit: int = MAX_TEXT_CHARS,
    fields: frozenset[str] | None = None,
) -> str | None:
    """A text of the file, checked; ``fields`` the placeholders it may use where it is
    said (``None``: no template, shown as written)."""
    value = raw.get(key)
    if value is None:
        if required:
            raise ProtocolError(
                _("{where}: {prefix}{key}: missing; it is required").format(
                    where=where, prefix=prefix, key=key
                )
            )
        return None
    if not isinstance(value, str):
        raise ProtocolError(
            _("{where}: {prefix}{key}: must be text in quotes, got {value!r}").format(
                where=where, prefix=prefix, key=key, value=value
            )
        )
    if limit > MAX_TEXT_CHARS:
        if len(value) > limit:
            raise ProtocolError(
                _("{where}: {prefix}{key}: is {count} characters; limit {limit}").format(
                    where=where, prefix=prefix, key=key, count=len(value), limit=limit
                )
            )
        if has_control_characters(value, allowed="\n\r\t"):
            # Shown on a terminal and written into tags: an escape could recolour one.
            raise ProtocolError(
                _("{where}: {prefix}{key}: contains control characters").format(
                    where=where, prefix=prefix, key=key
                )
            )
        return value
    try:
        checked = check_text(f"{prefix}{key}", value, fields)
    except ProtocolError as exc:
        raise ProtocolError(f"{where}: {exc.message}") from None
    if checked is None and required:
        raise ProtocolError(
            _("{where}: {prefix}{key}: is empty; it is required").format(
                where=where, prefix=prefix, key=key
            )
        )
    return checked


def _choice(
    raw: Mapping[str, Any], key: str, where: str, prefix: str, choices: tuple[str, ...]
) -> str | None:
    value = raw.get(key)
    if value is None or value is False:
        return None
    if value not in choices:
        raise ProtocolError(
            _("{where}: {prefix}{key}: must be one of {items}, got {value!r}").format(
                where=where, prefix=prefix, key=key, items=", ".join(choices), value=value
            )
        )
    return str(value)


def _whole(raw: Mapping[str, Any], key: str, where: str, default: int, high: int) -> int:
    try:
        return check_count(f"session.{key}", raw.get(key, default), high)
    except ProtocolError as exc:
        raise ProtocolError(f"{where}: {exc.message}") from None


def _seconds(
    raw: Mapping[str, Any],
    key: str,
    where: str,
    default: float | None,
    low: float,
    high: float,
    prefix: str = "session.",
) -> float:
    try:
        return check_seconds(f"{prefix}{key}", raw.get(key, default), low, high)
    except ProtocolError as exc:
        raise ProtocolError(f"{where}: {exc.message}") from None
