"""Temporary files a killed process left behind, and when it is safe to remove them.

The export and the phrase cache both write to a hidden temporary file beside the target
and rename it into place when it is whole. A process killed with SIGKILL cannot remove
its temporary file, so the next writer to the same place does. Age, not the name, says
whose it is: a live writer touches its file at every write and renames it moments after
the last, so a file nobody has touched for ``STALE_AFTER_S`` has no owner, on this
machine or on another one sharing the folder.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from pathlib import Path

STALE_AFTER_S = 3600.0


def remove_stale(folder: Path, pattern: str) -> int:
    """Remove the files in ``folder`` matching ``pattern`` (a glob) untouched for an hour,
    and the folders (an album being built is one): with all they hold.

    Best effort: a file that cannot be examined or removed is left, never an error,
    because the write that follows does not depend on it.
    """
    cutoff = time.time() - STALE_AFTER_S
    removed = 0
    with contextlib.suppress(OSError):
        for path in folder.glob(pattern):
            with contextlib.suppress(OSError):
                if path.stat().st_mtime >= cutoff:
                    continue
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink()
                removed += 1
    return removed
