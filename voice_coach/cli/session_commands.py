"""Commands that play or show a session: protocols, script, run."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from voice_coach.cli.options import (
    PLAYBACK_SAMPLE_RATE,
    LangOption,
    ProtocolArg,
    check_backend,
    listed_length,
    on_a_terminal,
    out,
    prepare,
    with_session_options,
)
from voice_coach.coach.programs import NextSession
from voice_coach.coach.stats import counted
from voice_coach.core.protocol import Pace, apply_pace, in_language
from voice_coach.display import clock
from voice_coach.files.loader import builtin_names, load_protocol
from voice_coach.session import SessionOptions, format_time

protocols_app = typer.Typer(
    help="List the built-in protocols, or explain one.", rich_markup_mode=None
)


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
        counts = f", counts {phase.count}" if phase.count else ""
        out(f"  {phase.name:<10} {phase.seconds:g} s{counts}{said}")
    rest = f", {p.rest_s:g} s rest between sets" if p.sets > 1 else ""
    length = listed_length(p)
    sets = counted(p.sets, "set")
    out(f"  {p.reps} reps x {sets}{rest}, {p.lead_in_s:g} s lead-in; about {length}")
    out(f"  languages: {', '.join(loaded.languages)}; source: {p.source}")
    out()
    out(f"Safety: {p.safety}")


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
    out(f"{format_time(total):>7}  (end; total {clock(total)})")


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
    from voice_coach.cli.media_keys import media_keys
    from voice_coach.coach.practice import session_record
    from voice_coach.keys import KeyReader
    from voice_coach.live import LiveState, play_live

    check_backend(backend)
    prepared = prepare(protocol, session)
    rendered = prepared.render(PLAYBACK_SAMPLE_RATE)
    mode = "quiet" if quiet else ("live" if sys.stdout.isatty() else "plain")
    if not quiet:
        out(f"Safety: {prepared.protocol.safety}")
    if plan is not None and not quiet:
        out(f"{plan.program.title}: {plan.progress}")
        from voice_coach.cli.feedback import pain_warnings

        for line in pain_warnings(plan):
            out(line)
    record = None if no_log else session_record(prepared, session, plan)
    state = LiveState()
    album = plan.program.title if plan is not None else None
    with (
        KeyReader() as keys,
        media_keys(keys, state, rendered, prepared.protocol.title, album) as controls,
    ):

        def started() -> None:  # the first sound is playing: now the rest may start
            if record is not None:
                record.begin()
            if controls is not None:
                controls.start()

        result = play_live(
            rendered,
            backend=backend,
            display_mode=mode,
            pre_roll_s=pre_roll,
            display_delay_s=latency_ms / 1000,
            keys=keys,
            on_start=started,
            state=state,
        )
    if record is not None:
        record.finish_live(result, rendered.timeline)
        if record.problem:
            typer.echo(
                f"voice-coach: note: this session was not logged: {record.problem}", err=True
            )
    if result.underruns:
        typer.echo(
            f"voice-coach: note: the audio device ran short {result.underruns} time(s) "
            "(heard as a gap); a busy machine can cause it",
            err=True,
        )
    if result.interrupted:
        typer.echo(f"Stopped at {result.summary(rendered)}.", err=True)
        raise typer.Exit(130)
    if not quiet:
        out("Session ended early." if result.quit else "Session complete.")
    if record is not None and record.entry_id is not None and not quiet and on_a_terminal():
        from voice_coach.cli.feedback import ask_how_it_felt

        ask_how_it_felt(prepared, session, record, backend, plan)


# The export command, registered here so ``--help`` lists it after ``run``.
