"""espeak-ng (and SAPI5 or NSSpeech elsewhere) through pyttsx3: the one module that talks
to pyttsx3.

pyttsx3 is imported inside functions, so a session whose phrases are all cached never
loads it. Four facts about pyttsx3 on espeak-ng shape this module:

- espeak-ng can be initialised only once per process, so one pyttsx3 engine is opened
  on first use and kept; ``EspeakSpeaker`` only configures it and hands out clips.
- pyttsx3 drives espeak-ng asynchronously and calls ``espeak_Cancel`` at the start of
  every run loop when espeak still has work queued, which silently drops a rate change
  made just before (and can drop a whole phrase). Every change of settings is therefore
  followed by a wait until espeak-ng is idle before anything is spoken. That wait polls
  ``espeak_IsPlaying`` every half millisecond rather than calling ``espeak_Synchronize``
  alone, which sleeps in 20 ms steps: after a 1 ms phrase it often slept one whole step.
- pyttsx3's run loop polls every 10 ms and hands audio over as a WAV file; on espeak-ng,
  phrases are therefore spoken through pyttsx3's own espeak-ng binding without that loop
  (``_Driver.synthesize``): the same call, the same samples, none of the waiting. The
  macOS and Windows engines keep pyttsx3's ``save_to_file``.
- The espeak driver synthesises with ``ENDPAUSE | CHARS_UTF8`` only: no ``SSML`` and no
  ``PHONEMES`` flag, so ``<break/>`` or ``[[...]]`` would be read out, not obeyed. The
  macOS and Windows engines do obey such markup, so text that looks like markup is
  refused on every platform (``engine.check_text``): one protocol file must sound the
  same everywhere.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import functools
import hashlib
import importlib.util
import io
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from voice_coach.core.clip import Clip
from voice_coach.errors import SpeechError, UsageError
from voice_coach.i18n import _
from voice_coach.speech.engine import (
    DOCTOR_HINT,
    ESPEAK,
    SpeechSettings,
    check_text,
    clip_from_samples,
)
from voice_coach.speech.voices import LIST_HINT, Voice, closest, normalize_language

_DRIVERS = {"darwin": "nsss", "win32": "sapi5"}
_ESPEAK_LIBRARIES = (
    "libespeak-ng.so.1",
    "/usr/local/lib/libespeak-ng.so.1",
    "/opt/homebrew/lib/libespeak-ng.1.dylib",
    "/usr/local/lib/libespeak-ng.1.dylib",
)
SYNTH_ATTEMPTS = 3
# How phrases are taken from espeak-ng, in the cache key: a new way (here, the binding
# without pyttsx3's loop, which also reads espeak-ng's true rate) must not be served
# clips the old way made.
ESPEAK_PATH = "binding-1"
SYNTH_TIMEOUT_S = 30.0
IDLE_POLL_S = 0.0005


def driver_name() -> str:
    """pyttsx3's default driver for this platform, named without importing pyttsx3."""
    return _DRIVERS.get(sys.platform, "espeak")


@functools.cache
def engine_identity() -> str:
    """What makes the clips, for the phrase cache key: a new engine, or new code driving
    it, may speak differently.

    Found without starting or even importing pyttsx3, so a session with a warm cache
    pays for neither: the espeak-ng version comes straight from its library, and
    pyttsx3's part is a digest of the source that drives the engine, which changes with
    any upgrade (or local patch) that could change the sound.
    """
    driver = driver_name()
    code = _driver_digest(driver)
    if driver != "espeak":
        import platform

        return f"{driver} {platform.platform()} pyttsx3-{driver} {code}"
    return f"espeak-ng {_espeak_version()} pyttsx3-{driver} {code} {ESPEAK_PATH}"


def _driver_digest(driver: str) -> str:
    """The digest of pyttsx3's engine and driver source, read through its loader (so a
    zipped install works too); its version where no source can be read (a frozen app)."""
    spec = importlib.util.find_spec("pyttsx3")
    if spec is None or spec.origin is None or not spec.submodule_search_locations:
        raise SpeechError(_("The speech library pyttsx3 is not installed"), hint=_(DOCTOR_HINT))
    folder = Path(next(iter(spec.submodule_search_locations)))
    digest = hashlib.sha256()
    read = 0
    for name in ("engine.py", "driver.py", f"drivers/{driver}.py", f"drivers/_{driver}.py"):
        try:
            source = spec.loader.get_data(str(folder / name))  # type: ignore[union-attr]
        except OSError:
            continue
        digest.update(f"{name} {len(source)}\n".encode())
        digest.update(source)
        read += 1
    if read == 0:
        from importlib.metadata import version

        return f"version {version('pyttsx3')}"
    return digest.hexdigest()[:16]


