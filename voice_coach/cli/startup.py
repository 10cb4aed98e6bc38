"""What the ``voice-coach`` command does at its start and end that a library would not.

Each trick here is kept because ``scripts/bench.py startup`` shows it saves at least 5%
of a warm command's wall time (docs/BENCHMARKS.md); a user's own setting always wins.
"""

from __future__ import annotations

import atexit
import contextlib
import copy
import os
import sys

import typer

from voice_coach.errors import stdout_failed

# Importing this module sets it, before numpy first loads: voice-coach does no linear
# algebra, and OpenBLAS would start a spinning thread per core as numpy loads.
if "OMP_NUM_THREADS" not in os.environ:
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def narrowed(app: typer.Typer, argv: list[str]) -> typer.Typer:
    """The app with only the command (or group) ``argv`` starts with, when it starts
    with one: typer builds a click command for every command on every start, reading
    each one's options from its signature, where a start runs one.

    ``registered_commands`` and ``registered_groups`` are typer's public attributes of
    an app (typer is pinned below 0.29; tests/cli keep the behaviour). Anything else (no
    command, an option first, a typo) gets the whole app, so the overview and "No such
    command" read as they always do.
    """
    if not argv or argv[0].startswith("-"):
        return app
    chosen = [
        info
        for info in app.registered_commands
        if (info.name or typer.main.get_command_name(info.callback.__name__)) == argv[0]  # type: ignore[union-attr]
    ]
    groups = [info for info in app.registered_groups if info.name == argv[0]]
    if not chosen and not groups:
        return app
    narrow = copy.copy(app)
    narrow.registered_commands = chosen
    narrow.registered_groups = groups
    return narrow


def quick_exit(code: int) -> None:
    """End the process once the command is done: the exit handlers run (PortAudio's,
    the speech engine's) and the standard streams are flushed, but Python's teardown,
    freeing every module and object one by one, is skipped (the end of the process does
    it all at once). ``VOICE_COACH_DEBUG`` keeps the normal end for profilers."""
    if os.environ.get("VOICE_COACH_DEBUG"):
        sys.exit(code)
    atexit._run_exitfuncs()
    try:
        if sys.stdout is not None:
            sys.stdout.flush()
    except BrokenPipeError:
        pass  # the reader stopped early: its choice, as in ``out``
    except OSError as exc:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            sys.stderr.write(f"voice-coach: error: {stdout_failed(exc).one_line()}\n")
        code = code or 1
    with contextlib.suppress(OSError, ValueError, AttributeError):
        sys.stderr.flush()
    os._exit(code)
