"""The command line: arguments in, one-line errors and exit codes out.

Nothing here decides timing or touches audio; it parses, calls the library and
presents. Every failure below is a ``VoiceCoachError``, turned into one line and an
exit status in ``main`` (2: what you asked is wrong, 1: the machine could not do it,
130: interrupted).
"""

from __future__ import annotations

import atexit
import contextlib
import copy
import functools
import inspect
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

# Before numpy is first imported (by session.py, below): voice-coach does no linear
# algebra, and OpenBLAS would start a spinning thread per core as numpy loads, about
# 150 ms of CPU on every start (docs/BENCHMARKS.md). The CLI owns its process, so it
# decides (importing this module sets it); a user's own setting, in either variable
# OpenBLAS reads, wins.
if "OMP_NUM_THREADS" not in os.environ:
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import typer

from voice_coach import __version__
from voice_coach.audio.loudness import DEFAULT_LUFS, parse_loudness
from voice_coach.coach.programs import NextSession
from voice_coach.core.protocol import (
    PACE_PRESETS,
    Pace,
    Protocol,
    apply_pace,
    in_language,
    parse_pace_factor,
    parse_phase_option,
    planned_length_s,
)
from voice_coach.core.timeline import CUE_STYLES, END_PAD_S
from voice_coach.errors import UsageError, VoiceCoachError, stdout_failed
from voice_coach.files.loader import builtin_names, load_protocol
from voice_coach.session import (
    PreparedSession,
    SessionOptions,
    format_time,
    prepare_session,
)
from voice_coach.speech.engine import ENGINE_NAMES

PLAYBACK_SAMPLE_RATE = 44100
PACE_HELP = ", ".join(f"{name} = x{factor:g}" for name, factor in PACE_PRESETS.items())

app = typer.Typer(
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="An eyes-free exercise coach: spoken, timed sessions, live or as audio files.",
)
protocols_app = typer.Typer(
    help="List the built-in protocols, or explain one.", rich_markup_mode=None
)
app.add_typer(protocols_app, name="protocols")
voices_app = typer.Typer(
    help="List the installed voices; add or remove a Piper voice.", rich_markup_mode=None
)
app.add_typer(voices_app, name="voices")


def out(text: str = "") -> None:
    """Write a line to standard output (the one place the CLI prints results).

    A reader that stops early (``| head``) ends the command quietly, as it does an
    export to a pipe: that is the reader's choice. Any other failure (a full disk behind
    a redirect) is a one-line error, not a bug report.
    """
    try:
        typer.echo(text)
    except BrokenPipeError:
        from voice_coach.files.export import silence_stdout

        silence_stdout()
        raise typer.Exit(0) from None
    except OSError as exc:
        raise stdout_failed(exc) from None


# --- session options, shared by script, run and export -------------------------------

ProtocolArg = Annotated[
    str | None,
    typer.Argument(
        metavar="[NAME|FILE]",
        help="A built-in protocol name or a protocol file (.toml); default: glute-squeeze.",
        show_default=False,
    ),
]
SESSION_PARAMETERS: list[tuple[str, Any, Any]] = [
    ("reps", Annotated[int | None, typer.Option(help="Reps per set.", min=1)], None),
    ("sets", Annotated[int | None, typer.Option(help="Number of sets.", min=1)], None),
    ("rest", Annotated[float | None, typer.Option(help="Seconds of rest between sets.")], None),
    ("lead_in", Annotated[float | None, typer.Option(help="Seconds before the first rep.")], None),
    ("hold", Annotated[float | None, typer.Option(help="Seconds of each hold (squeeze).")], None),
    ("relax", Annotated[float | None, typer.Option(help="Seconds of each relax.")], None),
    (
        "phase",
        Annotated[
            list[str] | None,
            typer.Option(metavar="NAME=S", help="Seconds of any phase; repeatable."),
        ],
        None,
    ),
    (
        "pace",
        Annotated[
            str,
            typer.Option(help=f"Stretch every duration: {PACE_HELP}, or a factor 0.25-4."),
        ],
        "normal",
    ),
    (
        "cues",
        Annotated[str, typer.Option(help="What marks each beat: voice, tones or both.")],
        "both",
    ),
    (
        "lang",
        Annotated[str | None, typer.Option(help="Speak in this language (en, de, es, fr...).")],
        None,
    ),
    ("voice", Annotated[str | None, typer.Option(help="A voice id, name or language code.")], None),
    (
        "engine",
        Annotated[
            str | None,
            typer.Option(help="Speak with this engine: espeak-ng or piper (default: the best)."),
        ],
        None,
    ),
    ("rate", Annotated[int | None, typer.Option(help="Speech rate in words per minute.")], None),
    (
        "volume",
        Annotated[float, typer.Option(help="Speech loudness 0-1, relative to the tones.")],
        1.0,
    ),
    (
        "allow_overlap",
        Annotated[bool, typer.Option(help="Let words run into the next cue.")],
        False,
    ),
    (
        "allow_fallback",
        Annotated[
            bool,
            typer.Option(help="Say words the --lang translation leaves out as written."),
        ],
        False,
    ),
    (
        "loudness",
        Annotated[
            str,
            typer.Option(
                metavar="LUFS|off",
                help="Loudness of the session, -30 to -10 LUFS, or off for the voice's own.",
            ),
        ],
        f"{DEFAULT_LUFS:g}",
    ),
]