class _Espeak:
    """espeak-ng through pyttsx3 as an ``engine.Engine``."""

    name = ESPEAK

    def identity(self, settings: SpeechSettings) -> str:
        return engine_identity()

    def voices(self) -> list[Voice]:
        return list_voices()

    def speaker(self, settings: SpeechSettings) -> EspeakSpeaker:
        return EspeakSpeaker(settings)


ENGINE = _Espeak()


def list_voices() -> list[Voice]:
    """The installed voices, sorted by id, with lower-case language codes."""
    with _lock:
        return list(_open_driver().voices())


class EspeakSpeaker:
    """Turns phrases into trimmed clips with one set of ``SpeechSettings``.

    A context manager because synthesis needs a configured engine (and, on macOS and
    Windows, whose engines write files, a scratch folder); leaving it removes the folder
    but keeps espeak-ng alive for the next engine, since it cannot be started twice in
    one process.
    """

    def __init__(self, settings: SpeechSettings | None = None) -> None:
        self.settings = settings or SpeechSettings()
        self.settings.validate()
        self._entered = False
        self._scratch: tempfile.TemporaryDirectory[str] | None = None
        self._count = 0

    def __enter__(self) -> EspeakSpeaker:
        voice_id = self.settings.voice_id
        with _lock:
            driver = _open_driver()
            voices = driver.voices() if voice_id is not None else []
        if voice_id is not None and voice_id not in {voice.id for voice in voices}:
            message = f"Unknown voice id {voice_id!r}"
            suggestions = closest(voice_id, voices)
            if suggestions:
                message += ". Closest: " + ", ".join(suggestions)
            raise UsageError(message, hint=_(LIST_HINT))
        self._entered = True
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._entered = False
        if self._scratch is not None:
            self._scratch.cleanup()
            self._scratch = None

    def synthesize(self, text: str) -> Clip:
        """``text`` spoken as a float32 mono clip from its first audible sample to its last."""
        if not self._entered:
            raise RuntimeError("EspeakSpeaker.synthesize called outside its with block")
        check_text(text)
        for attempt in range(SYNTH_ATTEMPTS):
            try:
                return self._synthesize_once(text)
            except SpeechError:
                # pyttsx3's run loop can lose an utterance's audio under heavy load
                # (seen in CI: an all-silent 'two'); asking again is safe, and a real
                # failure fails every attempt.
                if attempt == SYNTH_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def _synthesize_once(self, text: str) -> Clip:
        with _lock:
            driver = _open_driver()
            driver.configure(self.settings.voice_id, self.settings.rate_wpm)
            if driver_name() == "espeak":
                samples, sample_rate = driver.synthesize(text)
                return clip_from_samples(samples, sample_rate, text, self.settings.volume)
            path = self._scratch_file()
            driver.save(text, path)
        return _read_clip(path, text, self.settings.volume)

    def _scratch_file(self) -> Path:
        """A new file name in this engine's scratch folder, made on first use."""
        if self._scratch is None:
            self._scratch = tempfile.TemporaryDirectory(prefix="voice-coach-speech-")
        self._count += 1
        suffix = ".aiff" if driver_name() == "nsss" else ".wav"
        return Path(self._scratch.name) / f"phrase-{self._count}{suffix}"


