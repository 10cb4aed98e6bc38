"""The spoken words with their times, as SRT or WebVTT, so a player shows them.

Pure: a timeline in, text out. Each subtitle appears when its words start and stays
while they are spoken (at least long enough to read), never past the next one.
"""

from __future__ import annotations

from voice_coach.timeline import Timeline

MIN_ON_SCREEN_S = 0.8


def _entries(timeline: Timeline) -> list[tuple[float, float, str]]:
    spoken = [cue for cue in timeline.cues if cue.kind == "say" and cue.text]
    entries = []
    for index, cue in enumerate(spoken):
        end = cue.at_s + max(cue.duration_s, MIN_ON_SCREEN_S)
        if index + 1 < len(spoken):
            end = min(end, spoken[index + 1].at_s)
        end = min(max(end, cue.at_s + 0.001), timeline.duration_s)
        entries.append((cue.at_s, end, " ".join((cue.text or "").split())))
    return entries


def _stamp(seconds: float, separator: str) -> str:
    millis = round(seconds * 1000)
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
        f"{_stamp(start, '.')} --> {_stamp(end, '.')}\n{text}\n"
        for start, end, text in _entries(timeline)
    ]
    return "WEBVTT\n\n" + "\n".join(blocks)


def subtitles(timeline: Timeline, kind: str) -> str:
    """``srt`` or ``vtt``."""
    return to_srt(timeline) if kind == "srt" else to_vtt(timeline)
