"""Where voice-coach keeps the user's things: the phrase cache, the data folder, settings.

One module, so the cache, the practice log, added voices and the settings file are found
the same way everywhere, and each has one environment variable that moves it (tests give
every process folders of its own through them).
"""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "voice-coach"
CACHE_DIR_ENV = "VOICE_COACH_CACHE_DIR"
DATA_DIR_ENV = "VOICE_COACH_DATA_DIR"
CONFIG_ENV = "VOICE_COACH_CONFIG"


def cache_root() -> Path:
    """``$VOICE_COACH_CACHE_DIR`` if set, else the user's cache folder for voice-coach.

    What is kept here can be made again (spoken phrases, the voice list)."""
    root = os.environ.get(CACHE_DIR_ENV)
    if root:
        return Path(root)
    import platformdirs

    return Path(platformdirs.user_cache_dir(APP_NAME))


def data_dir() -> Path:
    """``$VOICE_COACH_DATA_DIR`` if set, else the user's data folder for voice-coach.

    What is kept here cannot be made again (the practice log, voices the user added)."""
    root = os.environ.get(DATA_DIR_ENV)
    if root:
        return Path(root)
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME))


def config_file() -> Path:
    """``$VOICE_COACH_CONFIG`` if set, else ``config.toml`` in the user's config folder."""
    named = os.environ.get(CONFIG_ENV)
    if named:
        return Path(named)
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


def runtime_dir() -> Path:
    """voice-coach's folder in ``$XDG_RUNTIME_DIR`` (the user's own, emptied at logout),
    for what must outlive a process but not the login: what a live session lowered."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and Path(runtime).is_dir():
        return Path(runtime) / APP_NAME
    return cache_root() / "run"
