"""Commands that play or show a session: protocols, script, run."""

from __future__ import annotations

import json
import sys
from functools import partial
from typing import Annotated

import typer

from voice_coach.cli.options import (
    PLAYBACK_SAMPLE_RATE,
    LangOption,
    ProtocolArg,
    check_backend,
    listed_length,
    note,
    on_a_terminal,
    out,
    prepare,
    safety_line,
    seconds,
    shown_words,
    with_session_options,
)
from voice_coach.coach.programs import NextSession
from voice_coach.coach.settings import MAX_DUCK_DB, MIN_DUCK_DB, Settings
from voice_coach.coach.stats import reps_words, sets_words
from voice_coach.core.protocol import Pace, apply_pace
from voice_coach.display import clock
from voice_coach.files.loader import builtin_names, load_protocol
from voice_coach.i18n import N_, _, ngettext
from voice_coach.session import SessionOptions, format_time

# How a phase counts, as a protocol file says it and as a person reads it.
COUNTS = {"up": N_("up"), "down": N_("down")}

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
        protocol = shown_words(load_protocol(name), lang)
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
    p = apply_pace(shown_words(loaded, lang), Pace())
    out(f"{p.title} ({p.name})")
    out(p.description)
    if p.about.strip():
        out()
        for paragraph in p.about.strip().split("\n\n"):
            out(" ".join(paragraph.split()))
            out()
    out(_("Pace:"))
    for phase in p.phases:
        said = "  " + _('says "{words}"').format(words=phase.say) if phase.say else ""
        counts = ""
        if phase.count:
            counts = ", " + _("counts {how}").format(how=_(COUNTS.get(phase.count, phase.count)))
        out(f"  {phase.name:<10} {seconds(phase.seconds)}{counts}{said}")
    rest = ""
    if p.sets > 1:
        rest = ", " + _("{time} rest between sets").format(time=seconds(p.rest_s))
    reps, sets = reps_words(p.reps), sets_words(p.sets)
    out(
        "  "
        + _("{reps} x {sets}{rest}, {lead_in} lead-in; about {length}").format(
            reps=reps, sets=sets, rest=rest, lead_in=seconds(p.lead_in_s), length=listed_length(p)
        )
    )
    languages = ", ".join(loaded.languages)
    out(
        "  "
        + _("languages: {languages}; source: {source}").format(languages=languages, source=p.source)
    )
    out()
    out(safety_line(p.safety))


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
    out(safety_line(prepared.protocol.safety))
    for cue in prepared.timeline.cues:
        what = cue.text if cue.kind == "say" else _("(tone: {tone})").format(tone=cue.tone)
        out(f"{format_time(cue.beat_s):>7}  {what}")
    total = prepared.timeline.duration_s
    out(f"{format_time(total):>7}  " + _("(end; total {length})").format(length=clock(total)))


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
    others: Annotated[
        str | None,
        typer.Option(
            metavar="duck|pause|keep",
            help="Other applications' sound: lowered under each word (duck, the default), "
            "paused for the session, or left alone.",
        ),
    ] = None,
    duck_db: Annotated[
        float | None,
        typer.Option(
            metavar="DB",
            help="How far other sound is lowered under words, in decibels (default 15).",
            min=MIN_DUCK_DB,
            max=MAX_DUCK_DB,
        ),
    ] = None,
    *,
    session: SessionOptions,
    plan: NextSession | None,
    settings: Settings,
) -> None:
    """Play the session live on the speakers; space pauses, n skips, q ends."""
    from voice_coach.cli.media_keys import media_keys
    from voice_coach.cli.other_sound import other_sound
    from voice_coach.coach.practice import session_record
    from voice_coach.keys import KeyReader
    from voice_coach.live import LiveState, play_live

    check_backend(backend)
    neighbours = settings.others(others, duck_db)
    state = LiveState()
    with other_sound(neighbours, state) as acting:  # reaches the sound server meanwhile
        prepared = prepare(protocol, session)
        rendered = prepared.render(PLAYBACK_SAMPLE_RATE)
        mode = "quiet" if quiet else ("live" if sys.stdout.isatty() else "plain")
        if not quiet:
            out(safety_line(prepared.protocol.safety))
        if plan is not None and not quiet:
            out(
                _("{program}: {progress}").format(
                    program=plan.program.title, progress=plan.progress
                )
            )
            from voice_coach.cli.feedback import pain_warnings

            for line in pain_warnings(plan):
                out(line)
        record = None if no_log else session_record(prepared, session, plan)
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

            # Other sound lowered from just before the device plays: a cue at 0 too.
            follow = None if acting is None else partial(acting.follow, rendered.timeline)
            result = play_live(
                rendered,
                backend=backend,
                display_mode=mode,
                pre_roll_s=pre_roll,
                display_delay_s=latency_ms / 1000,
                keys=keys,
                before_start=follow,
                on_start=started,
                state=state,
            )
    if acting is not None and acting.problem:
        if neighbours.mode == "duck":
            note(_("other sound was not lowered: {why}").format(why=acting.problem))
        else:
            note(_("other players were not paused: {why}").format(why=acting.problem))
    if record is not None:
        record.finish_live(result, rendered.timeline)
        if record.problem:
            note(_("this session was not logged: {why}").format(why=record.problem))
    if result.underruns:
        note(
            ngettext(
                "the audio device ran short {n} time (heard as a gap); a busy machine can cause it",
                "the audio device ran short {n} times (heard as a gap); a busy machine can "
                "cause it",
                result.underruns,
            ).format(n=result.underruns)
        )
    if result.interrupted:
        typer.echo(_("Stopped at {where}.").format(where=result.summary(rendered)), err=True)
        raise typer.Exit(130)
    if not quiet:
        out(_("Session ended early.") if result.quit else _("Session complete."))
    if record is not None and record.entry_id is not None and not quiet and on_a_terminal():
        from voice_coach.cli.feedback import ask_how_it_felt

        ask_how_it_felt(prepared, session, record, backend, plan)


# The export command, registered here so ``--help`` lists it after ``run``.
