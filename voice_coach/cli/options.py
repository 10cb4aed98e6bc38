"""The options the commands share, and the few helpers every command uses.

Parsing of option values (``--loudness off``, ``--pace slow``, ``--phase NAME=S``)
lives here with the CLI; which value wins (the command line, the program's stage, the
settings file, the default) is the library's ``coach.settings.layered_values``.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import math
import sys
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Annotated, Any

import typer

from voice_coach.audio.loudness import DEFAULT_LUFS, MAX_LUFS, MIN_LUFS
from voice_coach.core.protocol import PACE_PRESETS, Pace, Protocol, pace_factor, planned_length_s
from voice_coach.core.timeline import END_PAD_S
from voice_coach.display import clock
from voice_coach.errors import UsageError, VoiceCoachError, stdout_failed
from voice_coach.i18n import _, number, use_language
from voice_coach.session import PreparedSession, SessionOptions, prepare_session

if TYPE_CHECKING:
    from voice_coach.coach.settings import LanguageChoice

PLAYBACK_SAMPLE_RATE = 44100
PACE_HELP = ", ".join(f"{name} = x{factor:g}" for name, factor in PACE_PRESETS.items())


def out(text: str = "") -> None:
    """Write a line to standard output (the one place the CLI prints results).

    A reader that stops early (``| head``) ends the command quietly, as it does an
    export to a pipe: that is the reader's choice. Any other failure (a full disk behind
    a redirect) is a one-line error, not a bug report.
    """
    stream = sys.stdout
    if stream is None:  # started with standard output closed: nowhere to write, as click
        return
    with _writing():
        stream.write(text + "\n")
        stream.flush()  # a reader waiting for this line gets it now


def out_bytes(data: bytes) -> None:
    """``out`` for text already encoded as UTF-8 (a large JSON list): written as it is."""
    stream = sys.stdout
    if stream is None:
        return
    if not hasattr(stream, "buffer"):  # a text-only stream (a caller's StringIO)
        out(data.decode("utf-8"))
        return
    with _writing():
        stream.flush()
        stream.buffer.write(data + b"\n")
        stream.buffer.flush()


@contextlib.contextmanager
def _writing() -> Iterator[None]:
    """What ``out`` and ``out_bytes`` make of a failed write to standard output."""
    try:
        yield
    except BrokenPipeError:
        from voice_coach.files.export import silence_stdout

        silence_stdout()
        raise typer.Exit(0) from None
    except OSError as exc:
        raise stdout_failed(exc) from None


def note(text: str) -> None:
    """A note on standard error: something the user may want to know, not a failure."""
    typer.echo(_("voice-coach: note: {note}").format(note=text), err=True)


def safety_line(safety: str) -> str:
    """The protocol's safety note as shown before a session and in ``protocols show``."""
    return _("Safety: {note}").format(note=safety)


def seconds(value: float) -> str:
    """A duration in seconds as the language writes it: "3 s", "1,5 s"."""
    return _("{seconds} s").format(seconds=number(value))


# --- the language of the screens and the session --------------------------------------

_chosen: list[LanguageChoice] = []
SESSION_LANG_COMMANDS = ("script", "run", "export", "protocols")


def choose_screen_language(argv: list[str]) -> LanguageChoice:
    """Decide, before a command runs, the language it shows and speaks (``--lang``, the
    settings file, the locale: ``coach.settings.choose_language``) and show screens in it.

    ``--lang`` is read from the arguments here, as every command that takes it means the
    same by it; a settings file that does not load is left for the command that reads it
    to report, and the screens go by the locale meanwhile.
    """
    from voice_coach.coach.settings import choose_language, load_settings

    # Only where --lang is the session's language (voices --lang is a filter of the list).
    given = given_language(argv) if argv[:1] and argv[0] in SESSION_LANG_COMMANDS else None
    settings = None
    if not given:
        try:
            settings = load_settings(known=settings_keys())
        except VoiceCoachError:
            settings = None
    choice = choose_language(given, settings)
    use_language(choice.code)
    _chosen[:] = [choice]
    return choice


def given_language(argv: list[str]) -> str | None:
    """The value of ``--lang`` in ``argv``, if it is there (before any ``--``)."""
    for index, arg in enumerate(argv):
        if arg == "--":
            return None
        if arg == "--lang" and index + 1 < len(argv):
            return argv[index + 1]
        if arg.startswith("--lang="):
            return arg.partition("=")[2]
    return None


def chosen_language() -> LanguageChoice:
    """The choice ``choose_screen_language`` made (made now, from the settings and the
    locale, for a caller that did not go through ``main``)."""
    return _chosen[0] if _chosen else choose_screen_language([])


def shown_words(protocol: Protocol, lang: str | None = None) -> Protocol:
    """A protocol with the words to show: ``--lang``'s (an error where it has none, as for
    a session), else the chosen language's where the protocol has them all, else its own."""
    from voice_coach.core.protocol import in_language
    from voice_coach.session import in_preferred_language

    if lang:
        return in_language(protocol, lang, allow_fallback=True)
    return in_preferred_language(protocol, chosen_language().code)


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


def parse_loudness(value: str) -> float | None:
    """``--loudness``: a target in LUFS from -30 to -10, or ``off`` (``None``)."""
    if value.strip().lower() == "off":
        return None
    try:
        target = float(value)
    except ValueError:
        target = math.nan
    if not (math.isfinite(target) and MIN_LUFS <= target <= MAX_LUFS):
        raise UsageError(
            _("--loudness {value!r} must be a loudness from {low} to {high} LUFS, or off").format(
                value=value, low=f"{MIN_LUFS:g}", high=f"{MAX_LUFS:g}"
            ),
            _("the default is {lufs}").format(lufs=f"{DEFAULT_LUFS:g}"),
        )
    return target


