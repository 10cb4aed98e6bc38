"""A folder of sessions for a phone: one tagged file each, the cover, a playlist, a feed.

The album is built whole in a hidden temporary folder beside its target and moved into
place only when complete. An existing album is replaced only with ``force``, and the same
way: the old folder is moved aside, the new one moved in, and only then is the old one
deleted, so a failure at any point before leaves the folder exactly as it was. (Between
the two moves a crash leaves the old album under ``.NAME.old-*``, beside it: whole.)
"""

from __future__ import annotations

import datetime
import glob
import os
import re
import shutil
import tempfile
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from voice_coach.core.render import RenderedSession
from voice_coach.errors import ExportError, UsageError, os_reason
from voice_coach.files.cover import Cover, draw_cover
from voice_coach.files.durable import fsync_folder
from voice_coach.files.export import current_umask, export_session
from voice_coach.files.leftovers import remove_stale
from voice_coach.files.tags import ARTIST, FileTags
from voice_coach.i18n import N_, _, in_language

PLAYLIST_NAME = "playlist.m3u8"
FEED_NAME = "feed.xml"
MIME_TYPES = {"mp3": "audio/mpeg", "ogg": "audio/ogg", "flac": "audio/flac", "wav": "audio/wav"}
COVER_NAMES = {"image/png": "cover.png", "image/jpeg": "cover.jpg"}


@dataclass(frozen=True)
class AlbumTrack:
    """One file of the album: ``name`` is its file name without the extension."""

    name: str
    title: str
    description: str
    language: str
    session: RenderedSession
    tags: Callable[..., FileTags]  # given album=, track=, tracks= and cover=


@dataclass(frozen=True)
class AlbumResult:
    folder: Path
    files: tuple[Path, ...]
    duration_s: float


def check_album_target(folder: Path, force: bool) -> None:
    """Refuse, before anything is rendered, an album that could not be put in place."""
    if "\0" in str(folder):
        raise UsageError(
            _("{folder}: a folder name cannot contain a NUL character").format(folder=folder)
        )
    if folder.exists() and not folder.is_dir():
        raise UsageError(
            _("--album {folder}: is a file, not a folder").format(folder=folder),
            _("give a folder name"),
        )
    if folder.exists() and not force:
        raise UsageError(
            _("--album {folder}: already exists; add --force to replace it").format(folder=folder)
        )
    parent = folder.absolute().parent
    if not parent.is_dir():
        raise ExportError(
            _("--album {folder}: the folder {parent} does not exist").format(
                folder=folder, parent=parent
            )
        )


