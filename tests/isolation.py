"""What keeps tests apart from each other and from the user: the rules, in one place.

``conftest.py`` applies them; test modules import what they need from here (a module
cannot import ``conftest`` cleanly).

- Every test, and every process it starts, gets cache, data and config folders of its
  own through the variables ``voice_coach.userdirs`` reads, and the XDG ones for
  anything that asks ``platformdirs`` directly. Nothing a test does reaches the user's
  folders, and no test passes because an earlier one warmed a shared cache.
- A phrase cache is warmed once per run with ``WARM_SESSIONS`` and copied into a test's
  own cache where it asks for one (the ``warm_cache`` fixture): isolated, not cold.
- Sound goes nowhere unless a test asks for the test server (the ``pulse_server``
  fixture): ``PULSE_SERVER`` points at a socket that does not exist (``NOWHERE``). A
  test that asks for it gets a settings file with ``KEEP_OTHERS``: a session leaves
  other streams alone unless the test says ``--others`` itself.
- Under ``CI=true`` a skip fails the run unless its reason is on ``ALLOWED_SKIPS``.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from voice_coach.core.timeline import CUE_STYLES
from voice_coach.session import SessionOptions

# The sessions whose phrases (and the voice list) a warm cache holds: what most tests
# play, print or export. Add a line for another engine's or voice's phrases.
ENGLISH_BUILTINS = ("glute-squeeze", "glute-squeeze-queue", "glute-squeeze-sets")
WARM_SESSIONS: list[tuple[str | None, SessionOptions]] = [
    # The default engine (Piper's joe voice for English), every cue style: every phrase a
    # built-in English session says.
    *((name, SessionOptions(style=style)) for name in ENGLISH_BUILTINS for style in CUE_STYLES),
    # espeak-ng, for the tests that read onsets with the energy detector
    # (tests/files/test_export.py).
    *((name, SessionOptions(engine="espeak-ng")) for name in ENGLISH_BUILTINS),
    *((name, SessionOptions(language="de")) for name in ("glute-squeeze", "glute-squeeze-sets")),
]

KEEP_OTHERS = 'others = "keep"\n'

XDG_FOLDERS = {
    "XDG_RUNTIME_DIR": "xdg-runtime",
    "XDG_CACHE_HOME": "xdg-cache",
    "XDG_DATA_HOME": "xdg-data",
    "XDG_CONFIG_HOME": "xdg-config",
    "XDG_STATE_HOME": "xdg-state",
}

# A sound server that is not there: a player started with it finds no device and says so.
# And a session bus that is not there: no test offers media keys on the user's desktop.
NOWHERE = {
    "PULSE_SERVER": "unix:/nonexistent/voice-coach-tests-play-nowhere",
    "DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent/voice-coach-tests-no-bus",
}

# Skips CI accepts, each with why it cannot run there and what covers it instead. A
# skip's reason must match a pattern (re.search) here, or under CI=true it is a failure.
ALLOWED_SKIPS: dict[str, str] = {
    r"cannot mount a (read-only )?tmpfs here": (
        "a read-only or full disk is staged with a tmpfs mount, which needs root (or "
        "CAP_SYS_ADMIN); the write-failure path in every format is also tested without "
        "privilege (RLIMIT_FSIZE), and an unwritable cache with a folder under a file"
    ),
    r"needs root, unshare and the espeak-ng library|no private mount namespace here": (
        "hiding the installed espeak-ng library needs a private mount namespace (root); "
        "the same SpeechError path for a missing pyttsx3 is tested everywhere"
    ),
    r"is not Python 3\.11\+ with venv on this machine": (
        "setup's preference for the distribution's python3 can only be shown where that "
        "Python can serve (Debian 12 and later)"
    ),
    r"this file system keeps no dirty data to observe": (
        "syncing behind the writer is observed in the kernel's dirty-page count, which "
        "a temporary folder on tmpfs never has; the helper's error paths run everywhere"
    ),
    r"this machine has a sound card": (
        "'no output device' cannot be staged where PortAudio finds a real card (CI "
        "machines have none; the same error path is checked there)"
    ),
}


def has_sound_card() -> bool:
    """A real card, which PortAudio would find with no sound server at all."""
    cards = Path("/proc/asound/cards")
    return cards.exists() and "no soundcards" not in cards.read_text()


def allowed_skip(reason: str) -> str | None:
    """The pattern on ``ALLOWED_SKIPS`` that ``reason`` matches, or ``None``."""
    return next((pattern for pattern in ALLOWED_SKIPS if re.search(pattern, reason)), None)


def user_folders(root: Path) -> dict[str, str]:
    """The environment that puts every user folder of voice-coach under ``root``."""
    from voice_coach.userdirs import CACHE_DIR_ENV, CONFIG_ENV, DATA_DIR_ENV

    env = {
        CACHE_DIR_ENV: str(root / "cache"),
        DATA_DIR_ENV: str(root / "data"),
        CONFIG_ENV: str(root / "config" / "config.toml"),
    }
    env.update({name: str(root / folder) for name, folder in XDG_FOLDERS.items()})
    env.update(ENGLISH)
    return env


# The tests expect English screens unless they ask for another language: the locale
# pinned to C.UTF-8, with the variables gettext reads before LANG emptied (an empty one
# is not set, for gettext and for voice-coach).
ENGLISH = {"LANG": "C.UTF-8", "LANGUAGE": "", "LC_ALL": "", "LC_MESSAGES": ""}


def warm(cache_root: Path) -> None:
    """Fill ``cache_root`` with the phrases of ``WARM_SESSIONS`` (and the voice list)."""
    import os

    from voice_coach.session import prepare_session
    from voice_coach.speech.phrase_cache import load_voices
    from voice_coach.userdirs import CACHE_DIR_ENV

    saved = os.environ.get(CACHE_DIR_ENV)
    os.environ[CACHE_DIR_ENV] = str(cache_root)
    try:
        load_voices()
        for source, options in WARM_SESSIONS:
            prepare_session(source, options)
    finally:
        if saved is None:
            del os.environ[CACHE_DIR_ENV]
        else:
            os.environ[CACHE_DIR_ENV] = saved


def copy_warm(warmed: Path, cache_root: Path) -> Path:
    """A copy of the warmed cache at ``cache_root`` (copied, not linked: tests damage
    entries on purpose, and the next test must not find them damaged)."""
    shutil.copytree(warmed, cache_root, dirs_exist_ok=True)
    return cache_root