PROGRAM_PARAMETER: tuple[str, Any, Any] = (
    "program",
    Annotated[
        str | None,
        typer.Option(metavar="NAME", help="Today's next session of this program (see: programs)."),
    ],
    None,
)


def format_duration(seconds: float) -> str:
    """``m:ss`` for lengths shown in lists."""
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}:{rest:02d}"


def session_options(values: dict[str, Any]) -> SessionOptions:
    """The command line's session options as a ``SessionOptions`` value."""
    style = values["cues"]
    if style not in CUE_STYLES:
        raise UsageError(f"--cues {style!r} must be one of: {', '.join(CUE_STYLES)}")
    volume = values["volume"]
    if not 0.0 <= volume <= 1.0:
        raise UsageError(f"--volume {volume:g} must be from 0 to 1")
    engine = values["engine"]
    if engine is not None and engine not in ENGINE_NAMES:
        raise UsageError(f"--engine {engine!r} must be one of: {', '.join(ENGINE_NAMES)}")
    phases = dict(parse_phase_option(item) for item in values["phase"] or [])
    pace = Pace(
        reps=values["reps"],
        sets=values["sets"],
        rest_s=values["rest"],
        lead_in_s=values["lead_in"],
        hold_s=values["hold"],
        relax_s=values["relax"],
        phase_s=phases,
        factor=parse_pace_factor(values["pace"]),
    )
    return SessionOptions(
        pace=pace,
        style=style,
        language=values["lang"],
        voice=values["voice"],
        engine=engine,
        rate_wpm=values["rate"],
        volume=volume,
        allow_overlap=values["allow_overlap"],
        allow_fallback=values["allow_fallback"],
        loudness_lufs=parse_loudness(values["loudness"]),
    )


