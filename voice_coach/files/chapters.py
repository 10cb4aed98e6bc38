"""A session's chapters, as a phone's podcast or music app shows them: "Rep 3 of 10".

Pure: a timeline and the chapter words of its language in, chapters out. Each chapter
starts at the ``at_s`` of its first cue, so skipping to "Rep 3" lands on the squeeze tone
of rep 3, and ends where the next begins (the last one at the end of the file).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from voice_coach.core.protocol import fill
from voice_coach.core.timeline import Cue, Timeline

# With more reps than this in all, one chapter per set: a list of 100 chapters is one a
# thumb cannot scroll through while squeezing.
MAX_REP_CHAPTERS = 30


@dataclass(frozen=True)
class Chapter:
    title: str
    start_s: float
    end_s: float


def session_chapters(
    timeline: Timeline, words: Mapping[str, str], end_s: float | None = None
) -> tuple[Chapter, ...]:
    """ "Start", one chapter per rep (or per set past ``MAX_REP_CHAPTERS`` reps), "Rest"
    for each rest, and "End"; ``words`` holds the titles of the session's language
    (``start``, ``rep``, ``set_rep``, ``set``, ``rest``, ``end``). A set's opening words
    ("Set 2 of 3") open its first rep's chapter. ``end_s`` is where the file ends (the
    timeline's end when not given)."""
    per_rep = timeline.reps * timeline.sets <= MAX_REP_CHAPTERS
    starts: dict[tuple[object, ...], float] = {}  # in the order first heard
    for cue in timeline.cues:
        key = _chapter_of(cue, per_rep)
        starts.setdefault(key, cue.at_s)
    keys = list(starts)
    last = timeline.duration_s if end_s is None else end_s
    chapters = []
    for index, key in enumerate(keys):
        end = starts[keys[index + 1]] if index + 1 < len(keys) else max(last, starts[key])
        chapters.append(Chapter(_title(key, timeline, words), starts[key], end))
    return tuple(chapters)


def _chapter_of(cue: Cue, per_rep: bool) -> tuple[object, ...]:
    """Which chapter a cue opens or belongs to, by why it is there (its role): a phase
    may be named anything, "rest" included, so its name decides nothing."""
    if cue.role == "start":
        return ("start",)
    if cue.role in ("rest", "countdown"):
        return ("rest", cue.set)
    if cue.role == "end":
        return ("end",)
    rep = 1 if cue.role == "set" else cue.rep
    return ("rep", cue.set, rep) if per_rep else ("set", cue.set)


def _title(key: tuple[object, ...], timeline: Timeline, words: Mapping[str, str]) -> str:
    kind = key[0]
    counts = {"reps": timeline.reps, "sets": timeline.sets}
    if kind == "rep":
        template = words["set_rep"] if timeline.sets > 1 else words["rep"]
        return fill(template, set=key[1], rep=key[2], **counts)
    if kind == "set":
        return fill(words["set"], set=key[1], **counts)
    return words[str(kind)]
