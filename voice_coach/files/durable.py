"""Files that survive a power cut once they are in place: data synced before the move.

An export is written to a temporary file and moved over its target only when whole; the
move is atomic, but without a sync a crash soon after can leave the new name pointing at
an empty file. Syncing at the end waits for every byte to reach the disk (a good part of
a whole export), so the audio is synced *behind* the writer instead: a helper thread
asks the disk to catch up while the main thread renders the next stretch, and the last
sync finds little left.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

SYNC_EVERY_BYTES = 1 << 20
# Data only, where the system has it: the final fsync takes the metadata along.
_sync_data = getattr(os, "fdatasync", os.fsync)


def fsync_path(path: Path) -> None:
    """Sync a file (or folder) named by path, for writers that do not hand out their
    file descriptor (libsndfile)."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def fsync_folder(folder: Path) -> None:
    """Make moves into ``folder`` durable: a crash after this finds the new names."""
    with contextlib.suppress(OSError):  # some filesystems cannot open or sync a folder
        fsync_path(folder)


class SyncBehind:
    """Syncs a file's data on a helper thread while the caller keeps writing it.

    The caller calls ``written(count)`` after each write of ``count`` bytes (counted,
    not read from the file's position, which a file that cannot seek does not have);
    every ``every_bytes`` it flushes Python's buffer and wakes the helper, which calls
    ``fdatasync`` (the disk's wait, with the GIL released). Leaving the ``with`` block
    normally stops the helper and ends with a full ``fsync``; an error on the helper is
    raised there, not lost (the kernel reports a write-back error to one sync only).
    Leaving with an exception just stops the helper.
    """

    def __init__(self, file: BinaryIO, every_bytes: int = SYNC_EVERY_BYTES) -> None:
        self._file = file
        self._descriptor = file.fileno()
        self._every_bytes = every_bytes
        self._written = 0  # bytes written so far
        self._asked_at = 0  # bytes written when the helper was last woken
        self._wake = threading.Condition()
        self._pending = False
        self._stopping = False
        self._error: OSError | None = None
        self.synced_bytes = 0  # how far the helper has synced: what the tests observe
        self._helper = threading.Thread(target=self._run, name="voice-coach-sync", daemon=True)

    def __enter__(self) -> SyncBehind:
        self._helper.start()
        return self

    def written(self, count: int) -> None:
        self._written += count
        if self._written - self._asked_at < self._every_bytes:
            return
        self._file.flush()
        self._asked_at = self._written
        with self._wake:
            self._pending = True
            self._wake.notify()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify()
        self._helper.join()
        if exc_type is not None:
            return
        if self._error is not None:
            raise self._error
        self._file.flush()
        os.fsync(self._descriptor)

    def _run(self) -> None:
        while True:
            with self._wake:
                while not (self._pending or self._stopping):
                    self._wake.wait()
                if self._stopping:
                    return
                self._pending = False
                position = self._asked_at
            try:
                _sync_data(self._descriptor)
            except OSError as exc:
                self._error = exc
                return
            self.synced_bytes = position
