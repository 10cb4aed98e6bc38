"""Spoken phrases kept on disk, so a session with a warm cache starts without an engine.

The list of installed voices is kept beside them for the same reason: choosing a voice
for ``--voice`` or ``--lang`` would otherwise start the engine just to read its list.

An entry is one file named by the sha256 of everything that shapes its sound (format
version, engine, what the engine says makes its clips, voice, rate, volume, silence
threshold, the limiter's ceiling, text). It holds a small header (sample rate, frame
count, the length of the facts, a sha256 of facts and samples), the clip's facts as a
JSON object, and the raw float32 samples, so an entry cut short by a crash or a full
disk fails its own check and is made again instead of being played. Entries are written
to a temporary file in the same folder and renamed into place (atomic, like
``os.replace``), so two sessions filling the cache at once each see either no entry or a
whole one. No ``fsync``: a torn file after a power cut is caught by the checksum, and
syncing would cost more than the synthesis.

Facts are measured on the clip alone (``FACTS``: name -> measure; a number or a small
JSON record), kept so a warm start does not measure again. A measure added later needs
no new format: an entry written before it lacks the fact, and reading it measures the
clip then.

A new clip's true peak is limited before it is kept (``limit_for_cache``: speech peaks
stand higher above its loudness than a session's gain allows under -1 dBTP), and its
loudness figures are one of its facts, so a session's gain is computed from the entries
without a loudness library (``voice_coach.audio.loudness``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import struct
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from voice_coach.audio.loudness import CLIP_PEAK_ABOVE_LU, limit_for_cache, loudness_record
from voice_coach.audio.onset import perceived_onset_s
from voice_coach.core.clip import AUDIBLE_THRESHOLD, Clip
from voice_coach.files.leftovers import remove_stale
from voice_coach.i18n import _
from voice_coach.speech.engine import ESPEAK, Speaker, SpeechSettings, check_text, engine_for
from voice_coach.speech.voices import Voice
from voice_coach.userdirs import CACHE_DIR_ENV, cache_root

# 3: clips limited as they enter; an entry of 2 would be measured on every start, so it
# is made again, once.
CACHE_FORMAT_VERSION = 3
ENTRY_SUFFIX = ".phrase"

_MAGIC = b"VCPHRASE"
# magic, format version, sample rate, frames, bytes of facts, sha256 of facts + samples
_HEADER = struct.Struct("<8sIIQI32s")

# What is measured on each clip and kept in its entry: name -> measure of the clip alone
# (a number, or a record JSON can hold).
FACTS: dict[str, Callable[[Clip], Any]] = {
    "loudness": loudness_record,
    # Where the words are heard, from the clip's first sample: the timeline puts a word
    # that marks a beat this much ahead of it.
    "onset_s": lambda clip: perceived_onset_s(clip.samples, clip.sample_rate),
}


@dataclass(frozen=True)
class Entry:
    """One cache entry: the clip and the facts measured on it."""

    clip: Clip
    facts: Mapping[str, Any]


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

    ``facts`` holds each text's ``FACTS``. ``notes`` are one-line remarks for the user
    (the cache could not be written); they are returned, not printed, so the CLI
    decides how to show them.
    """

    clips: dict[str, Clip]
    facts: dict[str, Mapping[str, Any]]
    stats: CacheStats
    notes: tuple[str, ...]


def default_cache_dir() -> Path:
    """``phrases`` in the cache root (``$VOICE_COACH_CACHE_DIR``, else the user's)."""
    return cache_root() / "phrases"


def cache_key(text: str, settings: SpeechSettings, engine: str) -> str:
    material = [
        CACHE_FORMAT_VERSION,
        settings.engine,
        engine,
        settings.voice_id,
        settings.rate_wpm,
        float(settings.volume),
        AUDIBLE_THRESHOLD,
        CLIP_PEAK_ABOVE_LU,
        text,
    ]
    return hashlib.sha256(json.dumps(material).encode("utf-8")).hexdigest()


