"""The spoken words with their times, as SRT or WebVTT, so a player shows them.

Pure: a timeline in, text out. Each subtitle appears when its words are heard (the cue's
``beat_s``, not its first sample: a count shows on its beat) and stays while they are
spoken (at least long enough to read), never past the next one.
"""

from __future__ import annotations

from voice_coach.core.timeline import Timeline

MIN_ON_SCREEN_S = 0.8
SUBTITLE_KINDS = ("srt", "vtt")


def _entries(timeline: Timeline) -> list[tuple[int, int, str]]:
    """(start ms, end ms, one line of text) per subtitle, in time order.

    Worked in whole milliseconds, the unit both formats write, so "never past the next
    subtitle" holds for the written stamps and not only before rounding. Words that
    are heard in the same millisecond share one subtitle.
    """
    groups: list[tuple[int, int, str]] = []
    for cue in sorted(timeline.cues, key=lambda c: c.beat_s):
        if cue.kind != "say" or not cue.text or not cue.text.strip():
            continue
        start = round(cue.beat_s * 1000)
        shown = round(max(cue.at_s + cue.duration_s, cue.beat_s + MIN_ON_SCREEN_S) * 1000)
        text = " ".join(cue.text.split())
        if groups and groups[-1][0] == start:
            _, earlier, words = groups.pop()
            shown, text = max(shown, earlier), f"{words} {text}"
        groups.append((start, shown, text))
    session_end = round(timeline.duration_s * 1000)
    entries = []
    for index, (start, shown, text) in enumerate(groups):
        end = min(shown, session_end)
        if index + 1 < len(groups):
            end = min(end, groups[index + 1][0])
        entries.append((start, max(end, start + 1), text))
    return entries


def _stamp(millis: int, separator: str) -> str:
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def to_srt(timeline: Timeline) -> str:
    blocks = [
        f"{number}\n{_stamp(start, ',')} --> {_stamp(end, ',')}\n{text}\n"
        for number, (start, end, text) in enumerate(_entries(timeline), start=1)
    ]
    return "\n".join(blocks)


def to_vtt(timeline: Timeline) -> str:
    blocks = [
        f"{_stamp(start, '.')} --> {_stamp(end, '.')}\n{_vtt_escape(text)}\n"
        for start, end, text in _entries(timeline)
    ]
    return "WEBVTT\n\n" + "\n".join(blocks)


def _vtt_escape(text: str) -> str:
    """WebVTT reads ``<`` as a tag and ``&`` as an entity, and ``-->`` would end a cue's
    text early; a protocol's words are plain text, so they are escaped to stay words."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def subtitles(timeline: Timeline, kind: str) -> str:
    """``srt`` or ``vtt`` (see ``SUBTITLE_KINDS``)."""
    if kind not in SUBTITLE_KINDS:
        raise ValueError(f"subtitle kind {kind!r} is not one of {SUBTITLE_KINDS}")
    return to_srt(timeline) if kind == "srt" else to_vtt(timeline)
