"""The program's own words on screen, in the user's language: GNU gettext catalogs.

What is shown (``run``'s lines, ``today``, ``stats``, errors...) goes through ``_`` and
``ngettext``; what is spoken stays in the protocol files and ``languages.toml``, beside
the session a physiotherapist or translator writes. The catalogs are
``voice_coach/locale/<lang>/LC_MESSAGES/voice_coach.po``, compiled to ``.mo`` when the
package is built or installed (``scripts/catalogs.py``); ``VOICE_COACH_LOCALE_DIR``
names a folder searched first, for a translator trying a catalog before it ships.

One language is in use at a time, chosen by the CLI before a command runs
(``use_language``); until then, and for a language with no catalog, English.
"""

from __future__ import annotations

import gettext
import os
from collections.abc import Mapping
from datetime import date
from pathlib import Path

DOMAIN = "voice_coach"
LOCALE_DIR = Path(__file__).parent / "locale"
ENGLISH = "en"
# The variables that name the user's language, in the order gettext reads them.
LOCALE_VARIABLES = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")

_translation: gettext.NullTranslations = gettext.NullTranslations()
_language = ENGLISH


def _(message: str) -> str:
    """``message`` in the language in use."""
    return _translation.gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form of a counted message for ``n`` in the language in use (French says
    "0 séance", German "0 Einheiten": the catalog's plural rule decides)."""
    return _translation.ngettext(singular, plural, n)


def N_(message: str) -> str:  # noqa: N802 (the name gettext tools know)
    """Marks ``message`` for the catalogs where it is defined; ``_`` translates it where
    it is shown (a table of words built before the language is chosen)."""
    return message


def language_code(name: str) -> str | None:
    """The language of a locale name (``de_DE.UTF-8`` -> ``de``, ``es-419`` -> ``es``);
    ``None`` for ``C`` and ``POSIX``, which mean the program's own words."""
    base = name.split(".")[0].split("@")[0].strip()
    if not base or base in ("C", "POSIX"):
        return None
    return base.replace("-", "_").split("_")[0].lower()


def locale_language(environ: Mapping[str, str] | None = None) -> tuple[str | None, str | None]:
    """The user's language from the environment and the variable that named it, in
    gettext's order (``LANGUAGE``, a colon-separated list, then ``LC_ALL``,
    ``LC_MESSAGES``, ``LANG``); no language when the first set variable says ``C`` or
    ``POSIX`` or none is set."""
    env = os.environ if environ is None else environ
    for variable in LOCALE_VARIABLES:
        value = env.get(variable, "")
        if not value:
            continue
        names = value.split(":") if variable == "LANGUAGE" else [value]
        codes = [language_code(name) for name in names if name]
        if variable == "LANGUAGE" and (not codes or None in codes):
            continue  # gettext ignores a LANGUAGE that names the C locale
        return (codes[0] if codes else None), variable
    return None, None


def catalog_dirs() -> list[Path]:
    """Where catalogs are looked for: ``VOICE_COACH_LOCALE_DIR`` first, then the package's."""
    extra = os.environ.get("VOICE_COACH_LOCALE_DIR")
    return [Path(extra), LOCALE_DIR] if extra else [LOCALE_DIR]


def has_catalog(code: str) -> bool:
    """Whether screens can be shown in ``code`` (English always can)."""
    return code == ENGLISH or _catalog(code) is not None


def _catalog(code: str | None) -> gettext.GNUTranslations | None:
    """The compiled catalog of language ``code``, from the first folder that has one."""
    for folder in catalog_dirs() if code and code != ENGLISH else []:
        found = gettext.find(DOMAIN, str(folder), [code])
        if found is not None:
            with Path(found).open("rb") as file:
                return gettext.GNUTranslations(file)
    return None


def use_language(code: str | None) -> bool:
    """Show screens in ``code`` from now on; English for ``None`` or a language with no
    catalog. True when a catalog was found (or English was asked for)."""
    global _translation, _language
    wanted = language_code(code) if code else None
    catalog = _catalog(wanted)
    _translation = catalog if catalog is not None else gettext.NullTranslations()
    _language = wanted if catalog is not None and wanted else ENGLISH
    return catalog is not None or wanted in (None, ENGLISH)


def in_language(code: str, message: str) -> str:
    """``message`` in language ``code`` whatever the screens are in (an album's feed is
    in the album's language); as written where ``code`` has no catalog."""
    catalog = _catalog(language_code(code))
    return catalog.gettext(message) if catalog is not None else message


def language_in_use() -> str:
    """The language the screens are in now (``en`` when no catalog serves the choice)."""
    return _language


def babel_locale() -> str:
    """The language in use as Babel knows it, for dates and numbers; English for a
    language Babel has no data for (a translator's own catalog, say)."""
    from babel import Locale, UnknownLocaleError

    try:
        Locale.parse(_language)
    except (UnknownLocaleError, ValueError):
        return ENGLISH
    return _language


def day_text(day: date, pattern: str) -> str:
    """A day as the language in use writes it, by a CLDR pattern ("LLL": the month's
    abbreviation; "dd MMM": 07 Dec), through Babel."""
    from babel.dates import format_date

    return format_date(day, pattern, locale=babel_locale())


def decimal(value: float, digits: int = 1) -> str:
    """``value`` with ``digits`` decimals as the language in use writes it (4.5, 4,5)."""
    from babel.numbers import format_decimal

    pattern = "0." + "0" * digits if digits else "0"
    return format_decimal(value, format=pattern, locale=babel_locale())


def number(value: float) -> str:
    """A number as few digits as it needs (``3``, ``1.5``), as the language writes it."""
    text = f"{value:g}"
    if "." not in text or _language == ENGLISH:
        return text
    from babel.numbers import get_decimal_symbol

    return text.replace(".", get_decimal_symbol(babel_locale()))