def check_base_url(url: str) -> str:
    """An http(s) address the folder will be served at, ending in ``/``."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c in url for c in " \n"):
        raise UsageError(
            _("--base-url {url!r} is not an http or https address").format(url=url),
            _("give where the folder will be served, such as https://example.org/squeeze/"),
        )
    return url if url.endswith("/") else url + "/"


def file_stem(name: str) -> str:
    """A protocol's name as a file name that every phone's file system takes."""
    return re.sub(r"[^\w.-]+", "-", name).strip(".-") or "session"


def check_track_names(names: Sequence[str]) -> None:
    seen = set()
    for name in names:
        if name in seen:
            raise UsageError(
                _("{name!r} is in the album twice").format(name=name), _("name each session once")
            )
        seen.add(name)


def write_album(
    folder: Path,
    tracks: Sequence[AlbumTrack],
    *,
    title: str,
    fmt: str,
    force: bool = False,
    cover: Cover | None = None,
    base_url: str | None = None,
) -> AlbumResult:
    """Write every track as ``NAME.FMT`` with its tags, the cover, ``playlist.m3u8`` and,
    with ``base_url``, ``feed.xml``, into ``folder`` as one step (see the module's note)."""
    check_album_target(folder, force)
    check_track_names([track.name for track in tracks])
    parent = folder.absolute().parent
    remove_stale(parent, f".{glob.escape(folder.name)}.*.part")
    remove_stale(parent, f".{glob.escape(folder.name)}.old-*")
    art = cover if cover is not None else draw_cover(title)
    building = Path(tempfile.mkdtemp(dir=parent, prefix=f".{folder.name}.", suffix=".part"))
    try:
        building.chmod(0o777 & ~current_umask())
        files = []
        for number, track in enumerate(tracks, start=1):
            path = building / f"{track.name}.{fmt}"
            tagged = track.tags(album=title, track=number, tracks=len(tracks), cover=art)
            export_session(track.session, path, fmt=fmt, tags=lambda tagged=tagged: tagged)
            files.append(path)
        cover_name = COVER_NAMES[art.mime]
        _write_file(building / cover_name, art.data)
        _write_file(building / PLAYLIST_NAME, playlist(tracks, fmt).encode("utf-8"))
        if base_url is not None:
            feed = podcast_feed(tracks, fmt, building, title=title, base_url=base_url,
                                cover_name=cover_name)  # fmt: skip
            _write_file(building / FEED_NAME, feed)
        fsync_folder(building)
        _move_into_place(building, folder)
    except OSError as exc:
        raise ExportError(
            _("--album {folder}: could not be written ({os_reason})").format(
                folder=folder, os_reason=os_reason(exc)
            )
        ) from None
    finally:
        if building.exists():
            shutil.rmtree(building, ignore_errors=True)
    total = sum(track.session.total_frames / track.session.sample_rate for track in tracks)
    return AlbumResult(folder, tuple(folder / path.name for path in files), total)


def playlist(tracks: Sequence[AlbumTrack], fmt: str) -> str:
    """An extended M3U in UTF-8: relative paths, each with its length and title."""
    lines = ["#EXTM3U"]
    for track in tracks:
        seconds = round(track.session.total_frames / track.session.sample_rate)
        lines += [f"#EXTINF:{seconds},{_one_line(track.title)}", f"{track.name}.{fmt}"]
    return "\n".join(lines) + "\n"


def podcast_feed(
    tracks: Sequence[AlbumTrack],
    fmt: str,
    folder: Path,
    *,
    title: str,
    base_url: str,
    cover_name: str,
) -> bytes:
    """An RSS 2.0 podcast feed with the iTunes tags, made by feedgen: each file an episode
    with an absolute enclosure URL, its size in bytes, its type and its duration. Track 1
    is the newest (a minute apart), so apps that list newest first list them in order."""
    from feedgen.feed import FeedGenerator

    feed = FeedGenerator()
    feed.load_extension("podcast")
    cover_url = urllib.parse.urljoin(base_url, cover_name)
    feed.title(title)
    feed.link(href=base_url, rel="alternate")
    language = tracks[0].language if tracks else "en"
    described = in_language(language, N_("{title}: exercise sessions spoken by {artist}."))
    feed.description(described.format(title=title, artist=ARTIST))
    feed.language(language)
    feed.image(url=cover_url, title=title, link=base_url)
    feed.podcast.itunes_image(cover_url)
    feed.podcast.itunes_author(ARTIST)
    feed.podcast.itunes_category("Health & Fitness")
    feed.podcast.itunes_explicit("no")
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    for number, track in enumerate(tracks, start=1):
        name = f"{track.name}.{fmt}"
        url = urllib.parse.urljoin(base_url, urllib.parse.quote(name))
        entry = feed.add_entry(order="append")
        entry.id(url)
        entry.title(track.title)
        entry.description(track.description)
        entry.enclosure(url, str((folder / name).stat().st_size), MIME_TYPES[fmt])
        entry.published(now - datetime.timedelta(minutes=number - 1))
        entry.podcast.itunes_duration(round(track.session.total_frames / track.session.sample_rate))
        entry.podcast.itunes_order(number)
    return feed.rss_str(pretty=True)


def _move_into_place(building: Path, folder: Path) -> None:
    """The new album under ``folder``: moved in; an old one moved aside first and deleted
    only once the new one is in place (put back if the move in fails)."""
    if not folder.exists():
        building.rename(folder)
        fsync_folder(folder.absolute().parent)
        return
    aside = Path(tempfile.mkdtemp(dir=folder.absolute().parent, prefix=f".{folder.name}.old-"))
    aside.rmdir()  # the name only: rename will not replace a folder that holds nothing
    folder.rename(aside)
    try:
        building.rename(folder)
    except OSError:
        aside.rename(folder)
        raise
    fsync_folder(folder.absolute().parent)
    shutil.rmtree(aside, ignore_errors=True)


def _write_file(path: Path, data: bytes) -> None:
    with path.open("wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())


def _one_line(text: str) -> str:
    return " ".join(text.split())
