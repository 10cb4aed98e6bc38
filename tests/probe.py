"""Reading exported files back with FFmpeg's ffprobe: a reader other than the libraries
that wrote them (libsndfile for the audio, mutagen for the tags)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest


def ffprobe(path: Path) -> dict:
    """ffprobe's JSON for a file: ``format``, ``streams`` and ``chapters``."""
    if shutil.which("ffprobe") is None:
        pytest.skip("ffprobe (Debian's ffmpeg) is not installed: ./scripts/setup --dev")
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-show_chapters", "-show_format", "-show_streams",
         "-of", "json", str(path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(done.stdout)