def with_session_options(func: Callable[..., None]) -> Callable[..., None]:
    """Give a command the shared session options, passed to it as ``session``.

    One list of options serves every command that builds a session, so ``script``,
    ``run`` and ``export`` cannot disagree about what ``--hold`` means. ``--program``
    chooses the protocol and pace of the program's next session (a command that takes
    ``plan`` gets it). Each value comes from the command line if given there, else the
    program's stage, else the settings file, else the option's own default.
    """
    signature = inspect.signature(func, eval_str=True)
    own = [
        param for param in signature.parameters.values() if param.name not in ("session", "plan")
    ]
    shared = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=kind, default=default)
        for name, kind, default in [*SESSION_PARAMETERS, PROGRAM_PARAMETER]
    ]
    context = inspect.Parameter(
        "session_context", inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context
    )
    wants_plan = "plan" in signature.parameters
    # The protocol argument: one name (run, script) or several (export).
    protocol_arg = "protocol" if "protocol" in signature.parameters else "protocols"

    @functools.wraps(func)
    def command(**kwargs: Any) -> None:
        from voice_coach.coach.settings import load_settings

        ctx = kwargs.pop("session_context")
        program = kwargs.pop("program")
        values = {name: kwargs.pop(name) for name, _, _ in SESSION_PARAMETERS}
        given = {name for name in values if ctx.get_parameter_source(name).name != "DEFAULT"}
        settings = load_settings(known=settings_keys())
        named = kwargs.get(protocol_arg)
        if program is not None and named:
            raise UsageError("give a protocol or --program, not both")
        plan = None
        # The settings' program is what ``run`` (and its dry run, ``script``) plays
        # without a name; ``export`` writes what it is asked for, or the default.
        chosen = program or (settings.program if protocol_arg == "protocol" and not named else None)
        if chosen:
            from voice_coach.coach.practice import todays_session

            plan = todays_session(chosen)
            kwargs[protocol_arg] = plan.protocol if protocol_arg == "protocol" else [plan.protocol]
        layered = dict(values)
        layered.update({k: v for k, v in settings.values.items() if k in values})
        if plan is not None:
            layered.update(stage_values(plan.pace))
        layered.update({name: values[name] for name in given})
        extra = {"plan": plan} if wants_plan else {}
        func(session=session_options(layered), **extra, **kwargs)

    command.__signature__ = signature.replace(parameters=own + shared + [context])  # type: ignore[attr-defined]
    return command


def settings_keys() -> tuple[str, ...]:
    """What a settings file may hold: the session options this program has, and a
    program (``engine`` becomes one once the session has an ``--engine`` option)."""
    from voice_coach.coach.settings import COACH_KEYS, SETTING_KEYS

    options = {name for name, _, _ in SESSION_PARAMETERS}
    return tuple(key for key in SETTING_KEYS if key in options or key in COACH_KEYS)


def stage_values(pace: Pace) -> dict[str, Any]:
    """A program stage's overrides, named as the session options they stand for."""
    values = {"reps": pace.reps, "sets": pace.sets, "hold": pace.hold_s, "relax": pace.relax_s}
    if pace.factor != 1.0:
        values["pace"] = str(pace.factor)
    return {name: value for name, value in values.items() if value is not None}


def prepare(
    protocol: str | None, session: SessionOptions, *, heard: bool = True
) -> PreparedSession:
    """``prepare_session`` with its notes (an unwritable cache...) shown once on stderr;
    with ``heard`` (it will be played or written), a loudness it cannot reach too."""
    prepared = prepare_session(protocol, session)
    notes = [*prepared.notes, prepared.loudness_note] if heard else prepared.notes
    for note in filter(None, notes):
        typer.echo(f"voice-coach: note: {note}", err=True)
    return prepared


# --- commands --------------------------------------------------------------------------


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


LangOption = Annotated[
    str | None, typer.Option(help="Show the words of this language (en, de, es, fr...).")
]


@protocols_app.callback(invoke_without_command=True)
def protocols_list(ctx: typer.Context, lang: LangOption = None) -> None:
    """List the built-in protocols: name, what it is, reps x sets, length."""
    if ctx.invoked_subcommand is not None:
        return
    rows = []
    for name in builtin_names():
        protocol = in_language(load_protocol(name), lang, allow_fallback=True)
        length = listed_length(protocol)
        rows.append((name, protocol.description, f"{protocol.reps} x {protocol.sets}", length))
    width = max(len(row[0]) for row in rows)
    for name, description, dose, length in rows:
        out(f"{name:<{width}}  {dose:>7}  {length:>5}  {description}")


