"""Spoken phrases kept on disk, so a session with a warm cache starts without the engine.

The list of installed voices is kept beside them for the same reason: choosing a voice
for ``--voice`` or ``--lang`` would otherwise start the engine just to read its list.

An entry is one file named by the sha256 of everything that shapes its sound (format
version, engine and its version, voice, rate, volume, silence threshold, text). It holds
a small header (sample rate, frame count, sha256 of the samples) and the raw float32
samples, so an entry cut short by a crash or a full disk fails its own check and is
made again instead of being played. Entries are written to a temporary file in the same
folder and renamed into place (atomic, like ``os.replace``), so two sessions filling the
cache at once each see either no entry or a whole one. No ``fsync``: a torn file after a power
cut is caught by the checksum, and syncing would cost more than the synthesis.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import struct
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voice_coach.clip import AUDIBLE_THRESHOLD, Clip
from voice_coach.leftovers import remove_stale
from voice_coach.speech import (
    SpeechEngine,
    SpeechSettings,
    check_text,
    engine_identity,
    list_voices,
)
from voice_coach.userdirs import CACHE_DIR_ENV, cache_root
from voice_coach.voices import Voice

CACHE_FORMAT_VERSION = 1
ENTRY_SUFFIX = ".phrase"

_MAGIC = b"VCPHRASE"
_HEADER = struct.Struct("<8sIIQ32s")


@dataclass(frozen=True)
class CacheStats:
    """What one ``load_clips`` call did, for notes, tests and benchmarks.

    ``rebuilt`` counts entries that were present but unreadable or damaged (each is
    also a miss). ``engine_opened`` is true only when something had to be spoken.
    """

    cache_dir: Path
    hits: int
    misses: int
    rebuilt: int
    written: int
    engine_opened: bool
    unwritable: str | None


@dataclass(frozen=True)
class PhraseClips:
    """A clip for every distinct text asked for, plus what the cache did.

    ``notes`` are one-line remarks for the user (the cache could not be written); they
    are returned, not printed, so the CLI decides how to show them.
    """

    clips: dict[str, Clip]
    stats: CacheStats
    notes: tuple[str, ...]


def default_cache_dir() -> Path:
    """``phrases`` in the cache root (``$VOICE_COACH_CACHE_DIR``, else the user's)."""
    return cache_root() / "phrases"


def cache_key(text: str, settings: SpeechSettings, engine: str) -> str:
    material = [
        CACHE_FORMAT_VERSION,
        engine,
        settings.voice_id,
        settings.rate_wpm,
        float(settings.volume),
        AUDIBLE_THRESHOLD,
        text,
    ]
    return hashlib.sha256(json.dumps(material).encode("utf-8")).hexdigest()


def load_clips(
    texts: Iterable[str], settings: SpeechSettings, cache_dir: Path | None = None
) -> PhraseClips:
    """Every distinct text as a clip: from the cache where it can, spoken where it must.

    The engine is opened only on a miss. A cache folder that cannot be created or
    written costs speed, never the session: the clips are still returned, with a note.
    """
    settings.validate()
    folder = cache_dir if cache_dir is not None else default_cache_dir()
    distinct = list(dict.fromkeys(texts))
    for text in distinct:
        check_text(text)
    engine = engine_identity()
    paths = {text: folder / (cache_key(text, settings, engine) + ENTRY_SUFFIX) for text in distinct}

    clips: dict[str, Clip] = {}
    rebuilt = 0
    for text in distinct:
        clip, damaged = _read_entry(paths[text])
        if clip is not None:
            clips[text] = clip
        rebuilt += damaged

    missing = [text for text in distinct if text not in clips]
    written = 0
    unwritable: str | None = None
    if missing:
        unwritable = _make_folder(folder)
        if unwritable is None:  # what a writer killed mid-entry left behind
            remove_stale(folder, ".*-*.tmp")
        with SpeechEngine(settings) as speech:
            for text in missing:
                clips[text] = speech.synthesize(text)
                if unwritable is None:
                    try:
                        _write_entry(paths[text], clips[text])
                        written += 1
                    except OSError as exc:
                        unwritable = f"{exc.strerror or exc}"

    stats = CacheStats(
        cache_dir=folder,
        hits=len(distinct) - len(missing),
        misses=len(missing),
        rebuilt=rebuilt,
        written=written,
        engine_opened=bool(missing),
        unwritable=unwritable,
    )
    notes = ()
    if unwritable is not None:
        notes = (
            f"Phrase cache {folder} is not writable ({unwritable}); "
            f"speaking without it, so the next start will be slower. Set {CACHE_DIR_ENV} "
            "to a writable folder to fix this.",
        )
    return PhraseClips(clips={text: clips[text] for text in distinct}, stats=stats, notes=notes)


def load_voices(cache_dir: Path | None = None, refresh: bool = False) -> list[Voice]:
    """The installed voices, as ``speech.list_voices`` gives them, from the cache if it can.

    The entry is keyed by the engine and its version, so an upgrade lists afresh. A voice
    installed since the list was kept is missing from it: when a user's choice matches
    nothing, call again with ``refresh=True`` before calling it an error.
    """
    folder = cache_dir if cache_dir is not None else default_cache_dir()
    engine = engine_identity()
    name = hashlib.sha256(json.dumps([CACHE_FORMAT_VERSION, engine]).encode()).hexdigest()
    path = folder / f"voices-{name[:32]}.json"
    if not refresh:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            return [
                Voice(
                    id=str(v["id"]),
                    name=str(v["name"]),
                    languages=tuple(str(language) for language in v["languages"]),
                    gender=None if v["gender"] is None else str(v["gender"]),
                )
                for v in raw["voices"]
            ]
        except (OSError, ValueError, KeyError, TypeError):
            pass
    voices = list_voices()
    listing = {"engine": engine, "voices": [dataclasses.asdict(voice) for voice in voices]}
    if _make_folder(folder) is None:
        with contextlib.suppress(OSError):
            _write_atomic(path, json.dumps(listing).encode("utf-8"))
    return voices


def _make_folder(folder: Path) -> str | None:
    """``None`` when entries can be written into ``folder``, else why not."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return f"{exc.strerror or exc}"
    if not os.access(folder, os.W_OK | os.X_OK):
        return "permission denied"
    return None


def _read_entry(path: Path) -> tuple[Clip | None, bool]:
    """The entry's clip, or ``None``; the flag says a file was there but damaged."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None, False
    except OSError:
        return None, True
    if len(data) < _HEADER.size:
        return None, True
    magic, version, sample_rate, frames, digest = _HEADER.unpack_from(data)
    body = memoryview(data)[_HEADER.size :]
    if (
        magic != _MAGIC
        or version != CACHE_FORMAT_VERSION
        or sample_rate == 0
        or len(body) != frames * 4
        or hashlib.sha256(body).digest() != digest
    ):
        return None, True
    samples = np.frombuffer(body, dtype="<f4").astype(np.float32, copy=False)
    samples.setflags(write=False)
    return Clip(samples, sample_rate), False


def _write_entry(path: Path, clip: Clip) -> None:
    body = np.ascontiguousarray(clip.samples, dtype="<f4").tobytes()
    header = _HEADER.pack(
        _MAGIC,
        CACHE_FORMAT_VERSION,
        clip.sample_rate,
        len(clip.samples),
        hashlib.sha256(body).digest(),
    )
    _write_atomic(path, header + body)


def _write_atomic(path: Path, data: bytes) -> None:
    """Readers see the old file or the whole new one, never a part (see the docstring)."""
    handle, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.stem[:16]}-", suffix=".tmp"
    )
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
