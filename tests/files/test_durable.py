"""Syncing behind the writer: the data reaches the disk while the file is still being
written, the last sync is still made, and a sync that fails is reported, not lost."""

from __future__ import annotations

import ctypes
import errno
import io
import os
import platform
import threading
import time

import pytest

from voice_coach.files import durable
from voice_coach.files.durable import SyncBehind

CHUNK = 64 * 1024


def sync_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "voice-coach-sync"]


def wait_for(condition, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the helper did not catch up"
        time.sleep(0.01)


def write_chunks(file, sync: SyncBehind, count: int) -> bytes:
    written = b""
    for index in range(count):
        chunk = bytes([index % 251]) * CHUNK
        file.write(chunk)
        written += chunk
        sync.written(len(chunk))
    return written


class _Range(ctypes.Structure):
    _fields_ = [("off", ctypes.c_uint64), ("len", ctypes.c_uint64)]


class _CacheStat(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_uint64)
        for name in ("cache", "dirty", "writeback", "evicted", "recently_evicted")
    ]


CACHESTAT = {"x86_64": 451, "aarch64": 451}.get(platform.machine())


def dirty_bytes(file) -> int:
    """This file's own data still waiting to be written to disk: Linux's cachestat()
    (6.5 and later) counts a file's dirty pages, where /proc/meminfo counts everyone's."""
    libc = ctypes.CDLL(None, use_errno=True)
    stat = _CacheStat()
    whole = _Range(0, 0)  # 0: to the end of the file
    if (
        CACHESTAT is None
        or libc.syscall(CACHESTAT, file.fileno(), ctypes.byref(whole), ctypes.byref(stat), 0) != 0
    ):
        pytest.fail(f"cachestat() is not available here ({os.strerror(ctypes.get_errno())})")
    return stat.dirty * os.sysconf("SC_PAGE_SIZE")


def test_the_helper_syncs_while_the_file_is_still_being_written(tmp_path):
    """Observed from outside, in the kernel's count of this file's unwritten pages:
    16 MiB written plainly stays dirty (the control), 16 MiB written with a SyncBehind
    does not."""
    size = 16 << 20
    with (tmp_path / "plain.bin").open("wb") as plain:
        plain.write(b"p" * size)
        plain.flush()
        control = dirty_bytes(plain)
        if control < size // 2:
            pytest.skip(f"this file system keeps no dirty data to observe ({control} bytes)")
        path = tmp_path / "data.bin"
        with path.open("wb") as file, SyncBehind(file, every_bytes=1 << 20) as sync:
            expected = write_chunks(file, sync, size // CHUNK)
            deadline = time.monotonic() + 10
            while sync.synced_bytes < size - (1 << 20) and time.monotonic() < deadline:
                time.sleep(0.01)
            assert sync.synced_bytes >= size - (1 << 20), "the helper fell behind"
            still_dirty = dirty_bytes(file)
            assert still_dirty < size // 2, f"{still_dirty} bytes not synced while writing"
            assert not file.closed
    assert path.read_bytes() == expected
    assert sync_threads() == []


def recording(monkeypatch, target, name: str) -> list[int]:
    """Calls to ``target.name``, each still made for real: what was synced, and when."""
    calls: list[int] = []
    real = getattr(target, name)

    def record(descriptor: int) -> None:
        calls.append(descriptor)
        real(descriptor)

    monkeypatch.setattr(target, name, record)
    return calls


def test_every_helper_sync_is_of_the_file_and_the_end_is_one_full_fsync(tmp_path, monkeypatch):
    helper_syncs = recording(monkeypatch, durable, "_sync_data")
    final_syncs = recording(monkeypatch, os, "fsync")
    path = tmp_path / "data.bin"
    with path.open("wb") as file, SyncBehind(file, every_bytes=1 << 20) as sync:
        write_chunks(file, sync, 64)  # 4 MiB: the helper is woken four times
        descriptor = file.fileno()
        wait_for(lambda: sync.synced_bytes >= 3 << 20)
        assert final_syncs == []
    assert 1 <= len(helper_syncs) <= 4 and set(helper_syncs) == {descriptor}
    assert final_syncs == [descriptor]


def test_small_files_wake_no_helper_sync_and_still_end_synced(tmp_path, monkeypatch):
    helper_syncs = recording(monkeypatch, durable, "_sync_data")
    final_syncs = recording(monkeypatch, os, "fsync")
    path = tmp_path / "small.bin"
    with path.open("wb") as file, SyncBehind(file, every_bytes=1 << 20) as sync:
        expected = write_chunks(file, sync, 3)
        descriptor = file.fileno()
    assert sync.synced_bytes == 0 and helper_syncs == []
    assert final_syncs == [descriptor]
    assert path.read_bytes() == expected


class Unseekable(io.FileIO):
    """A real file that cannot tell its position, like the append-only mounts
    ``export._write_wav_stream`` already writes through (none can be mounted here)."""

    def tell(self) -> int:
        raise OSError(errno.ESPIPE, "Illegal seek")


def test_a_file_that_cannot_tell_its_position_is_synced_by_count(tmp_path):
    path = tmp_path / "unseekable.bin"
    with Unseekable(path, "w") as file, SyncBehind(file, every_bytes=CHUNK) as sync:
        expected = write_chunks(file, sync, 8)
        wait_for(lambda: sync.synced_bytes >= 7 * CHUNK)
    assert path.read_bytes() == expected


class PipeBackedFile(io.BytesIO):
    """A file whose descriptor cannot be synced. A disk that fails a sync cannot be had
    here, so a pipe stands in for it: the kernel refuses to sync a pipe (EINVAL), a real
    error from a real sync call."""

    def __init__(self) -> None:
        super().__init__()
        self.read_end, self.write_end = os.pipe()

    def fileno(self) -> int:
        return self.write_end

    def close(self) -> None:
        os.close(self.read_end)
        os.close(self.write_end)
        super().close()


def test_a_failed_sync_on_the_helper_is_raised_when_the_writing_ends(tmp_path):
    """The kernel tells one sync about a write-back error, so the helper's must be kept:
    once the helper has failed, the descriptor is swapped for a healthy file (``dup2``),
    on which the final sync succeeds; the error must still come out."""
    file = PipeBackedFile()
    healthy = (tmp_path / "healthy.bin").open("wb")
    try:
        with pytest.raises(OSError) as caught, SyncBehind(file, every_bytes=CHUNK) as sync:
            write_chunks(file, sync, 4)
            sync._helper.join(timeout=10)
            assert not sync._helper.is_alive(), "the helper did not stop at its error"
            os.dup2(healthy.fileno(), file.write_end)
        assert caught.value.errno == errno.EINVAL
    finally:
        healthy.close()
        file.close()
    assert sync_threads() == []


def test_an_error_in_the_writer_stops_the_helper_and_passes_through(tmp_path):
    path = tmp_path / "broken.bin"
    with (
        path.open("wb") as file,
        pytest.raises(KeyboardInterrupt),
        SyncBehind(file, every_bytes=CHUNK) as sync,
    ):
        write_chunks(file, sync, 8)
        raise KeyboardInterrupt
    assert sync_threads() == []