@dataclass(eq=False)
class _Driver:
    """The process's one pyttsx3 engine and what it was last told (mutable by design)."""

    engine: Any
    default_voice: str | None
    errors: list[BaseException] = field(default_factory=list)
    applied: tuple[str | None, int] | None = None
    _voices: list[Voice] | None = None

    def voices(self) -> list[Voice]:
        if self._voices is None:
            self._voices = sorted(
                (_voice_from(raw) for raw in self.engine.getProperty("voices")),
                key=lambda voice: voice.id,
            )
        return self._voices

    def configure(self, voice_id: str | None, rate_wpm: int) -> None:
        """Set voice and rate only when they change, and let espeak take them in."""
        wanted = (voice_id or self.default_voice, rate_wpm)
        if self.applied == wanted:
            return
        self.applied = None  # until all of it is known to be taken in
        self.errors.clear()
        self.engine.setProperty("voice", wanted[0])
        self.engine.setProperty("rate", rate_wpm)
        self.engine.setProperty("volume", 1.0)
        _settle()
        if self.errors:
            raise SpeechError(
                _("The speech engine refused voice {value!r} at {rate_wpm} wpm: {value2}").format(
                    value=wanted[0], rate_wpm=rate_wpm, value2=self.errors[0]
                ),
                hint=_(DOCTOR_HINT),
            )
        self.applied = wanted

    def synthesize(self, text: str) -> tuple[np.ndarray, int]:
        """One utterance from espeak-ng as 16-bit samples and their rate, without
        pyttsx3's run loop.

        The loop polls every 10 ms and goes through a WAV file: for the short phrases of
        a session that is most of the time. Here the samples come straight from
        pyttsx3's own espeak-ng binding, with the same call and flags its driver makes,
        and the wait ends with the utterance's end event. The rate is asked of espeak-ng
        (pyttsx3's file always says 22050 Hz, which is wrong for some voices).
        """
        from pyttsx3.drivers import _espeak

        chunks: list[bytes] = []
        finished = threading.Event()

        def collect(wav: Any, frames: int, events: Any) -> int:
            if frames > 0:
                chunks.append(ctypes.string_at(wav, frames * 2))
            index = 0
            while events[index].type != _espeak.EVENT_LIST_TERMINATED:
                if events[index].type == _espeak.EVENT_MSG_TERMINATED:
                    finished.set()
                index += 1
            return 0

        # pyttsx3's own callback goes back afterwards: its run loop waits for it to see
        # the end of an utterance, and would wait forever for one it never sees.
        pyttsx3_callback = _espeak.SynthCallback
        _espeak.SetSynthCallback(collect)
        ours = _espeak.SynthCallback  # alive until espeak-ng no longer holds it
        try:
            flags = _espeak.ENDPAUSE | _espeak.CHARS_UTF8
            status = _espeak.Synth(text.encode("utf-8"), flags=flags)
            if status != _espeak.EE_OK:
                raise SpeechError(
                    _("The speech engine refused {text!r} (espeak-ng status {status})").format(
                        text=text, status=status
                    ),
                    hint=_(DOCTOR_HINT),
                )
            # The end-of-message event first, then espeak-ng's own idle state (its
            # thread needs a moment after the event): a phrase takes 1 to 5 ms.
            if not finished.wait(SYNTH_TIMEOUT_S):
                raise SpeechError(
                    _("The speech engine did not finish {text!r}").format(text=text),
                    hint=_(DOCTOR_HINT),
                )
            status = _synchronize()
            if status != _espeak.EE_OK:
                raise SpeechError(
                    _("The speech engine failed on {text!r} (espeak-ng status {status})").format(
                        text=text, status=status
                    ),
                    hint=_(DOCTOR_HINT),
                )
        except BaseException:
            # Timed out, refused or interrupted (Ctrl-C): stop espeak-ng before its
            # callback goes, so no late sample reaches freed memory or the next phrase.
            _espeak.Cancel()
            _espeak.Synchronize()
            raise
        finally:
            if pyttsx3_callback is not None:
                _espeak.cSetSynthCallback(pyttsx3_callback)  # the C side first, then ours
                _espeak.SynthCallback = pyttsx3_callback
            del ours
        sample_rate = _espeak.dll.espeak_ng_GetSampleRate()
        return np.frombuffer(b"".join(chunks), dtype="<i2"), int(sample_rate)

    def save(self, text: str, path: Path) -> None:
        """One utterance, one run loop, pyttsx3's "Audio saved to" kept off stdout."""
        global _driver
        self.errors.clear()
        try:
            with _quiet():
                self.engine.save_to_file(text, str(path))
                self.engine.runAndWait()
        except Exception as exc:
            _driver = None
            raise SpeechError(
                _("The speech engine failed on {text!r}: {exc}").format(text=text, exc=exc),
                hint=_(DOCTOR_HINT),
            ) from exc
        if self.errors:
            raise SpeechError(
                _("The speech engine failed on {text!r}: {value}").format(
                    text=text, value=self.errors[0]
                ),
                hint=_(DOCTOR_HINT),
            )


