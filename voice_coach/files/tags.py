"""What a phone shows about an exported session: title, album, cover, chapters, the note.

MP3 gets ID3v2.4 (chapters as CHAP frames under a CTOC table of contents); OGG Vorbis
and FLAC get Vorbis comments, an embedded picture and ``CHAPTERnnn`` comments, the form
players of those formats read. WAV stays untagged: phone players ignore its tags. The
tags are written into the export's temporary file, before it is synced and moved into
place, so the file under the user's name is whole, tags and all, or absent. mutagen is
imported only here, and only when a file is tagged.
"""

from __future__ import annotations

import base64
import datetime
from dataclasses import dataclass
from pathlib import Path

from voice_coach.core.protocol import Protocol
from voice_coach.core.timeline import Timeline
from voice_coach.files.chapters import Chapter, session_chapters
from voice_coach.files.cover import Cover, draw_cover
from voice_coach.files.loader import builtin_chapter_words

ARTIST = "voice-coach"


@dataclass(frozen=True)
class FileTags:
    """Everything written into one file's tags. ``comment`` carries the safety note."""

    title: str
    album: str
    track: int
    tracks: int
    year: int
    language: str
    comment: str
    cover: Cover | None = None
    chapters: tuple[Chapter, ...] = ()
    music: str | None = None  # the music bed's file name (export --music)


def session_tags(
    protocol: Protocol,
    timeline: Timeline,
    end_s: float,
    *,
    comment: str,
    album: str | None = None,
    track: int = 1,
    tracks: int = 1,
    cover: Cover | None = None,
    chapters: bool = True,
    title: str | None = None,
    music: str | None = None,
) -> FileTags:
    """The tags of one session's file: the album is the protocol's title unless an album
    or program names it; the cover is drawn from the title unless the user gave one; the
    chapter titles are in the session's language; ``end_s`` is where the file ends; the
    title is the protocol's unless given (a program's stage)."""
    marks = ()
    if chapters:
        words = builtin_chapter_words(protocol.language)
        marks = session_chapters(timeline, words, end_s)
    return FileTags(
        title=title or protocol.title,
        album=album or protocol.title,
        track=track,
        tracks=tracks,
        year=datetime.date.today().year,
        language=protocol.language,
        comment=comment,
        cover=cover if cover is not None else draw_cover(protocol.title),
        chapters=marks,
        music=music,
    )


def write_tags(path: Path, fmt: str, tags: FileTags) -> None:
    """Tag the audio file at ``path`` (written as ``fmt``); other formats are left alone.

    mutagen reports a failed read or write as its own error around the ``OSError``; the
    ``OSError`` is raised again, so a full disk reads as one.
    """
    from mutagen import MutagenError

    try:
        if fmt == "mp3":
            _write_id3(path, tags)
        elif fmt in ("ogg", "flac"):
            _write_vorbis(path, fmt, tags)
    except MutagenError as exc:
        cause = exc.args[0] if exc.args else None
        if isinstance(cause, OSError):
            raise cause from None
        raise OSError(f"the tags could not be written: {exc}") from None


def _write_id3(path: Path, tags: FileTags) -> None:
    from mutagen.id3 import (
        APIC,
        CHAP,
        COMM,
        CTOC,
        ID3,
        TALB,
        TDRC,
        TIT2,
        TLAN,
        TPE1,
        TRCK,
        TXXX,
        CTOCFlags,
        PictureType,
    )

    id3 = ID3()
    id3.add(TIT2(encoding=3, text=tags.title))
    id3.add(TPE1(encoding=3, text=ARTIST))
    id3.add(TALB(encoding=3, text=tags.album))
    id3.add(TRCK(encoding=3, text=f"{tags.track}/{tags.tracks}"))
    id3.add(TDRC(encoding=3, text=str(tags.year)))
    id3.add(TLAN(encoding=3, text=tags.language))
    id3.add(COMM(encoding=3, lang="XXX", desc="", text=tags.comment))
    if tags.music:
        id3.add(TXXX(encoding=3, desc="MUSIC", text=tags.music))
    if tags.cover is not None:
        id3.add(
            APIC(
                encoding=3,
                mime=tags.cover.mime,
                type=PictureType.COVER_FRONT,
                desc="Cover",
                data=tags.cover.data,
            )
        )
    if tags.chapters:
        ids = [f"chp{index:03d}" for index in range(len(tags.chapters))]  # sorted as heard
        id3.add(
            CTOC(
                element_id="toc",
                flags=CTOCFlags.TOP_LEVEL | CTOCFlags.ORDERED,
                child_element_ids=ids,
                sub_frames=[TIT2(encoding=3, text=tags.title)],
            )
        )
        for element_id, chapter in zip(ids, tags.chapters, strict=True):
            id3.add(
                CHAP(
                    element_id=element_id,
                    start_time=_ms(chapter.start_s),
                    end_time=_ms(chapter.end_s),
                    sub_frames=[TIT2(encoding=3, text=chapter.title)],
                )
            )
    id3.save(path, v2_version=4)


def _write_vorbis(path: Path, fmt: str, tags: FileTags) -> None:
    from mutagen.flac import FLAC, Picture
    from mutagen.oggvorbis import OggVorbis

    audio = FLAC(path) if fmt == "flac" else OggVorbis(path)
    if audio.tags is None:
        audio.add_tags()
    comments = {
        "TITLE": tags.title,
        "ARTIST": ARTIST,
        "ALBUM": tags.album,
        "TRACKNUMBER": str(tags.track),
        "TRACKTOTAL": str(tags.tracks),
        "DATE": str(tags.year),
        "LANGUAGE": tags.language,
        "COMMENT": tags.comment,
    }
    if tags.music:
        comments["MUSIC"] = tags.music
    for number, chapter in enumerate(tags.chapters, start=1):
        comments[f"CHAPTER{number:03d}"] = _clock(chapter.start_s)
        comments[f"CHAPTER{number:03d}NAME"] = chapter.title
    for key, value in comments.items():
        audio[key] = value
    if tags.cover is not None:
        picture = Picture()
        picture.type = 3  # front cover
        picture.mime = tags.cover.mime
        picture.desc = "Cover"
        picture.width = tags.cover.width
        picture.height = tags.cover.height
        picture.depth = 24
        picture.data = tags.cover.data
        if isinstance(audio, FLAC):
            audio.add_picture(picture)
        else:  # Vorbis in Ogg carries the FLAC picture block as a comment
            audio["METADATA_BLOCK_PICTURE"] = base64.b64encode(picture.write()).decode("ascii")
    audio.save()


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def _clock(seconds: float) -> str:
    """``HH:MM:SS.mmm``, the time form of Vorbis chapter comments."""
    total_ms = _ms(seconds)
    hours, rest = divmod(total_ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours:02d}:{minutes:02d}:{rest // 1000:02d}.{rest % 1000:03d}"
