"""Installed voices as values, and how a user's words pick one.

Pure: the speech edge lists the voices, this module only chooses among them, so the
rules for ``--voice`` and ``--lang`` are testable without an engine.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass

from voice_coach.errors import UsageError
from voice_coach.i18n import N_, _

LIST_HINT = N_("List them with: voice-coach voices")


NEURAL_ENGINES = ("piper",)


@dataclass(frozen=True)
class Voice:
    """One installed voice. ``languages`` are lower-case codes such as ``en-gb``;
    ``engine`` is the engine that speaks it (``engine.ENGINE_NAMES``)."""

    id: str
    name: str
    languages: tuple[str, ...]
    gender: str | None
    engine: str = "espeak-ng"

    @property
    def neural(self) -> bool:
        return self.engine in NEURAL_ENGINES


def normalize_language(code: str) -> str:
    """``EN_us`` and ``en-US`` are the same language: engines disagree on the spelling."""
    return code.strip().lower().replace("_", "-")


def filter_by_language(voices: Sequence[Voice], lang: str) -> list[Voice]:
    """The voices that speak ``lang``, best first.

    ``en`` is spoken by ``en-gb`` and ``en-us`` voices too, so a bare language finds its
    regional voices; an exact match beats a regional one.
    """
    wanted = normalize_language(lang)
    speaking = [voice for voice in voices if _language_rank(voice, wanted) is not None]
    return sorted(speaking, key=lambda voice: _preference(voice, wanted))


def voice_for_language(lang: str, voices: Sequence[Voice]) -> Voice:
    """The most generic voice for ``lang``; an error that lists the languages on offer."""
    speaking = filter_by_language(voices, lang)
    if speaking:
        return speaking[0]
    known = sorted({language for voice in voices for language in voice.languages})
    close = difflib.get_close_matches(normalize_language(lang), known, n=5, cutoff=0.5)
    return _raise_no_match(f"No installed voice speaks {lang!r}", close)


def match_voice(query: str, voices: Sequence[Voice]) -> Voice:
    """The voice a ``--voice`` value means: an id, else a name, else a language code.

    Ids come first because they are unique; names and languages are what people type.
    """
    wanted = query.strip()
    folded = wanted.casefold()
    by_id = [voice for voice in voices if voice.id.casefold() == folded]
    exact_id = [voice for voice in by_id if voice.id == wanted]
    by_name = [voice for voice in voices if voice.name.casefold() == folded]
    for found in (exact_id, by_id, by_name):
        if found:
            return found[0]
    speaking = filter_by_language(voices, wanted)
    if speaking:
        return speaking[0]
    return _raise_no_match(f"No installed voice matches {query!r}", closest(query, voices))


def closest(query: str, voices: Sequence[Voice], count: int = 5) -> list[str]:
    """Ids, names and languages that look like ``query``, most alike first."""
    candidates = {voice.id.casefold(): voice.id for voice in voices}
    candidates.update({voice.name.casefold(): voice.name for voice in voices})
    candidates.update({lang: lang for voice in voices for lang in voice.languages})
    close = difflib.get_close_matches(query.strip().casefold(), candidates, n=count, cutoff=0.5)
    return [candidates[match] for match in close]


def _raise_no_match(message: str, suggestions: list[str]) -> Voice:
    if suggestions:
        message += ". Closest: " + ", ".join(suggestions)
    raise UsageError(message, hint=_(LIST_HINT))


def _language_rank(voice: Voice, wanted: str) -> int | None:
    """0 for a voice that speaks exactly ``wanted``, 1 for a regional form of it."""
    languages = [normalize_language(language) for language in voice.languages]
    if wanted in languages:
        return 0
    if any(language.startswith(wanted + "-") for language in languages):
        return 1
    return None


def _preference(voice: Voice, wanted: str) -> tuple[bool, int, bool, bool, int, str]:
    """A neural voice first (the natural one, where one speaks the language), then exact
    before regional, then the language's own voice, then the shortest code.

    espeak-ng names each language's main voice after it (``gmw/en`` speaks ``en-gb``,
    ``roa/fr`` speaks ``fr-fr``), and a code whose region repeats the language
    (``fr-fr``, ``de-de``) is its home variant: both are better guesses for a bare ``fr``
    than ``fr-be``.
    """
    rank = _language_rank(voice, wanted)
    languages = [normalize_language(language) for language in voice.languages]
    own_voice = voice.id.casefold().rsplit("/", 1)[-1] == wanted
    home = any(language == f"{wanted}-{wanted}" for language in languages)
    shortest = min(
        (len(language) for language in languages if language.startswith(wanted)), default=0
    )
    return (
        not voice.neural,
        rank if rank is not None else 2,
        not own_voice,
        not home,
        shortest,
        voice.id,
    )
