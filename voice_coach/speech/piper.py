"""Piper (VITS voices run by onnxruntime on the CPU) as a speech engine.

piper-tts, the upstream engine, phonemises each voice in its own language with the
espeak-ng it bundles (compiled into its ``espeakbridge`` extension, with its own data),
so a German voice speaks German. That copy of espeak-ng is linked into the extension and
loaded privately, apart from the system's libespeak-ng that pyttsx3 loads: both live in
one process (tested), which the fallback to espeak-ng and ``voices`` need.

piper and onnxruntime are imported only when a phrase must be spoken or a voice checked:
the cache key needs only the engine's version and digests of the voice's files, and the
model's digest is itself kept by path, size and modification time (``model_digest``), so
a warm start neither imports them nor reads 63 MB.

Piper's output varies from one synthesis to the next (its noise), so the clip a session
uses is the one the phrase cache holds, never a second synthesis.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import json
import os
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from voice_coach.core.clip import Clip
from voice_coach.errors import SpeechError, VoiceFileError
from voice_coach.i18n import _
from voice_coach.speech.engine import (
    DEFAULT_RATE_WPM,
    SpeechSettings,
    check_text,
    clip_from_samples,
)
from voice_coach.speech.piper_voices import PIPER, PiperModel, installed_models, model_for
from voice_coach.speech.voices import Voice
from voice_coach.userdirs import cache_root

FIX_PIPER = "Is piper-tts installed? Try: voice-coach doctor"
# Each sentence is scaled to this peak (Piper's own normalising, then -4.4 dB): the
# words' RMS then matches espeak-ng's (0.07 to 0.10 on the default session's words)
# and leaves headroom under the tones. In the cache key with the rest of how phrases
# are taken from Piper: a change must not be served clips made the old way.
PEAK = 0.6
PIPER_PATH = f"sentences-normalised-1 peak {PEAK}"
DIGESTS_FILE = "model-digests.json"
_ENGINE_SOURCES = ("voice.py", "config.py", "phonemize_espeak.py", "phoneme_ids.py", "const.py")

_lock = threading.RLock()
_loaded: dict[str, Any] = {}


class _Piper:
    """Piper as an ``engine.Engine``."""

    name = PIPER

    def identity(self, settings: SpeechSettings) -> str:
        model = _model(settings)
        return (
            f"piper-tts {_engine_code()} {PIPER_PATH} model {model_digest(model.model_path)} "
            f"config {_file_digest(model.config_path)}"
        )

    def voices(self) -> list[Voice]:
        return [model.voice for model in installed_models()]

    def speaker(self, settings: SpeechSettings) -> PiperSpeaker:
        return PiperSpeaker(settings)


ENGINE = _Piper()


class PiperSpeaker:
    """One Piper voice, loaded on entering (kept for the process: loading takes 0.3 s)."""

    def __init__(self, settings: SpeechSettings) -> None:
        settings.validate()
        self.settings = settings
        self._voice: Any = None
        self._synthesis: Any = None

    def __enter__(self) -> PiperSpeaker:
        model = _model(self.settings)
        self._voice = load_voice(model)
        from piper.config import SynthesisConfig

        # --rate as Piper's length scale: 175 wpm is the voice's own pace.
        scale = float(self._voice.config.length_scale) * DEFAULT_RATE_WPM / self.settings.rate_wpm
        self._synthesis = SynthesisConfig(length_scale=scale, normalize_audio=True, volume=PEAK)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._voice = None

    def synthesize(self, text: str) -> Clip:
        """``text`` spoken as a trimmed float32 clip, its sentences in one clip."""
        if self._voice is None:
            raise RuntimeError("PiperSpeaker.synthesize called outside its with block")
        check_text(text)
        try:
            with _lock:
                chunks = list(self._voice.synthesize(text, syn_config=self._synthesis))
        except Exception as exc:  # onnxruntime raises its own types; all mean the same
            raise SpeechError(
                _("Piper failed on {text!r}: {exc}").format(text=text, exc=exc), hint=FIX_PIPER
            ) from exc
        if not chunks:
            raise SpeechError(
                _("Piper produced no audio for {text!r}").format(text=text), hint=FIX_PIPER
            )
        samples = np.concatenate([chunk.audio_float_array for chunk in chunks])
        return clip_from_samples(samples, int(chunks[0].sample_rate), text, self.settings.volume)


def load_voice(model: PiperModel) -> Any:
    """The loaded ``PiperVoice`` for ``model``; a SpeechError when piper-tts or
    onnxruntime is missing or the model does not load."""
    key = str(model.model_path)
    with _lock:
        if key in _loaded:
            return _loaded[key]
        try:
            import onnxruntime
            from piper import PiperVoice
        except ImportError as exc:
            raise SpeechError(
                _("The neural engine cannot be loaded: {exc}").format(exc=exc), hint=FIX_PIPER
            ) from exc
        onnxruntime.set_default_logger_severity(3)  # its warnings are not the user's
        try:
            voice = PiperVoice.load(model.model_path, config_path=model.config_path)
        except Exception as exc:  # onnxruntime's own error types, JSON, missing keys
            detail = " ".join(str(exc).split())[:200]
            raise SpeechError(
                _("The Piper voice {model_path} does not load: {detail}").format(
                    model_path=model.model_path, detail=detail
                ),
                hint=FIX_PIPER,
            ) from exc
        _loaded[key] = voice
        return voice


def check_loads(model: PiperModel) -> None:
    """A VoiceFileError naming the file when ``model`` does not load as a Piper voice,
    or loads but cannot speak a word (its config names an espeak voice piper-tts lacks)."""
    try:
        voice = load_voice(model)
        try:
            list(voice.synthesize("one"))
        except Exception as exc:  # piper-tts and onnxruntime raise their own types
            detail = " ".join(str(exc).split())[:200]
            raise VoiceFileError(
                _("{model_path} loads but cannot speak: {detail}").format(
                    model_path=model.model_path, detail=detail
                ),
                hint=FIX_PIPER,
            ) from None
    except SpeechError as exc:
        raise VoiceFileError(exc.message, hint=exc.hint) from None
    finally:
        with _lock:
            _loaded.pop(str(model.model_path), None)


def model_digest(path: Path) -> str:
    """The sha256 of a model file, kept in the cache root by path, size and modification
    time, so a warm start reads a small JSON file instead of hashing 63 MB."""
    stat = path.stat()
    key = str(path.resolve())
    stamp = [stat.st_size, stat.st_mtime_ns]
    store = cache_root() / DIGESTS_FILE
    try:
        known = json.loads(store.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        known = {}
    if not isinstance(known, dict):
        known = {}
    entry = known.get(key)
    if isinstance(entry, list) and entry[:2] == stamp and len(entry) == 3:
        return str(entry[2])
    digest = _file_digest(path)
    known[key] = [*stamp, digest]
    with contextlib.suppress(OSError):  # an unwritable cache costs a hash, nothing more
        store.parent.mkdir(parents=True, exist_ok=True)
        temporary = store.with_name(f".{store.name}-{os.getpid()}.tmp")
        temporary.write_text(json.dumps(known), encoding="utf-8")
        temporary.replace(store)
    return digest


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as data:
        for block in iter(lambda: data.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()[:32]


@functools.cache
def _engine_code() -> str:
    """A digest of the piper-tts code that turns text into samples (and the size of its
    espeak-ng extension), found without importing it: any upgrade that could change the
    sound changes it. Not its version: ``importlib.metadata`` is slow on a warm start."""
    spec = importlib.util.find_spec("piper")
    if spec is None or not spec.submodule_search_locations:
        raise SpeechError(_("The neural engine piper-tts is not installed"), hint=FIX_PIPER)
    folder = Path(next(iter(spec.submodule_search_locations)))
    digest = hashlib.sha256()
    for name in _ENGINE_SOURCES:
        with contextlib.suppress(OSError):
            digest.update(name.encode() + b"\0" + (folder / name).read_bytes())
    for bridge in sorted(folder.glob("espeakbridge*")):
        digest.update(f"{bridge.name} {bridge.stat().st_size}".encode())
    return digest.hexdigest()[:16]


def _model(settings: SpeechSettings) -> PiperModel:
    if settings.voice_id is None:
        models = installed_models()
        if not models:
            raise SpeechError(_("No Piper voice is installed"), hint=FIX_PIPER)
        return models[0]
    return model_for(settings.voice_id)