def load_clips(
    texts: Iterable[str], settings: SpeechSettings, cache_dir: Path | None = None
) -> PhraseClips:
    """Every distinct text as a clip: from the cache where it can, spoken where it must.

    ``settings.engine`` speaks, and is opened only on a miss. A cache folder that cannot
    be created or written costs speed, never the session: the clips are still returned,
    with a note.
    """
    settings.validate()
    folder = cache_dir if cache_dir is not None else default_cache_dir()
    distinct = list(dict.fromkeys(texts))
    for text in distinct:
        check_text(text)
    engine = engine_for(settings.engine)
    identity = engine.identity(settings)
    paths = {
        text: folder / (cache_key(text, settings, identity) + ENTRY_SUFFIX) for text in distinct
    }

    entries: dict[str, Entry] = {}
    rebuilt = 0
    for text in distinct:
        entry, damaged = _read_entry(paths[text])
        if entry is not None:
            entries[text] = entry
        rebuilt += damaged

    missing = [text for text in distinct if text not in entries]
    written = 0
    unwritable: str | None = None
    if missing:
        unwritable = _make_folder(folder)
        if unwritable is None:  # what a writer killed mid-entry left behind
            remove_stale(folder, ".*-*.tmp")
        keep = {text: paths[text] if unwritable is None else None for text in missing}
        with engine.speaker(settings) as speaker:
            for text, entry, failed in _spoken(speaker, keep):
                entries[text] = entry
                if keep[text] is not None and failed is None:
                    written += 1
                unwritable = unwritable or failed

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
            _(
                "Phrase cache {folder} is not writable ({reason}); speaking without it, so the "
                "next start will be slower. Set {variable} to a writable folder to fix this."
            ).format(folder=folder, reason=unwritable, variable=CACHE_DIR_ENV),
        )
    return PhraseClips(
        clips={text: entries[text].clip for text in distinct},
        facts={text: entries[text].facts for text in distinct},
        stats=stats,
        notes=notes,
    )


def _spoken(
    speaker: Speaker, texts: Mapping[str, Path | None]
) -> Iterator[tuple[str, Entry, str | None]]:
    """Each text spoken and made into an entry (``_new_entry``), in order, with why it
    could not be kept (``None``: kept, or not to be).

    The engine speaks one text after another, while the clips it has spoken are limited,
    measured and written by a worker on each core this process may use, since that work
    takes longer than espeak-ng's speech. A second worker adds little more (numpy's
    running sums on phrase-sized arrays hold the GIL). A phrase that fails lets those
    spoken before it be kept; Ctrl-C drops what has not started.
    """
    if len(texts) == 1:
        [(text, path)] = texts.items()
        yield text, *_new_entry(speaker.synthesize(text), path)
        return
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=min(len(texts), _usable_cores()))
    try:
        made = [
            pool.submit(_new_entry, speaker.synthesize(text), path) for text, path in texts.items()
        ]
        for text, entry in zip(texts, made, strict=True):
            yield text, *entry.result()
    except Exception:
        pool.shutdown(wait=True)  # what was spoken is still made and kept
        raise
    finally:
        pool.shutdown(cancel_futures=True)


def _usable_cores() -> int:
    """The cores this process may run on (its affinity, where the system has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def _new_entry(spoken: Clip, path: Path | None) -> tuple[Entry, str | None]:
    """A clip just spoken as the cache keeps it: limited, with every fact measured, and
    written to ``path`` (unless ``None``); with why it could not be written, if not."""
    clip, figures = limit_for_cache(spoken)
    made = {"loudness": figures} if "loudness" in FACTS else {}  # measured already
    entry = Entry(clip, measure(clip, made))
    if path is None:
        return entry, None
    try:
        return _write_entry(path, entry), None
    except OSError as exc:
        return entry, f"{exc.strerror or exc}"


def measure(clip: Clip, known: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Every fact in ``FACTS`` for ``clip``: those in ``known`` as they are, the rest
    measured now."""
    facts = dict(known or {})
    for name, measure_clip in FACTS.items():
        if name not in facts:
            facts[name] = measure_clip(clip)
    return facts


