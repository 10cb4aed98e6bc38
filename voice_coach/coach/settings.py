"""The settings file: the user's own defaults for session options and a default program.

One TOML file (``config.toml`` in the user's config folder; ``VOICE_COACH_CONFIG`` names
another), read through the protocol loader's machinery so a mistake in it gets the same
one-line error. Each key is a session option's name as on the command line (``lang``,
``voice``, ``engine``, ``rate``, ``pace``, ``cues``, ``volume``), ``program``,
``show_streaks``, or what a live session does to other sound (``others``, ``duck_db``);
the command line overrides every one of them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from voice_coach.errors import FieldError, ProtocolError
from voice_coach.files.loader import _known_keys, parse_toml, read_bounded
from voice_coach.i18n import _

# What a settings file may hold, and the type of each value. ``engine`` is read once the
# session has an ``--engine`` option (the settings pass through only options that exist).
TEXT_KEYS = ("lang", "voice", "engine", "cues", "program", "others")
SETTING_KEYS: tuple[str, ...] = (
    "lang",
    "voice",
    "engine",
    "rate",
    "pace",
    "cues",
    "volume",
    "program",
    "show_streaks",
    "others",
    "duck_db",
)
COACH_KEYS = ("program", "show_streaks")  # settings of the coach, not of a session
LIVE_KEYS = ("others", "duck_db")  # settings of a live session's neighbours

# Other applications' sound during a live session: lowered under each word and tone,
# paused for the session, or left alone; lowered by this many decibels.
OTHERS_CHOICES = ("duck", "pause", "keep")
DEFAULT_OTHERS = "duck"
DEFAULT_DUCK_DB = 15.0
MIN_DUCK_DB, MAX_DUCK_DB = 3.0, 40.0


@dataclass(frozen=True)
class Settings:
    path: Path
    exists: bool = False
    values: Mapping[str, object] = field(default_factory=dict)

    @property
    def program(self) -> str | None:
        value = self.values.get("program")
        return str(value) if value is not None else None

    def others(self, given: str | None, given_db: float | None) -> OthersChoice:
        """What a live session does to other sound: the command line's, else this
        file's, else the default (``duck`` by ``DEFAULT_DUCK_DB``)."""
        mode = given or str(self.values.get("others", DEFAULT_OTHERS))
        if mode not in OTHERS_CHOICES:
            raise FieldError(
                "others",
                _("must be one of {items}, not {value!r}").format(
                    items=", ".join(OTHERS_CHOICES), value=mode
                ),
            )
        duck_db = given_db if given_db is not None else self.values.get("duck_db", DEFAULT_DUCK_DB)
        return OthersChoice(mode, float(duck_db))  # type: ignore[arg-type]

    @property
    def show_streaks(self) -> bool:
        """Streaks help many and stress some: ``show_streaks = false`` hides them all."""
        return bool(self.values.get("show_streaks", True))


@dataclass(frozen=True)
class OthersChoice:
    mode: str  # one of OTHERS_CHOICES
    duck_db: float = DEFAULT_DUCK_DB


def layered_values(
    *,
    given: Mapping[str, object],
    stage: Mapping[str, object],
    settings: Mapping[str, object],
    defaults: Mapping[str, object],
) -> dict[str, object]:
    """Which value wins for each option: the one given (on the command line, by a
    caller), else the program's stage, else the settings file, else the default."""
    return {**defaults, **settings, **stage, **given}


@dataclass(frozen=True)
class LanguageChoice:
    """The language of the screens and the spoken session, and where it came from."""

    code: str | None  # None: the program's own, English
    source: str  # "option", "settings", "locale" or "default"
    variable: str | None = None  # the locale variable that named it

    @property
    def strict(self) -> bool:
        """Asked for by name (``--lang``, the settings file): a protocol without its
        words is an error. A locale only prefers: such a protocol speaks its own."""
        return self.source in ("option", "settings")


def choose_language(
    given: str | None, settings: Settings | None, environ: Mapping[str, str] | None = None
) -> LanguageChoice:
    """``--lang``, else the settings file's ``lang``, else the user's locale (gettext's
    variables in gettext's order; ``C`` and ``POSIX`` mean English), else English."""
    from voice_coach.i18n import locale_language

    if given:
        return LanguageChoice(given, "option")
    if settings is not None and settings.values.get("lang"):
        return LanguageChoice(str(settings.values["lang"]), "settings")
    code, variable = locale_language(environ)
    if code is None:
        return LanguageChoice(None, "default", variable)
    return LanguageChoice(code, "locale", variable)


def settings_path() -> Path:
    from voice_coach.userdirs import config_file

    return config_file()


def load_settings(path: Path | None = None, known: tuple[str, ...] = SETTING_KEYS) -> Settings:
    """The settings in force: an empty ``Settings`` where there is no file.

    ``known`` is the keys this program can use (the session options it has, and
    ``program``); any other key is a one-line error naming the file.
    """
    path = path if path is not None else settings_path()
    if not path.exists():
        return Settings(path)
    where = str(path)
    raw = parse_toml(read_bounded(path, "settings"), where, "settings")
    _known_keys(raw, set(known), where, "")
    values = {key: _checked(key, value, where) for key, value in raw.items()}
    return Settings(path, True, values)


def _checked(key: str, value: object, where: str) -> object:
    """A value of the right type and range, or an error naming the file and the key."""
    from voice_coach.core.protocol import pace_factor
    from voice_coach.core.timeline import CUE_STYLES

    def wrong(expected: str) -> ProtocolError:
        return ProtocolError(
            _("{where}: {key}: must be {expected}, got {value!r}").format(
                where=where, key=key, expected=expected, value=value
            )
        )

    if key in TEXT_KEYS:
        if not isinstance(value, str) or not value.strip():
            raise wrong(_("text in quotes"))
        if key == "cues" and value not in CUE_STYLES:
            raise wrong(f"one of {', '.join(CUE_STYLES)}")
        if key == "others" and value not in OTHERS_CHOICES:
            raise wrong(f"one of {', '.join(OTHERS_CHOICES)}")
        return value
    if key == "show_streaks":
        if not isinstance(value, bool):
            raise wrong(_("true or false"))
        return value
    if key == "rate":
        if isinstance(value, bool) or not isinstance(value, int):
            raise wrong(_("a whole number of words per minute"))
        return value
    if key == "volume":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise wrong(_("a number from 0 to 1"))
        if not (math.isfinite(value) and 0 <= value <= 1):
            raise wrong(_("a number from 0 to 1"))
        return float(value)
    if key == "duck_db":
        expected = _("a number of decibels from {low:g} to {high:g}").format(
            low=MIN_DUCK_DB, high=MAX_DUCK_DB
        )
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise wrong(expected)
        if not (math.isfinite(value) and MIN_DUCK_DB <= value <= MAX_DUCK_DB):
            raise wrong(expected)
        return float(value)
    if key == "pace":
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise wrong(_("slow, normal, fast or a factor"))
        try:
            pace_factor(str(value))
        except FieldError as exc:
            raise ProtocolError(
                _("{where}: pace: {detail}").format(where=where, detail=exc.detail), exc.hint
            ) from None
        return str(value)
    raise wrong("known")  # pragma: no cover - every key in SETTING_KEYS is handled above
