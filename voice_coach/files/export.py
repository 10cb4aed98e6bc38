"""Sessions written to audio files, safely: nothing the user had is ever lost.

The audio streams from the renderer block by block, so a 60-minute export costs no more
memory than a 1-minute one: WAV straight to the file (a header the stdlib's ``wave``
makes, then 16-bit samples), the compressed formats through libsndfile (soundfile).
Every file, the audio and its sidecars, is written to a temporary file beside its target
and moved into place only when all of them are complete: an interrupted or failed export
leaves no half file under any target name, and nothing is overwritten without ``force``.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import io
import os
import shutil
import sys
import tempfile
import wave
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np

from voice_coach.core.render import RenderedSession
from voice_coach.errors import ExportError, OutputError, UsageError, os_reason, stdout_failed
from voice_coach.files.durable import SyncBehind, fsync_folder, fsync_path
from voice_coach.files.leftovers import remove_stale
from voice_coach.files.subtitles import SUBTITLE_KINDS
from voice_coach.files.subtitles import subtitles as subtitle_text
from voice_coach.i18n import _

if TYPE_CHECKING:
    from voice_coach.files.tags import FileTags

# extension -> (libsndfile format, subtype)
FORMATS: dict[str, tuple[str, str]] = {
    "wav": ("WAV", "PCM_16"),
    "flac": ("FLAC", "PCM_16"),
    "ogg": ("OGG", "VORBIS"),
    "mp3": ("MP3", "MPEG_LAYER_III"),
}
# The formats whose files are tagged (``files.tags``, imported only for them): phone
# players ignore a WAV file's tags.
TAGGED_FORMATS = ("mp3", "ogg", "flac")
MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
BLOCK_FRAMES = 65536
# Converted blocks kept for reuse: a default session needs 9 (0.4 MB), whatever its
# length; the bound keeps an unusual one from growing memory with its length. Each
# entry is counted with its key and array header besides its samples.
CONVERTED_BYTES_KEPT = 4 * 1024 * 1024
CONVERTED_ENTRY_OVERHEAD = 256
WAV_MAX_DATA_BYTES = 0xFFFFFFFF - 36  # the RIFF size field is 32 bits and counts the header

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ExportResult:
    written: tuple[Path, ...]
    frames: int
    sample_rate: int
    format: str
    complete: bool = True


def resolve_format(target: Path | None, fmt: str | None) -> str:
    """The format asked for, or the one the extension names."""
    if fmt is not None:
        name = fmt.lower().lstrip(".")
        if name not in FORMATS:
            raise UsageError(
                _("--format {fmt!r} is not one of: {items}").format(
                    fmt=fmt, items=", ".join(FORMATS)
                )
            )
        return name
    if target is None:
        return "wav"
    name = target.suffix.lower().lstrip(".")
    if name not in FORMATS:
        shown = target.suffix or "no extension"
        raise UsageError(
            _("{target}: cannot tell the format from {shown!r}").format(target=target, shown=shown),
            _("use .wav, .flac, .ogg or .mp3, or --format {items}").format(items="|".join(FORMATS)),
        )
    return name


def export_session(
    session: RenderedSession,
    target: Path | None,
    *,
    fmt: str | None = None,
    force: bool = False,
    subtitles: str | None = None,
    timeline_json: str | None = None,
    progress: Progress | None = None,
    tags: Callable[[], FileTags] | None = None,
) -> ExportResult:
    """Write the session to ``target`` (``None``: WAV on standard output), with the tags
    ``tags`` makes where the format carries them (MP3, OGG, FLAC): made only then, since
    drawing a cover takes a moment a WAV need not wait."""
    if target is not None:
        check_target(target, force)
    name = resolve_format(target, fmt)
    if target is None and name != "wav":
        raise UsageError(_("standard output (-o -) takes WAV only; drop --format"))
    _check_encoder(name, session)
    if target is None:
        return _to_stdout(session, progress)
    file_tags = tags() if tags is not None and name in TAGGED_FORMATS else None
    sidecars = _sidecars(session, target, subtitles, timeline_json)
    targets = [target, *sidecars]
    for path in sidecars:
        check_target(path, force)

    for path in targets:  # what an export killed before this one left behind
        remove_stale(path.parent, f".{glob.escape(path.name)}.*.part")
    temps: dict[Path, Path] = {}
    placed: list[Path] = []  # files moved into place where none was before
    try:
        temps[target] = temp_beside(target)
        _write_audio(session, temps[target], name, progress, file_tags)
        for path, text in sidecars.items():
            temps[path] = temp_beside(path)
            _write_text(temps[path], text)
        # Sidecars first, audio last: the audio file appearing means the export is done.
        for path in [*sidecars, target]:
            existed = path.exists()
            temps[path].replace(path)
            del temps[path]
            if not existed:
                placed.append(path)
        fsync_folder(target.parent)
        placed.clear()
    except OSError as exc:
        raise ExportError(
            _("{target}: could not be written ({os_reason})").format(
                target=target, os_reason=os_reason(exc)
            )
        ) from None
    except EncoderError as exc:
        # libsndfile reports a failed write as "System error." without the errno; say
        # which of the likely causes it was where one is plain to see.
        cause = _write_failure_cause(target.parent, temps.get(target))
        reason = os_reason(OSError(cause, "")) if cause is not None else exc
        raise ExportError(
            _("{target}: the {name} encoder failed ({reason})").format(
                target=target, name=name, reason=reason
            )
        ) from None
    finally:
        # What this export created goes again; files replaced under --force cannot come back.
        for temp in [*temps.values(), *placed]:
            with contextlib.suppress(OSError):
                temp.unlink()
    return ExportResult(tuple(targets), session.total_frames, session.sample_rate, name)


def _sidecars(
    session: RenderedSession, target: Path, subtitles: str | None, timeline_json: str | None
) -> dict[Path, str]:
    """The text files beside the audio (same stem), refused when one would be the audio."""
    sidecars: dict[Path, str] = {}
    if subtitles is not None:
        if subtitles not in SUBTITLE_KINDS:
            kinds = " or ".join(SUBTITLE_KINDS)
            raise UsageError(
                _("--subtitles {subtitles!r} must be {kinds}").format(
                    subtitles=subtitles, kinds=kinds
                )
            )
        sidecars[target.with_suffix(f".{subtitles}")] = subtitle_text(session.timeline, subtitles)
    if timeline_json is not None:
        sidecars[target.with_suffix(".json")] = timeline_json
    if target in sidecars:
        raise UsageError(
            _("{target}: the audio and its {suffix} sidecar would be the same file").format(
                target=target, suffix=target.suffix
            ),
            _("give the audio file its own extension, such as .wav"),
        )
    return sidecars


class EncoderError(Exception):
    """libsndfile failed while encoding (soundfile's error, which it cannot import yet)."""


def _check_encoder(name: str, session: RenderedSession) -> None:
    if name == "wav":  # our own writer; its only limit is the format's 32-bit size
        if session.total_frames * 2 > WAV_MAX_DATA_BYTES:
            raise UsageError(
                _(
                    "the session is too long for a WAV file at {sample_rate} Hz (WAV holds at most "
                    "4 GiB)"
                ).format(sample_rate=session.sample_rate),
                _("use a lower --sample-rate, or .flac"),
            )
        return
    import soundfile  # only the compressed formats need libsndfile

    container, subtype = FORMATS[name]
    if container not in soundfile.available_formats() or subtype not in (
        soundfile.available_subtypes(container)
    ):
        raise ExportError(
            _("this libsndfile ({libsndfile_version__}) cannot write {name}").format(
                libsndfile_version__=soundfile.__libsndfile_version__, name=name
            ),
            _("update the soundfile package, or export to .wav or .flac"),
        )
    if name == "mp3" and session.sample_rate not in MP3_RATES:
        raise UsageError(
            _("MP3 cannot be written at {sample_rate} Hz").format(sample_rate=session.sample_rate),
            _("use --sample-rate {items}").format(items=", ".join(map(str, MP3_RATES))),
        )


def check_target(path: Path, force: bool) -> None:
    folder = path.parent
    if "\0" in str(path):
        # No file name can hold one; os calls would raise ValueError, not OSError.
        raise UsageError(_("{path}: a file name cannot contain a NUL character").format(path=path))
    if path.is_dir():
        raise ExportError(
            _("{path}: is a folder; give a file name such as {value}").format(
                path=path, value=path / "session.wav"
            )
        )
    if not folder.exists():
        raise ExportError(
            _("{path}: the folder {folder} does not exist").format(path=path, folder=folder)
        )
    if not folder.is_dir():
        raise ExportError(_("{path}: {folder} is not a folder").format(path=path, folder=folder))
    if path.exists() and not force:
        raise UsageError(_("{path}: already exists; add --force to overwrite it").format(path=path))


def temp_beside(path: Path, *, private: bool = False) -> Path:
    """A new temporary file in the target's folder (same filesystem: the move is atomic)."""
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    os.close(handle)
    temp = Path(name)
    if not private:  # mkstemp makes 0600; an export is an ordinary file
        temp.chmod(0o666 & ~current_umask())
    return temp


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _write_audio(
    session: RenderedSession,
    path: Path,
    name: str,
    progress: Progress | None,
    tags: FileTags | None,
) -> None:
    if name == "wav":
        with path.open("wb") as file, SyncBehind(file) as sync:
            _write_wav_stream(session, file, progress, seekable=True, written=sync.written)
        return
    import soundfile

    container, subtype = FORMATS[name]
    try:
        with soundfile.SoundFile(
            path, "w", samplerate=session.sample_rate, channels=1, format=container, subtype=subtype
        ) as sound:
            for _, block in _blocks(session, progress):
                sound.write(to_pcm16(block) if subtype == "PCM_16" else block)
    except soundfile.LibsndfileError as exc:
        raise EncoderError(str(exc)) from None
    if tags is not None:  # into the temporary file: the synced, moved file has them
        from voice_coach.files.tags import write_tags

        write_tags(path, name, tags)
    fsync_path(path)


def _blocks(
    session: RenderedSession, progress: Progress | None
) -> Iterator[tuple[int, np.ndarray]]:
    done = 0
    for block in session.blocks(BLOCK_FRAMES):
        done += len(block)
        yield done, block
        if progress is not None:
            progress(done, session.total_frames)


def _write_text(path: Path, text: str) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as file:
        file.write(text)
        file.flush()
        os.fsync(file.fileno())


def write_whole_file(
    path: Path, data: bytes, *, force: bool = False, private: bool = False
) -> None:
    """A small file (reminders, a playlist, a report) written as an export is: never over
    a file that exists without ``force``, never half-written under its name; ``private``
    (health data) is readable by the user alone (0600) from its first byte."""
    write_whole(path, lambda temp: temp.write_bytes(data), force=force, private=private)


def write_whole(
    path: Path, fill: Callable[[Path], object], *, force: bool = False, private: bool = False
) -> None:
    """``fill`` writes a temporary file beside ``path``, which then takes its name only
    once whole and synced (``write_whole_file``'s rules, for a file another library
    writes, such as SQLite's backup)."""
    check_target(path, force)
    temp = temp_beside(path, private=private)
    try:
        fill(temp)
        with temp.open("rb+") as file:
            os.fsync(file.fileno())
        temp.replace(path)
        fsync_folder(path.parent)
    except OSError as exc:
        raise ExportError(
            _("{path}: could not be written ({os_reason})").format(
                path=path, os_reason=os_reason(exc)
            )
        ) from None
    finally:
        with contextlib.suppress(OSError):
            temp.unlink()


def _to_stdout(session: RenderedSession, progress: Progress | None) -> ExportResult:
    """WAV on standard output, for pipes.

    A pipe cannot seek back to fix a header, so the header is written first with the
    frame count the renderer already knows. A reader that stops early (``| head``) ends
    the export quietly: that is the reader's choice, not a failure.
    """
    if sys.stdout is None:  # started with standard output closed (``>&-``)
        raise OutputError(_("standard output is closed"), _("give a file name with -o OUT"))
    stream: BinaryIO = sys.stdout.buffer
    try:
        _write_wav_stream(session, stream, progress, seekable=False)
        stream.flush()
    except BrokenPipeError:
        silence_stdout()
        return ExportResult((), session.total_frames, session.sample_rate, "wav", complete=False)
    except OSError as exc:
        raise stdout_failed(exc) from None
    return ExportResult((), session.total_frames, session.sample_rate, "wav")


def _write_wav_stream(
    session: RenderedSession,
    stream: BinaryIO,
    progress: Progress | None,
    *,
    seekable: bool,
    written: Callable[[int], None] | None = None,
) -> None:
    """The one WAV writer, for files and pipes: the header first (the renderer knows the
    frame count up front, so nothing needs a seek back), then the samples.

    Only the stretches where something sounds are rendered. Into a file the silence
    between them is skipped with a seek (the file system reads it back as zeros and need
    not even store it); into a pipe it is written as zeros. Written here rather than
    through libsndfile, which took about twice as long for the same bytes.
    """
    header = _wav_header(session.sample_rate, session.total_frames)
    stream.write(header)
    silence = bytes(2 * BLOCK_FRAMES)
    converted: dict[tuple[object, ...], np.ndarray] = {}  # blocks the session repeats
    kept = 0  # bytes counted for ``converted``
    done = 0  # frames written or skipped so far

    def advance_to(frame: int) -> None:
        nonlocal done, seekable
        if seekable:
            try:
                stream.seek(len(header) + 2 * frame)
                done = frame
            except OSError:  # a file system that only appends (some FUSE mounts)
                seekable = False
        while done < frame:
            count = min(BLOCK_FRAMES, frame - done)
            stream.write(silence[: 2 * count])
            done += count

    for start, end in session.sounding():
        advance_to(start)
        for block_start in range(start, end, BLOCK_FRAMES):
            frames = min(BLOCK_FRAMES, end - block_start)
            key = session.content_key(block_start, frames)
            pcm = converted.get(key)
            if pcm is None:
                pcm = to_pcm16(session.read(block_start, frames))  # a new array, ours alone
                if kept + pcm.nbytes + CONVERTED_ENTRY_OVERHEAD <= CONVERTED_BYTES_KEPT:
                    converted[key] = pcm
                    kept += pcm.nbytes + CONVERTED_ENTRY_OVERHEAD
            stream.write(pcm.data)
            done = block_start + frames
            if written is not None:
                written(2 * frames)
            if progress is not None:
                progress(done, session.total_frames)
    advance_to(session.total_frames)
    if seekable:
        stream.truncate(len(header) + 2 * session.total_frames)
    if progress is not None:
        progress(done, session.total_frames)


def _wav_header(sample_rate: int, frames: int) -> bytes:
    """A 16-bit mono WAV header for ``frames`` frames, made by the stdlib's ``wave``.

    ``wave`` writes its header on the first write, with the frame count given up front;
    it is written into memory here so the stream itself never needs a seek.
    """
    buffer = io.BytesIO()
    out = wave.open(buffer, "wb")  # noqa: SIM115 - closing would rewrite the header for 0 frames
    out.setnchannels(1)
    out.setsampwidth(2)
    out.setframerate(sample_rate)
    out.setnframes(frames)
    out.writeframesraw(b"")
    return buffer.getvalue()


def to_pcm16(block: np.ndarray) -> np.ndarray:
    """16-bit samples, the one conversion used for files and pipes alike.

    Done here rather than by libsndfile because its float conversion (with clipping
    checks) took three times as long as the rest of a WAV export.
    """
    scaled = np.clip(block, -1.0, 1.0)  # a new array: the caller's block is left alone
    scaled *= 32767.0
    np.rint(scaled, out=scaled)
    return scaled.astype("<i2")


def silence_stdout() -> None:
    """Point stdout at /dev/null so Python's final flush does not complain of the pipe."""
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def _write_failure_cause(folder: Path, partial: Path | None) -> int | None:
    """The errno behind an encoder's bare "System error.": ENOSPC when the folder has no
    room left, EFBIG when the file stopped at the process's file size limit; else None."""
    try:
        if shutil.disk_usage(folder).free < 1024 * 1024:
            return errno.ENOSPC
        if partial is not None and _at_file_size_limit(partial.stat().st_size):
            return errno.EFBIG
    except OSError:
        pass
    return None


def _at_file_size_limit(size: int) -> bool:
    try:
        import resource  # not on Windows, which has no such limit
    except ImportError:
        return False
    limit, _ = resource.getrlimit(resource.RLIMIT_FSIZE)  # a write past it stops there
    return limit != resource.RLIM_INFINITY and size >= limit
