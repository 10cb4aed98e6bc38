"""The command line: arguments in, one-line errors and exit codes out.

Nothing here decides timing or touches audio; the commands parse, call the library and
present. Every failure below is a ``VoiceCoachError``, turned into one line and an exit
status in ``main`` (2: what you asked is wrong, 1: the machine could not do it, 130:
interrupted). The commands are registered here, in one list, in the order ``--help``
shows them.
"""

from __future__ import annotations

# isort: off
from voice_coach.cli import startup  # first: it sets what must be set before numpy loads

# isort: on
import os
import sys
from typing import Annotated

import typer

from voice_coach import __version__
from voice_coach.cli import coach_commands, export_commands, session_commands, voice_commands
from voice_coach.cli.options import choose_screen_language, note, out
from voice_coach.errors import FieldError, UsageError, VoiceCoachError
from voice_coach.i18n import _

app = typer.Typer(
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="An eyes-free exercise coach: spoken, timed sessions, live or as audio files.",
)
COMMANDS = [
    session_commands.script,
    session_commands.run,
    export_commands.export,
    voice_commands.doctor,
    coach_commands.log_session,
    coach_commands.stats,
    coach_commands.today,
    coach_commands.remind,
    coach_commands.report,
]
GROUPS = [
    ("protocols", session_commands.protocols_app),
    ("voices", voice_commands.voices_app),
    ("history", coach_commands.history_app),
    ("programs", coach_commands.programs_app),
    ("config", coach_commands.config_app),
]
NAMES = {coach_commands.log_session: "log"}
for command in COMMANDS:
    app.command(NAMES.get(command))(command)
for name, group in GROUPS:
    app.add_typer(group, name=name)

# How a field the library names (FieldError) is said on the command line.
FLAGS = {
    "reps": "--reps",
    "sets": "--sets",
    "rest_s": "--rest",
    "lead_in_s": "--lead-in",
    "hold_s": "--hold",
    "relax_s": "--relax",
    "phase_s": "--phase",
    "pace": "--pace",
    "volume": "--volume",
    "style": "--cues",
    "engine": "--engine",
    "loudness_lufs": "--loudness",
    "allow_fallback": "--allow-fallback",
    "others": "--others",
}


def version_callback(value: bool) -> None:
    if value:
        out(f"voice-coach {__version__}")
        raise typer.Exit()


@app.callback(invoke_without_command=True)
def root(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=version_callback, is_eager=True, help="Show the version."
        ),
    ] = False,
) -> None:
    """An eyes-free exercise coach: spoken, timed sessions, live or as audio files."""
    if ctx.invoked_subcommand is None:
        out(ctx.get_help())


def worded(exc: VoiceCoachError) -> str:
    """An error as one line for the user: a field the library names is said as the
    option that sets it."""
    if not isinstance(exc, FieldError) or exc.field not in FLAGS:
        return exc.one_line()
    flag = FLAGS[exc.field]
    if exc.field == "allow_fallback":
        hint = _("{hint}, or {flag} to say them as written").format(hint=exc.hint, flag=flag)
        hint = hint if exc.hint else None
        return UsageError(exc.detail, hint).one_line()
    return UsageError(f"{flag}: {exc.detail}", exc.hint).one_line()


# --- entry point -----------------------------------------------------------------------


def _cli_exception(name: str) -> type[Exception]:
    """Click's own exception classes, found from typer's public ``BadParameter``.

    typer has shipped both a dependency on click and a vendored copy of it; walking
    the class hierarchy of a public name works with either.
    """
    return next(cls for cls in typer.BadParameter.__mro__ if cls.__name__ == name)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; every error becomes one line on stderr and an exit status."""
    log = sys.modules.get("voice_coach.coach.log")
    if log is not None:  # notes of an earlier caller in this process are not this command's
        log.take_notes()
    try:
        return _run(argv)
    finally:
        log = sys.modules.get("voice_coach.coach.log")  # only if a command opened the log
        for text in log.take_notes() if log is not None else []:
            note(text)


def _run(argv: list[str] | None) -> int:
    # click gets ``argv`` as given (None: it reads sys.argv itself, expanding wildcards
    # on Windows as it does for every program).
    args = sys.argv[1:] if argv is None else argv
    choose_screen_language(args)
    command = typer.main.get_command(startup.narrowed(app, args))
    usage_error = _cli_exception("UsageError")
    try:
        result = command.main(args=argv, prog_name="voice-coach", standalone_mode=False)
    except VoiceCoachError as exc:
        typer.echo(_("voice-coach: error: {message}").format(message=worded(exc)), err=True)
        return exc.exit_code
    except usage_error as exc:
        message = exc.format_message()  # type: ignore[attr-defined]
        # The same one-line, escaped form as our own errors: the option may be user text.
        line = UsageError(message).one_line()
        typer.echo(_("voice-coach: error: {message}").format(message=line), err=True)
        return 2
    except typer.Exit as exc:
        return exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        typer.echo(_("voice-coach: interrupted"), err=True)
        return 130
    except Exception as exc:
        # A bug, not the user's doing: one line and a way to see more, never a wall of
        # traceback. The tests look for "internal error" as a failure in its own right.
        if os.environ.get("VOICE_COACH_DEBUG"):
            raise
        detail = " ".join(f"{type(exc).__name__}: {exc}".split())
        typer.echo(
            _(
                "voice-coach: internal error: {detail} (please report it; "
                "VOICE_COACH_DEBUG=1 shows the traceback)"
            ).format(detail=detail),
            err=True,
        )
        return 1
    return result if isinstance(result, int) else 0


def entry_point() -> None:
    """The ``voice-coach`` command: ``main``, then a quick exit (``startup.quick_exit``)."""
    startup.quick_exit(main())
