"""The ``export`` command: a session to an audio file, or sessions to an album folder.

Registered on the CLI's ``app`` (``cli.py`` imports this module); like every command,
it parses, calls the library (``files.export``, ``files.album``, ``files.tags``) and
presents, and its errors become one line in ``cli.main``. The tag, cover and album
modules are imported inside the functions that use them, so a WAV export (untagged)
never loads them. Import ``voice_coach.cli``, not this module: ``cli`` imports it where
``export`` belongs in ``--help`` (after ``run``), and imported first it would register
``export`` last.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from voice_coach.audio.music import DEFAULT_MUSIC_DB, MAX_MUSIC_DB, MIN_MUSIC_DB
from voice_coach.cli.options import note, prepare, with_session_options
from voice_coach.coach.programs import NextSession
from voice_coach.coach.stats import sessions_words
from voice_coach.display import clock
from voice_coach.errors import UsageError
from voice_coach.files.loader import builtin_names
from voice_coach.i18n import _, decimal
from voice_coach.session import (
    DEFAULT_SAMPLE_RATE,
    AlbumSource,
    PreparedSession,
    SessionOptions,
    album_sources,
)

if TYPE_CHECKING:
    from voice_coach.core.render import RenderedSession
    from voice_coach.files.cover import Cover
    from voice_coach.files.tags import FileTags


@with_session_options
def export(
    protocols: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[NAME|FILE ...]",
            help="Built-in protocol names or protocol files (.toml); default: glute-squeeze, "
            "or with --album every built-in.",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-o",
            metavar="OUT",
            help="The audio file to write, or - for WAV on stdout (default: session.wav).",
        ),
    ] = None,
    album: Annotated[
        Path | None,
        typer.Option(
            metavar="DIR",
            help="Write a folder: one file per session, cover, playlist.m3u8 (MP3 by default).",
        ),
    ] = None,
    base_url: Annotated[
        str | None,
        typer.Option(metavar="URL", help="With --album: also feed.xml, served from this URL."),
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="wav, flac, ogg or mp3 (default: from OUT's extension)."),
    ] = None,
    sample_rate: Annotated[
        int, typer.Option(help="Samples per second of the file.", min=8000, max=192000)
    ] = DEFAULT_SAMPLE_RATE,
    subtitles: Annotated[
        str | None, typer.Option(help="Also write the words as OUT.srt or OUT.vtt: srt or vtt.")
    ] = None,
    timeline: Annotated[
        bool, typer.Option("--timeline", help="Also write the timeline as OUT.json.")
    ] = False,
    cover: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE", help="The cover in the file's tags: a PNG or JPEG (default: drawn)."
        ),
    ] = None,
    chapters: Annotated[
        str, typer.Option(help="Chapters in MP3, OGG and FLAC files: on or off.")
    ] = "on",
    music: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE",
            help="Mix this music under the session, lowered under each word (any audio "
            "file soundfile reads, MP3 included).",
        ),
    ] = None,
    music_db: Annotated[
        float,
        typer.Option(
            metavar="DB",
            help="With --music: the music between words against the speech, -40 to -6 dB.",
        ),
    ] = DEFAULT_MUSIC_DB,
    force: Annotated[bool, typer.Option(help="Overwrite files that exist.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    *,
    session: SessionOptions,
    plan: NextSession | None,
) -> None:
    """Write the session to an audio file (WAV, FLAC, OGG, MP3), tagged, with a cover and
    chapters where the format carries them; or several sessions as an album folder (with
    --program: one file per stage of the program)."""
    from voice_coach.files.export import export_session

    if subtitles is not None and subtitles not in ("srt", "vtt"):
        raise UsageError(_("--subtitles {value!r} must be srt or vtt").format(value=subtitles))
    with_chapters = on_off("--chapters", chapters)
    bed = MusicChoice.of(music, music_db)
    if album is not None:
        if output is not None:
            raise UsageError(_("give -o OUT or --album DIR, not both"))
        if subtitles is not None or timeline:
            raise UsageError(_("--subtitles and --timeline go with -o OUT, not --album"))
        sources = album_sources(protocols or builtin_names(), session, plan)
        title = plan.program.title if plan is not None else album.absolute().name
        export_album(
            sources,
            AlbumChoices(
                folder=album,
                title=title,
                base_url=base_url,
                fmt=fmt,
                sample_rate=sample_rate,
                cover=cover,
                chapters=with_chapters,
                force=force,
                quiet=quiet,
                music=bed,
            ),
        )
        return
    if base_url is not None:
        raise UsageError(_("--base-url goes with --album DIR"))
    if protocols and len(protocols) > 1:
        raise UsageError(
            _("-o writes one session, and {n} were named").format(n=len(protocols)),
            _("name one, or write them all with --album DIR"),
        )
    output = "session.wav" if output is None else output
    target = None if output == "-" else Path(output)
    user_cover = _user_cover(cover)
    prepared = prepare(protocols[0] if protocols else None, session)
    rendered = bed.under(prepared.render(sample_rate))
    tags = functools.partial(
        file_tags,
        prepared,
        rendered,
        cover=user_cover,
        chapters=with_chapters,
        album=plan.program.title if plan is not None else None,
        music=bed.name,
    )
    with progress_bar(enabled=not quiet and target is not None) as progress:
        result = export_session(
            rendered,
            target,
            fmt=fmt,
            force=force,
            subtitles=subtitles,
            timeline_json=json.dumps(prepared.to_json(), indent=1) if timeline else None,
            progress=progress,
            tags=tags,
        )
    if target is not None and not quiet:
        written = ", ".join(str(path) for path in result.written)
        length = clock(prepared.timeline.duration_s)
        typer.echo(_("Wrote {files} ({length})").format(files=written, length=length), err=True)


def _user_cover(path: Path | None) -> Cover | None:
    """The user's ``--cover``, read and checked; the cover module (and Pillow) only for
    one given."""
    if path is None:
        return None
    from voice_coach.files.cover import read_cover

    return read_cover(path)


def file_tags(
    prepared: PreparedSession,
    rendered: RenderedSession,
    *,
    cover: Cover | None,
    chapters: bool,
    album: str | None = None,
    title: str | None = None,
    track: int = 1,
    tracks: int = 1,
    music: str | None = None,
) -> FileTags:
    """The tags of one exported session (the safety note as the comment)."""
    from voice_coach.files.tags import session_tags

    return session_tags(
        prepared.protocol,
        prepared.timeline,
        rendered.total_frames / rendered.sample_rate,
        comment=prepared.protocol.safety,
        album=album,
        title=title,
        track=track,
        tracks=tracks,
        cover=cover,
        chapters=chapters,
        music=music,
    )


@dataclass(frozen=True)
class MusicChoice:
    """``--music`` and ``--music-db``: a bed under each exported session, or none."""

    path: Path | None = None
    music_db: float = DEFAULT_MUSIC_DB

    @staticmethod
    def of(path: Path | None, music_db: float) -> MusicChoice:
        if not (math.isfinite(music_db) and MIN_MUSIC_DB <= music_db <= MAX_MUSIC_DB):
            raise UsageError(
                _("--music-db {value} must be from {low} to {high}").format(
                    value=f"{music_db:g}", low=f"{MIN_MUSIC_DB:g}", high=f"{MAX_MUSIC_DB:g}"
                )
            )
        if path is not None and not path.is_file():
            raise UsageError(_("--music {file}: no such file").format(file=path))
        return MusicChoice(path, music_db)

    @property
    def name(self) -> str | None:
        return self.path.name if self.path is not None else None

    def under(self, rendered: RenderedSession) -> RenderedSession:
        """The session with the bed under it (the session itself without one); a bed that
        keeps the mix short of its loudness target says so once."""
        if self.path is None:
            return rendered
        from voice_coach.audio.music import MixedSession, measure_bed

        levels = measure_bed(rendered, self.path, self.music_db)
        if levels.short_of_target:
            note(
                _("--music: the mix reaches {reached} LUFS of the {target} asked").format(
                    reached=decimal(levels.expected_lufs), target=f"{levels.target_lufs:g}"
                )
            )
        return MixedSession.of(rendered, levels)


@dataclass(frozen=True)
class AlbumChoices:
    """What ``export --album`` was asked for, beside the sessions themselves."""

    folder: Path
    title: str
    base_url: str | None
    fmt: str | None
    sample_rate: int
    cover: Path | None
    chapters: bool
    force: bool
    quiet: bool
    music: MusicChoice = MusicChoice()


def export_album(sources: list[AlbumSource], choices: AlbumChoices) -> None:
    """``export --album``: every session checked and timed before the folder is begun."""
    from voice_coach.files.album import (
        AlbumTrack,
        check_album_target,
        check_base_url,
        file_stem,
        write_album,
    )
    from voice_coach.files.export import resolve_format

    folder = choices.folder
    name = resolve_format(None, choices.fmt or "mp3")
    url = check_base_url(choices.base_url) if choices.base_url is not None else None
    check_album_target(folder, choices.force)
    user_cover = _user_cover(choices.cover)
    tracks = []
    for source in sources:
        prepared = prepare(source.protocol, source.options)
        rendered = choices.music.under(prepared.render(choices.sample_rate))
        tags = functools.partial(
            file_tags, prepared, rendered, chapters=choices.chapters, music=choices.music.name
        )
        protocol = prepared.protocol
        heading = source.title or protocol.title
        tags = functools.partial(tags, title=heading)
        stem = file_stem(source.stem or protocol.name)
        tracks.append(
            AlbumTrack(stem, heading, protocol.description, protocol.language, rendered, tags)
        )
    result = write_album(folder, tracks, title=choices.title, fmt=name, force=choices.force,
                         cover=user_cover, base_url=url)  # fmt: skip
    if not choices.quiet:
        typer.echo(
            _("Wrote {folder}: {sessions} ({length})").format(
                folder=folder,
                sessions=sessions_words(len(result.files)),
                length=clock(result.duration_s),
            ),
            err=True,
        )


def on_off(option: str, value: str) -> bool:
    """An ``on``/``off`` option's value, or a one-line error naming the option."""
    if value not in ("on", "off"):
        raise UsageError(
            _("{option} {value!r} must be on or off").format(option=option, value=value)
        )
    return value == "on"


@contextlib.contextmanager
def progress_bar(enabled: bool) -> Iterator[Callable[[int, int], None] | None]:
    """A rich progress bar on a terminal for exports longer than a moment."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TimeRemainingColumn

    console = Console(stderr=True)
    with Progress(
        _("Exporting"), BarColumn(), TimeRemainingColumn(), transient=True, console=console
    ) as bar:
        task = bar.add_task("export", total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update