@protocols_app.command("show")
def protocols_show(
    protocol: Annotated[
        str, typer.Argument(metavar="NAME|FILE", help="A built-in name or a file.")
    ],
    lang: LangOption = None,
) -> None:
    """Explain a protocol: what to do, why, the pace, and a safety note."""
    loaded = load_protocol(protocol)
    p = apply_pace(in_language(loaded, lang, allow_fallback=True), Pace())
    out(f"{p.title} ({p.name})")
    out(p.description)
    if p.about.strip():
        out()
        for paragraph in p.about.strip().split("\n\n"):
            out(" ".join(paragraph.split()))
            out()
    out("Pace:")
    for phase in p.phases:
        said = f'  says "{phase.say}"' if phase.say else ""
        counted = f", counts {phase.count}" if phase.count else ""
        out(f"  {phase.name:<10} {phase.seconds:g} s{counted}{said}")
    rest = f", {p.rest_s:g} s rest between sets" if p.sets > 1 else ""
    length = listed_length(p)
    sets = f"{p.sets} set{'s' if p.sets > 1 else ''}"
    out(f"  {p.reps} reps x {sets}{rest}, {p.lead_in_s:g} s lead-in; about {length}")
    out(f"  languages: {', '.join(loaded.languages)}; source: {p.source}")
    out()
    out(f"Safety: {p.safety}")


@app.command()
@with_session_options
def script(
    protocol: ProtocolArg = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print the machine-readable timeline.")
    ] = False,
    *,
    session: SessionOptions,
) -> None:
    """Print the session as it will be heard: one timed line per cue."""
    prepared = prepare(protocol, session, heard=False)
    if json_out:
        out(json.dumps(prepared.to_json(), ensure_ascii=False, indent=1))
        return
    out(f"Safety: {prepared.protocol.safety}")
    for cue in prepared.timeline.cues:
        what = cue.text if cue.kind == "say" else f"(tone: {cue.tone})"
        out(f"{format_time(cue.beat_s):>7}  {what}")
    total = prepared.timeline.duration_s
    out(f"{format_time(total):>7}  (end; total {format_duration(total)})")


@app.command()
@with_session_options
def run(
    protocol: ProtocolArg = None,
    backend: Annotated[
        str, typer.Option(help="Audio back-end: sounddevice (default) or simpleaudio.")
    ] = "sounddevice",
    latency_ms: Annotated[
        float,
        typer.Option(
            help="Delay the display by this much to match what you hear (Bluetooth).",
            min=0,
            max=2000,
        ),
    ] = 0.0,
    pre_roll: Annotated[
        float,
        typer.Option(
            metavar="S",
            help="Seconds of near-silence first, for devices that wake slowly.",
            min=0,
            max=10,
        ),
    ] = 0.0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Show nothing.")] = False,
    no_log: Annotated[
        bool, typer.Option("--no-log", help="Do not record the session in the practice log.")
    ] = False,
    *,
    session: SessionOptions,
    plan: NextSession | None,
) -> None:
    """Play the session live on the speakers; space pauses, n skips, q ends."""
    from voice_coach.audio.playback import BACKENDS
    from voice_coach.coach.practice import session_record
    from voice_coach.keys import KeyReader
    from voice_coach.live import play_live

    if backend not in BACKENDS:
        raise UsageError(f"--backend {backend!r} must be one of: {', '.join(BACKENDS)}")
    prepared = prepare(protocol, session)
    rendered = prepared.render(PLAYBACK_SAMPLE_RATE)
    mode = "quiet" if quiet else ("live" if sys.stdout.isatty() else "plain")
    if not quiet:
        out(f"Safety: {prepared.protocol.safety}")
    if plan is not None and not quiet:
        out(f"{plan.program.title}: {plan.progress}")
        from voice_coach.cli_coach import pain_warnings

        for line in pain_warnings(plan):
            out(line)
    record = None if no_log else session_record(prepared, session, plan)
    with KeyReader() as keys:
        result = play_live(
            rendered,
            backend=backend,
            display_mode=mode,
            pre_roll_s=pre_roll,
            display_delay_s=latency_ms / 1000,
            keys=keys,
            on_start=record.begin if record is not None else None,
        )
    if record is not None:
        record.finish_live(result, rendered.timeline)
        if record.problem:
            typer.echo(
                f"voice-coach: note: this session was not logged: {record.problem}", err=True
            )
    if result.interrupted:
        typer.echo(f"Stopped at {result.summary(rendered)}.", err=True)
        raise typer.Exit(130)
    if not quiet:
        out("Session ended early." if result.quit else "Session complete.")
    if record is not None and record.entry_id is not None and not quiet and on_a_terminal():
        from voice_coach.cli_coach import ask_how_it_felt

        ask_how_it_felt(prepared, session, record, backend, plan)