_lock = threading.RLock()
_driver: _Driver | None = None


def _open_driver() -> _Driver:
    """The one engine, started on first use; a missing library is a SpeechError."""
    global _driver
    if _driver is not None:
        return _driver
    try:
        import pyttsx3
    except ImportError as exc:
        raise SpeechError(
            _("The speech library pyttsx3 cannot be loaded: {exc}").format(exc=exc),
            hint=_(DOCTOR_HINT),
        ) from exc
    errors: list[BaseException] = []

    def on_error(exception: BaseException, **_: object) -> None:
        errors.append(exception)

    try:
        with _quiet():
            engine = pyttsx3.init(driver_name())
            engine.connect("error", on_error)
            # The engine starts busy, so settings would queue for the next run loop;
            # idle, they apply at once. On espeak-ng, where no run loop follows, it is
            # told so directly (what its run loop does first, without the loop's 10 ms
            # sleep); elsewhere an empty run loop does it.
            if driver_name() == "espeak":
                engine.proxy.setBusy(False)
            else:
                engine.runAndWait()
            default_voice = engine.getProperty("voice")
    except Exception as exc:
        raise SpeechError(
            _("The speech engine could not start: {exc}").format(exc=exc), hint=_(DOCTOR_HINT)
        ) from exc
    _driver = _Driver(engine=engine, default_voice=default_voice, errors=errors)
    atexit.register(_release_driver)
    return _driver


def _release_driver() -> None:
    """Let pyttsx3 clean up while Python is still whole: left to interpreter shutdown,
    its ``__del__`` finds its own modules gone and prints a traceback to stderr."""
    global _driver
    _driver = None


def _settle() -> None:
    """Wait until espeak-ng has taken in queued settings (see the module docstring)."""
    if driver_name() == "espeak":
        _synchronize()


def _synchronize() -> int:
    """``espeak_Synchronize``'s status, without its 20 ms sleeps: polls ``espeak_IsPlaying``
    until espeak-ng's queue is idle, then lets it return at once. A queue still busy after
    ``SYNTH_TIMEOUT_S`` is a SpeechError, where ``Synchronize`` alone would wait forever."""
    from pyttsx3.drivers import _espeak

    deadline = time.monotonic() + SYNTH_TIMEOUT_S
    while _espeak.IsPlaying():
        if time.monotonic() > deadline:
            raise SpeechError(_("The speech engine stayed busy"), hint=_(DOCTOR_HINT))
        time.sleep(IDLE_POLL_S)
    return int(_espeak.Synchronize())


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    with contextlib.redirect_stdout(io.StringIO()):
        yield


def _voice_from(raw: Any) -> Voice:
    gender = str(raw.gender).lower() if raw.gender else None
    languages = tuple(normalize_language(str(language)) for language in raw.languages or ())
    return Voice(id=str(raw.id), name=str(raw.name or raw.id), languages=languages, gender=gender)


def _read_clip(path: Path, text: str, volume: float) -> Clip:
    """The clip from the file the macOS and Windows engines write."""
    try:
        if not path.is_file() or path.stat().st_size == 0:
            raise SpeechError(
                _("The speech engine wrote no audio for {text!r}").format(text=text),
                hint=_(DOCTOR_HINT),
            )
        import soundfile  # only a phrase not in the cache needs it

        try:
            data, sample_rate = soundfile.read(path, dtype="float32", always_2d=True)
        except RuntimeError as exc:
            raise SpeechError(
                _("The speech engine wrote unreadable audio for {text!r}: {exc}").format(
                    text=text, exc=exc
                ),
                hint=_(DOCTOR_HINT),
            ) from exc
    finally:
        path.unlink(missing_ok=True)
    return clip_from_samples(data.mean(axis=1, dtype=np.float32), int(sample_rate), text, volume)


def _espeak_version() -> str:
    for name in _ESPEAK_LIBRARIES:
        try:
            library = ctypes.CDLL(name)
        except OSError:
            continue
        info = library.espeak_Info
        info.restype = ctypes.c_char_p
        info.argtypes = [ctypes.c_void_p]
        version = info(None)
        return version.decode("utf-8", "replace") if version else "unknown"
    raise SpeechError(_("The espeak-ng library is not installed"), hint=_(DOCTOR_HINT))