def parse_phase(text: str) -> tuple[str, float]:
    """``NAME=SECONDS`` from ``--phase``."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise UsageError(
            _("--phase {value!r} must look like NAME=SECONDS, e.g. --phase squeeze=4").format(
                value=text
            )
        )
    try:
        seconds = float(value)
    except ValueError:
        raise UsageError(
            _(
                "--phase {value!r}: {number!r} is not a number of seconds, e.g. --phase squeeze=4"
            ).format(value=text, number=value)
        ) from None
    return name.strip(), seconds


def session_options(values: dict[str, Any]) -> SessionOptions:
    """The command line's session options as a ``SessionOptions`` value (which checks
    itself: the library refuses what the command line refuses)."""
    pace = Pace(
        reps=values["reps"],
        sets=values["sets"],
        rest_s=values["rest"],
        lead_in_s=values["lead_in"],
        hold_s=values["hold"],
        relax_s=values["relax"],
        phase_s=dict(parse_phase(item) for item in values["phase"] or []),
        factor=pace_factor(values["pace"]),
    )
    return SessionOptions(
        pace=pace,
        style=values["cues"],
        language=values["lang"],
        voice=values["voice"],
        engine=values["engine"],
        rate_wpm=values["rate"],
        volume=values["volume"],
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
        param
        for param in signature.parameters.values()
        if param.name not in ("session", "plan", "settings")
    ]
    shared = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=kind, default=default)
        for name, kind, default in [*SESSION_PARAMETERS, PROGRAM_PARAMETER]
    ]
    context = inspect.Parameter(
        "session_context", inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context
    )
    wants_plan = "plan" in signature.parameters
    wants_settings = "settings" in signature.parameters
    # The protocol argument: one name (run, script) or several (export).
    protocol_arg = "protocol" if "protocol" in signature.parameters else "protocols"

    @functools.wraps(func)
    def command(**kwargs: Any) -> None:
        from voice_coach.coach.settings import layered_values, load_settings

        ctx = kwargs.pop("session_context")
        program = kwargs.pop("program")
        values = {name: kwargs.pop(name) for name, *_kind in SESSION_PARAMETERS}
        given = {name for name in values if ctx.get_parameter_source(name).name != "DEFAULT"}
        settings = load_settings(known=settings_keys())
        named = kwargs.get(protocol_arg)
        one_source(named, program)
        plan = None
        # The settings' program is what ``run`` (and its dry run, ``script``) plays
        # without a name; ``export`` writes what it is asked for, or the default.
        chosen = program or (settings.program if protocol_arg == "protocol" and not named else None)
        if chosen:
            from voice_coach.coach.practice import todays_session

            plan = todays_session(chosen)
            kwargs[protocol_arg] = plan.protocol if protocol_arg == "protocol" else [plan.protocol]
        layered = layered_values(
            given={name: values[name] for name in given},
            stage=stage_values(plan.pace) if plan is not None else {},
            settings={k: v for k, v in settings.values.items() if k in values},
            defaults=values,
        )
        extra: dict[str, Any] = {"plan": plan} if wants_plan else {}
        if wants_settings:
            extra["settings"] = settings
        options = session_options(layered)
        if options.language is None:
            options = replace(options, preferred_language=chosen_language().code)
        func(session=options, **extra, **kwargs)

    command.__signature__ = signature.replace(parameters=own + shared + [context])  # type: ignore[attr-defined]
    return command


def settings_keys() -> tuple[str, ...]:
    """What a settings file may hold: the session options this program has, and a
    program (``engine`` becomes one once the session has an ``--engine`` option)."""
    from voice_coach.coach.settings import COACH_KEYS, LIVE_KEYS, SETTING_KEYS

    options = {name for name, *_kind in SESSION_PARAMETERS}
    return tuple(
        key for key in SETTING_KEYS if key in options or key in COACH_KEYS or key in LIVE_KEYS
    )


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
    for text in filter(None, notes):
        note(text)
    return prepared


LangOption = Annotated[
    str | None, typer.Option(help="Show the words of this language (en, de, es, fr...).")
]


ProgramOption = Annotated[
    str | None, typer.Option("--program", metavar="NAME", help="A program (see: programs).")
]


def one_source(protocol: object, program: str | None) -> None:
    """A session comes from a protocol or from a program, never both."""
    if program is not None and protocol:
        raise UsageError(_("give a protocol or --program, not both"))


def check_backend(backend: str) -> str:
    """An audio back-end this program has (``--backend``)."""
    from voice_coach.audio.playback import BACKENDS

    if backend not in BACKENDS:
        raise UsageError(
            _("--backend {value!r} must be one of: {choices}").format(
                value=backend, choices=", ".join(BACKENDS)
            )
        )
    return backend


def listed_length(protocol: Protocol) -> str:
    """The length ``protocols`` and ``protocols show`` give (and the README's table): the
    lead-in, reps, rests and end, before the words are timed."""
    return clock(planned_length_s(protocol) + END_PAD_S)


def on_a_terminal() -> bool:
    """Someone at a terminal can answer: standard input and output are both one."""
    try:
        return sys.stdin.isatty() and sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False