# The export command, registered here so ``--help`` lists it after ``run``.
import voice_coach.cli_export  # noqa: E402


@voices_app.callback(invoke_without_command=True)
def voices(
    ctx: typer.Context,
    lang: Annotated[
        str | None, typer.Option(help="Only voices that speak this language (de, en-us...).")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False,
) -> None:
    """List the installed voices of every engine: id, name, languages, gender, engine."""
    if ctx.invoked_subcommand is not None:
        return
    from voice_coach.speech.phrase_cache import installed_voices
    from voice_coach.speech.voices import filter_by_language

    found = installed_voices()
    if lang is not None:
        found = filter_by_language(found, lang)
        if not found:
            raise UsageError(f"no installed voice speaks {lang!r}", "see: voice-coach voices")
    if json_out:
        rows = [
            {
                "id": v.id,
                "name": v.name,
                "languages": list(v.languages),
                "gender": v.gender,
                "engine": v.engine,
            }
            for v in found
        ]
        out(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    width = max(len(v.id) for v in found)
    for v in found:
        languages = ", ".join(v.languages)
        gender = f", {v.gender}" if v.gender else ""
        out(f"{v.id:<{width}}  {v.name} ({languages}{gender}) [{v.engine}]")
    out(f"{len(found)} voice{'s' if len(found) != 1 else ''}")


@voices_app.command("add")
def voices_add(
    model: Annotated[
        str, typer.Argument(metavar="PATH.onnx", help="A Piper model, its .onnx.json beside it.")
    ],
    force: Annotated[bool, typer.Option(help="Replace an added voice with the same id.")] = False,
) -> None:
    """Add a Piper voice you downloaded: checked, then copied into your data folder."""
    from voice_coach.speech.piper import check_loads
    from voice_coach.speech.piper_voices import add_voice

    added = add_voice(Path(model), force=force, check_loads=check_loads)
    out(f"Added {added.voice_id} ({added.name}, {added.language}): use --voice {added.voice_id}")


@voices_app.command("remove")
def voices_remove(
    voice_id: Annotated[str, typer.Argument(metavar="ID", help="An added voice: piper:NAME.")],
) -> None:
    """Remove a Piper voice you added (the bundled voice and system voices stay)."""
    from voice_coach.speech.piper_voices import remove_voice

    out(f"Removed {remove_voice(voice_id)}")


@app.command()
def doctor(
    backend: Annotated[
        str, typer.Option(help="The audio back-end to check: sounddevice or simpleaudio.")
    ] = "sounddevice",
    silent: Annotated[
        bool, typer.Option(help="Render the test tone instead of playing it.")
    ] = False,
) -> None:
    """Check speech, voices, the cache, audio back-ends and the output device."""
    from voice_coach.audio.playback import BACKENDS
    from voice_coach.doctor import can_play, run_checks

    if backend not in BACKENDS:
        raise UsageError(f"--backend {backend!r} must be one of: {', '.join(BACKENDS)}")
    checks = run_checks(backend, silent)
    width = max(len(check.name) for check in checks)
    for check in checks:
        mark = "ok  " if check.ok else ("FAIL" if check.needed_to_play else "--  ")
        out(f"{mark}  {check.name:<{width}}  {check.detail}")
    if can_play(checks):
        out("A session can play here: voice-coach run")
        return
    out("A session cannot play here; voice-coach export -o session.wav still works.")
    raise typer.Exit(1)


def listed_length(protocol: Protocol) -> str:
    """The length ``protocols`` and ``protocols show`` give (and the README's table): the
    lead-in, reps, rests and end, before the words are timed."""
    return format_duration(planned_length_s(protocol) + END_PAD_S)


def on_a_terminal() -> bool:
    """Someone at a terminal can answer: standard input and output are both one."""
    try:
        return sys.stdin.isatty() and sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


import voice_coach.cli_coach  # noqa: E402, F401  (registers log, history, stats, programs...)

# --- entry point -----------------------------------------------------------------------


def _cli_exception(name: str) -> type[Exception]:
    """Click's own exception classes, found from typer's public ``BadParameter``.

    typer has shipped both a dependency on click and a vendored copy of it; walking
    the class hierarchy of a public name works with either.
    """
    return next(cls for cls in typer.BadParameter.__mro__ if cls.__name__ == name)


def _app_for(argv: list[str]) -> typer.Typer:
    """The app with only the command (or group) ``argv`` starts with, when it starts
    with one.

    typer builds a click command for every command on every start, reading each one's
    options from its signature (about 15 ms), where a start runs just one. Anything
    else (no command, an option first, a group, a typo) gets the whole app, so the
    overview and "No such command" read as they always do.
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


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; every error becomes one line on stderr and an exit status."""
    # The arguments choose the app only; click gets ``argv`` as given (None: it reads
    # sys.argv itself, expanding wildcards on Windows as it does for every program).
    command = typer.main.get_command(_app_for(sys.argv[1:] if argv is None else argv))
    usage_error = _cli_exception("UsageError")
    try:
        result = command.main(args=argv, prog_name="voice-coach", standalone_mode=False)
    except VoiceCoachError as exc:
        typer.echo(f"voice-coach: error: {exc.one_line()}", err=True)
        return exc.exit_code
    except usage_error as exc:
        message = exc.format_message()  # type: ignore[attr-defined]
        # The same one-line, escaped form as our own errors: the option may be user text.
        typer.echo(f"voice-coach: error: {UsageError(message).one_line()}", err=True)
        return 2
    except typer.Exit as exc:
        return exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("voice-coach: interrupted", err=True)
        return 130
    except Exception as exc:
        # A bug, not the user's doing: one line and a way to see more, never a wall of
        # traceback. The tests look for "internal error" as a failure in its own right.
        if os.environ.get("VOICE_COACH_DEBUG"):
            raise
        detail = " ".join(f"{type(exc).__name__}: {exc}".split())
        typer.echo(
            f"voice-coach: internal error: {detail} (please report it; "
            "VOICE_COACH_DEBUG=1 shows the traceback)",
            err=True,
        )
        return 1
    return result if isinstance(result, int) else 0


def _reuse_freed_memory() -> None:
    """Have glibc's malloc keep large freed blocks for the next allocation, instead of
    handing each back to the system and faulting fresh pages in for the next.

    Limiting and measuring a new phrase allocates and frees tens of megabytes of numpy
    temporaries (a 4 s phrase oversampled four times is 1.6 MB a copy), and blocks
    above glibc's first mmap threshold (128 kB) come as fresh pages every time: about
    5 ms of a cold export and 2 ms of a warm one (docs/BENCHMARKS.md). A user's own
    ``MALLOC_*`` or ``GLIBC_TUNABLES`` setting wins; elsewhere than 64-bit Linux nothing
    is done (a 32-bit glibc before 2.35 refuses a threshold this high).
    """
    import ctypes  # numpy loads it anyway

    if (
        not sys.platform.startswith("linux")
        or ctypes.sizeof(ctypes.c_void_p) != 8
        or any(name.startswith("MALLOC_") or name == "GLIBC_TUNABLES" for name in os.environ)
    ):
        return
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc, or no such call: its defaults stand
        return
    # M_MMAP_THRESHOLD (the largest glibc's own sliding threshold reaches), then
    # M_TRIM_THRESHOLD; the second only if the first was taken, since setting either
    # stops the threshold sliding up by itself.
    if mallopt(-3, 32 << 20) == 1:
        mallopt(-1, 128 << 20)


def entry_point() -> None:
    """The ``voice-coach`` command: ``main``, then a quick exit.

    Python's own teardown (freeing every module and object one by one) took about 50 ms
    with numpy and typer loaded, on every command, and does nothing the end of the process
    does not. So once ``main`` is done, the exit handlers run (PortAudio's, the speech
    engine's), the standard streams are flushed, and the process ends at once.
    """
    _reuse_freed_memory()
    code = main()
    if os.environ.get("VOICE_COACH_DEBUG"):  # a profiler or coverage wants the normal end
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
