"""Commands about voices and the machine: voices (list, add, remove) and doctor."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from voice_coach.cli.options import check_backend, out
from voice_coach.errors import UsageError
from voice_coach.i18n import N_, _, ngettext

voices_app = typer.Typer(
    help="List the installed voices; add or remove a Piper voice.", rich_markup_mode=None
)


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
            raise UsageError(
                _("no installed voice speaks {lang!r}").format(lang=lang),
                _("see: voice-coach voices"),
            )
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
        said = _(GENDERS[v.gender]) if v.gender in GENDERS else v.gender
        gender = f", {said}" if said else ""
        out(f"{v.id:<{width}}  {v.name} ({languages}{gender}) [{v.engine}]")
    out(ngettext("{n} voice", "{n} voices", len(found)).format(n=len(found)))


# A voice's gender as the engines report it, and as a person reads it.
GENDERS = {"male": N_("male"), "female": N_("female")}


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
    out(
        _("Added {id} ({name}, {language}): use --voice {id}").format(
            id=added.voice_id, name=added.name, language=added.language
        )
    )


@voices_app.command("remove")
def voices_remove(
    voice_id: Annotated[str, typer.Argument(metavar="ID", help="An added voice: piper:NAME.")],
) -> None:
    """Remove a Piper voice you added (the bundled voice and system voices stay)."""
    from voice_coach.speech.piper_voices import remove_voice

    out(_("Removed {voice}").format(voice=remove_voice(voice_id)))


def doctor(
    backend: Annotated[
        str, typer.Option(help="The audio back-end to check: sounddevice or simpleaudio.")
    ] = "sounddevice",
    silent: Annotated[
        bool, typer.Option(help="Render the test tone instead of playing it.")
    ] = False,
) -> None:
    """Check speech, voices, the cache, audio back-ends and the output device."""
    from voice_coach.doctor import can_play, run_checks

    check_backend(backend)
    checks = run_checks(backend, silent)
    width = max(len(check.name) for check in checks)
    for check in checks:
        mark = "ok  " if check.ok else ("FAIL" if check.needed_to_play else "--  ")
        out(f"{mark}  {check.name:<{width}}  {check.detail}")
    if can_play(checks):
        out(_("A session can play here: voice-coach run"))
        return
    out(_("A session cannot play here; voice-coach export -o session.wav still works."))
    raise typer.Exit(1)
