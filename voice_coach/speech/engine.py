"""The one small interface every speech engine meets, and what the engines share.

An engine is a module in this package with an ``ENGINE`` object: it names itself, says
what makes its clips (for the phrase cache key) without loading anything heavy, lists
its voices, and opens a ``Speaker`` that turns text into trimmed clips. A new engine is
one module more and one line in ``_MODULES``; nothing outside this package imports an
engine module directly.
"""

from __future__ import annotations

import importlib
import re
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from voice_coach.core.clip import Clip, trim_silence
from voice_coach.errors import SpeechError, UsageError
from voice_coach.i18n import N_, _
from voice_coach.speech.voices import LIST_HINT, Voice

RATE_MIN_WPM = 80
RATE_MAX_WPM = 400
DEFAULT_RATE_WPM = 175
DOCTOR_HINT = N_("Is espeak-ng installed? Try: voice-coach doctor")

ESPEAK = "espeak-ng"
PIPER = "piper"
# Imported only when a clip must be spoken or a voice listed: a warm start needs neither.
_MODULES = {ESPEAK: "voice_coach.speech.espeak", PIPER: "voice_coach.speech.piper"}
ENGINE_NAMES = tuple(_MODULES)

_MARKUP = re.compile(r"<\s*/?\s*[A-Za-z!?][^<>]*>|\[\[|\]\]")


@dataclass(frozen=True)
class SpeechSettings:
    """How phrases are spoken. ``voice_id`` is an id of ``engine``'s (see
    ``voices.match_voice``); ``None`` is the engine's default voice. ``volume`` scales
    the trimmed samples, so a phrase is exactly as long at every volume."""

    voice_id: str | None = None
    rate_wpm: int = DEFAULT_RATE_WPM
    volume: float = 1.0
    engine: str = ESPEAK

    def validate(self) -> None:
        """Refuse settings the engine would silently clamp or misread."""
        rate = self.rate_wpm
        if isinstance(rate, bool) or not isinstance(rate, int):
            raise UsageError(
                _("Speech rate must be a whole number of words per minute, not {rate!r}").format(
                    rate=rate
                )
            )
        if not RATE_MIN_WPM <= rate <= RATE_MAX_WPM:
            raise UsageError(
                _(
                    "Speech rate {rate} wpm is out of range: use {RATE_MIN_WPM} to {RATE_MAX_WPM} "
                    "words per minute"
                ).format(rate=rate, RATE_MIN_WPM=RATE_MIN_WPM, RATE_MAX_WPM=RATE_MAX_WPM)
            )
        volume = self.volume
        if isinstance(volume, bool) or not isinstance(volume, int | float) or not 0 <= volume <= 1:
            raise UsageError(
                _("Speech volume {volume!r} is out of range: use 0 to 1").format(volume=volume)
            )
        if self.voice_id is not None and not self.voice_id.strip():
            raise UsageError(_("The voice id is empty"), hint=_(LIST_HINT))
        if self.engine not in _MODULES:
            raise UsageError(
                _("Unknown speech engine {engine!r}: use {items}").format(
                    engine=self.engine, items=" or ".join(ENGINE_NAMES)
                )
            )


class Speaker(Protocol):
    """An open engine with one set of settings: text in, a trimmed clip out."""

    def synthesize(self, text: str) -> Clip: ...


class Engine(Protocol):
    """What the phrase cache, the voice list and ``doctor`` need of an engine."""

    name: str

    def identity(self, settings: SpeechSettings) -> str:
        """What makes this engine's clips for ``settings`` (version, code, model): a
        change here must not be served clips made before it. Cheap: no engine started."""
        ...

    def voices(self) -> list[Voice]:
        """The engine's installed voices, sorted by id (may start the engine)."""
        ...

    def speaker(self, settings: SpeechSettings) -> AbstractContextManager[Speaker]:
        """An open engine for ``settings``; an unknown voice is a UsageError on entry."""
        ...


def engine_for(name: str) -> Engine:
    """The engine called ``name``, its module imported on first use."""
    try:
        module = _MODULES[name]
    except KeyError:
        raise UsageError(
            _("Unknown speech engine {name!r}: use {items}").format(
                name=name, items=" or ".join(ENGINE_NAMES)
            )
        ) from None
    engine: Engine = importlib.import_module(module).ENGINE
    return engine


def check_text(text: str) -> None:
    """Refuse text an engine cannot speak as plain words: empty, or markup-like.

    Some engines obey markup (SAPI5, NSSpeech) and some read it out (espeak-ng as
    pyttsx3 drives it), so text that looks like markup is refused for every engine:
    one protocol file must sound the same everywhere.
    """
    if not text.strip():
        raise UsageError(_("A cue has no words to speak"))
    found = _MARKUP.search(text)
    if found:
        raise UsageError(
            _(
                "Cue text {text!r} contains {group!r}, which speech engines read as markup: "
                "cues are spoken as plain words"
            ).format(text=text, group=found.group()),
            hint=_("Remove the markup from the protocol file"),
        )


def clip_from_samples(samples: np.ndarray, sample_rate: int, text: str, volume: float) -> Clip:
    """Engine samples (16-bit, or float in [-1, 1]) as a trimmed float32 clip at ``volume``.

    16-bit samples are scaled by 1/32768, as libsndfile reads them, so a phrase sounds
    the same whichever way it came from the engine.
    """
    if samples.dtype.kind == "i":
        samples = samples.astype(np.float32) / np.float32(32768.0)
    trimmed = trim_silence(Clip(samples.astype(np.float32, copy=False), sample_rate))
    if trimmed.samples.size == 0:
        raise SpeechError(
            _("The speech engine produced only silence for {text!r}").format(text=text),
            hint=_(DOCTOR_HINT),
        )
    samples = (trimmed.samples * np.float32(volume)).astype(np.float32)
    samples.setflags(write=False)
    return Clip(samples, trimmed.sample_rate)