def installed_voices(refresh: bool = False) -> list[Voice]:
    """Every engine's voices: espeak-ng's (kept in the cache, see ``load_voices``) and
    the Piper voices on disk, which are read afresh (a few small files)."""
    from voice_coach.speech.piper_voices import installed_models

    return load_voices(refresh=refresh) + [model.voice for model in installed_models()]


def load_voices(cache_dir: Path | None = None, refresh: bool = False) -> list[Voice]:
    """espeak-ng's installed voices, as its engine lists them, from the cache if it can.

    The entry is keyed by the engine and its version, so an upgrade lists afresh. A voice
    installed since the list was kept is missing from it: when a user's choice matches
    nothing, call again with ``refresh=True`` before calling it an error.
    """
    folder = cache_dir if cache_dir is not None else default_cache_dir()
    speaker = engine_for(ESPEAK)
    engine = speaker.identity(SpeechSettings())
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
    voices = speaker.voices()
    listing = {  # what is read back above (dataclasses.asdict took 2-4 ms for 131 voices)
        "engine": engine,
        "voices": [
            {"id": v.id, "name": v.name, "languages": list(v.languages), "gender": v.gender}
            for v in voices
        ],
    }
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


def _read_entry(path: Path) -> tuple[Entry | None, bool]:
    """The entry, or ``None``; the flag says a file was there but damaged."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None, False
    except OSError:
        return None, True
    if len(data) < _HEADER.size:
        return None, True
    magic, version, sample_rate, frames, facts_size, digest = _HEADER.unpack_from(data)
    rest = memoryview(data)[_HEADER.size :]
    if (
        magic != _MAGIC
        or version != CACHE_FORMAT_VERSION
        or sample_rate == 0
        or len(rest) != facts_size + frames * 4
        or hashlib.sha256(rest).digest() != digest
    ):
        return None, True
    try:
        facts = json.loads(bytes(rest[:facts_size]).decode("utf-8"))
    except ValueError:
        return None, True
    if not isinstance(facts, dict):
        return None, True
    samples = np.frombuffer(rest[facts_size:], dtype="<f4").astype(np.float32, copy=False)
    samples.setflags(write=False)
    clip = Clip(samples, sample_rate)
    return Entry(clip, measure(clip, facts)), False


def _write_entry(path: Path, entry: Entry) -> Entry:
    """Keep ``entry`` unless a whole entry is already there, and return the one kept.

    The first complete entry wins: an engine whose every synthesis differs (Piper) must
    not have two processes filling the cache at once end up with different clips for
    the same words, or ``script``, ``export`` and ``run`` would disagree.
    """
    facts = json.dumps(dict(entry.facts), sort_keys=True).encode("utf-8")
    body = np.ascontiguousarray(entry.clip.samples, dtype="<f4").tobytes()
    header = _HEADER.pack(
        _MAGIC,
        CACHE_FORMAT_VERSION,
        entry.clip.sample_rate,
        len(entry.clip.samples),
        len(facts),
        hashlib.sha256(facts + body).digest(),
    )
    return _write_first(path, header + facts + body, entry)


def _write_first(path: Path, data: bytes, entry: Entry) -> Entry:
    """``data`` at ``path`` unless a whole entry is there already (then that one)."""
    handle, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.stem[:16]}-", suffix=".tmp"
    )
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        try:
            os.link(temporary, path)  # fails if an entry is there: never replaces one
            return entry
        except FileExistsError:
            there, _ = _read_entry(path)
            if there is not None:
                return there
            Path(temporary).replace(path)  # a damaged entry is replaced
            return entry
        except OSError:  # a file system without hard links: last writer wins
            Path(temporary).replace(path)
            return entry
    finally:
        Path(temporary).unlink(missing_ok=True)


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
