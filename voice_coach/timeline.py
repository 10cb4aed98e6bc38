"""A protocol and a pace in, an ordered list of timed cues out.

Pure: no clock, no engine, no files. Speech and tone lengths are an input, so the same
function serves ``script`` (printed), ``export`` (rendered to a file) and ``run`` (played
live), and the time of every cue is decided here once and never by ``sleep()``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from voice_coach.protocol import Protocol, fill

CueKind = Literal["say", "tone"]


@dataclass(frozen=True)
class Cue:
    """One thing heard: words (``say``) or a tone, starting exactly at ``at_s``.

    ``role`` says why it is there (``start``, ``set``, ``phase``, ``count``, ``halfway``,
    ``last_rep``, ``rest``, ``countdown``, ``end``), so subtitles and displays can treat
    an instruction differently from a count.
    """

    at_s: float
    kind: CueKind
    text: str | None
    tone: str | None
    phase: str
    rep: int | None
    set: int | None
    role: str
    duration_s: float


@dataclass(frozen=True)
class Span:
    """A stretch of the session the user is in: the lead-in, one phase of one rep, a rest
    or the end. Live playback resumes a pause at the start of a span and skips by them."""

    start_s: float
    end_s: float
    kind: Literal["lead-in", "set", "phase", "rest", "end"]
    phase: str
    rep: int | None
    set: int | None


@dataclass(frozen=True)
class Timeline:
    protocol: str
    cues: tuple[Cue, ...]
    spans: tuple[Span, ...]
    duration_s: float
    reps: int
    sets: int


CueStyle = Literal["voice", "tones", "both"]
CUE_STYLES: tuple[CueStyle, ...] = ("voice", "tones", "both")
REMARK_GAP_S = 0.3
END_PAD_S = 1.0


@dataclass(frozen=True)
class Overlap:
    """A phrase that cannot finish before the next cue starts."""

    cue: Cue
    next_cue: Cue
    needs_s: float
    has_s: float


def build_timeline(
    protocol: Protocol,
    speech_s: Mapping[str, float] | None = None,
    tone_s: Mapping[str, float] | None = None,
    style: CueStyle = "both",
) -> Timeline:
    """Every cue of the session at its exact time.

    ``speech_s`` and ``tone_s`` give the length of each phrase and tone (missing ones
    count as 0): they decide where chained words go (the word right after its tone, a
    remark right after a phase's words) and how long the end lasts.
    """
    lengths = _Lengths(speech_s or {}, tone_s or {})
    builder = _Builder(protocol, lengths, style)
    return builder.build()


def session_sounds(protocol: Protocol, style: CueStyle = "both") -> tuple[list[str], list[str]]:
    """The distinct phrases and tones a session will play, each in the order first heard:
    what must be spoken or loaded before the session can be timed (one draft timing)."""
    cues = build_timeline(protocol, style=style).cues
    texts = list(dict.fromkeys(cue.text for cue in cues if cue.text is not None))
    tones = list(dict.fromkeys(cue.tone for cue in cues if cue.tone is not None))
    return texts, tones


def session_texts(protocol: Protocol, style: CueStyle = "both") -> list[str]:
    return session_sounds(protocol, style)[0]


def session_tones(protocol: Protocol, style: CueStyle = "both") -> list[str]:
    return session_sounds(protocol, style)[1]


def find_overlaps(timeline: Timeline) -> list[Overlap]:
    """Phrases that would still be sounding when the next cue starts."""
    overlaps = []
    cues = timeline.cues
    for cue, next_cue in itertools.pairwise(cues):
        if cue.kind != "say":
            continue
        has_s = next_cue.at_s - cue.at_s
        if cue.duration_s > has_s + 1e-9:
            overlaps.append(Overlap(cue, next_cue, cue.duration_s, has_s))
    return overlaps


def timeline_to_json(timeline: Timeline) -> dict[str, object]:
    """The machine-readable timeline: the contract of ``script --json`` and ``--timeline``.

    ``protocol``, ``duration_s`` and each cue's ``at_s``, ``kind``, ``text``, ``phase``,
    ``rep`` and ``set`` must stay; more fields may be added.
    """
    return {
        "protocol": timeline.protocol,
        "duration_s": round(timeline.duration_s, 6),
        "reps": timeline.reps,
        "sets": timeline.sets,
        "cues": [
            {
                "at_s": round(cue.at_s, 6),
                "kind": cue.kind,
                "text": cue.text,
                "phase": cue.phase,
                "rep": cue.rep,
                "set": cue.set,
                "tone": cue.tone,
                "role": cue.role,
                "duration_s": round(cue.duration_s, 6),
            }
            for cue in timeline.cues
        ],
    }


@dataclass(frozen=True)
class _Lengths:
    speech_s: Mapping[str, float]
    tone_s: Mapping[str, float]

    def of(self, kind: CueKind, key: str) -> float:
        table = self.speech_s if kind == "say" else self.tone_s
        return float(table.get(key, 0.0))


class _Builder:
    """Walks the session once, appending cues and spans; used only by build_timeline."""

    def __init__(self, protocol: Protocol, lengths: _Lengths, style: CueStyle) -> None:
        self.p = protocol
        self.lengths = lengths
        self.style = style
        self.cues: list[Cue] = []
        self.spans: list[Span] = []

    def build(self) -> Timeline:
        p = self.p
        t = 0.0
        if p.lead_in_s > 0 or p.cues.start:
            lead_in = max(
                p.lead_in_s,
                self._beat(0.0, "start", self._fill(p.cues.start), "start", role="start"),
            )
            self.spans.append(Span(0.0, lead_in, "lead-in", "lead-in", None, None))
            t = lead_in
        for set_no in range(1, p.sets + 1):
            if p.sets > 1:
                self._beat(t, "set_start", self._fill(p.cues.set_start, set_no), "set",
                           role="set", set_no=set_no)  # fmt: skip
                self.spans.append(Span(t, t + p.set_intro_s, "set", "set", None, set_no))
                t += p.set_intro_s
            for rep in range(1, p.reps + 1):
                t = self._rep(t, rep, set_no)
            if set_no < p.sets and p.rest_s > 0:
                t = self._rest(t, set_no)
        end_len = self._beat(t, "end", self._fill(p.cues.end), "end", role="end")
        end = t + end_len + END_PAD_S
        self.spans.append(Span(t, end, "end", "end", None, None))
        self.cues.sort(key=lambda cue: cue.at_s)
        return Timeline(p.name, tuple(self.cues), tuple(self.spans), end, p.reps, p.sets)

    def _rep(self, t: float, rep: int, set_no: int) -> float:
        p = self.p
        for index, phase in enumerate(p.phases):
            say = self._fill(phase.say, set_no, rep)
            spoken_end = self._beat(
                t, phase.tone, say, phase.name, role="phase", rep=rep, set_no=set_no
            )
            if phase.count and self.style != "tones":
                self._count(t, phase.seconds, phase.count, phase.name, rep, set_no)
            if index == len(p.phases) - 1 and self.style != "tones":
                remark = self._remark(rep, set_no)
                if remark:
                    text, role = remark
                    self._say(t + spoken_end + REMARK_GAP_S, text, phase.name, role, rep, set_no)
            self.spans.append(Span(t, t + phase.seconds, "phase", phase.name, rep, set_no))
            t += phase.seconds
        return t

    def _remark(self, rep: int, set_no: int) -> tuple[str, str] | None:
        """Halfway after the middle rep, "last one" before the last rep."""
        p = self.p
        if p.cues.last_rep and p.reps >= 2 and rep == p.reps - 1:
            return self._fill(p.cues.last_rep, set_no), "last_rep"
        if p.cues.halfway and p.reps >= 4 and rep == p.reps // 2:
            return self._fill(p.cues.halfway, set_no, rep), "halfway"
        return None

    def _rest(self, t: float, set_no: int) -> float:
        p = self.p
        rest_text = self._fill(p.cues.rest, set_no)
        self._beat(t, "set_end", rest_text, "rest", role="rest", set_no=set_no)
        self.spans.append(Span(t, t + p.rest_s, "rest", "rest", None, set_no))
        if self.style != "tones":
            countdown = min(p.cues.rest_countdown, int(p.rest_s) - 1, len(p.numbers))
            for k in range(countdown, 0, -1):
                self._say(t + p.rest_s - k, p.numbers[k - 1], "rest", "countdown", None, set_no)
        return t + p.rest_s

    def _count(
        self, t: float, seconds: float, style: str, phase: str, rep: int, set_no: int
    ) -> None:
        """A number each whole second inside the phase, leaving its last half second quiet."""
        total = math.ceil(seconds - 0.5)
        for k in range(1, total):
            number = k + 1 if style == "up" else total - k
            if 1 <= number <= len(self.p.numbers):
                self._say(t + k, self.p.numbers[number - 1], phase, "count", rep, set_no)

    def _beat(
        self,
        t: float,
        tone: str | None,
        text: str | None,
        phase: str,
        *,
        role: str,
        rep: int | None = None,
        set_no: int | None = None,
    ) -> float:
        """A tone on the beat and the words right after it (or alone, by style).

        Returns how long the beat sounds, so callers can chain a remark after it.
        """
        offset = 0.0
        if tone and self.style != "voice":
            length = self.lengths.of("tone", tone)
            self.cues.append(Cue(t, "tone", None, tone, phase, rep, set_no, role, length))
            offset = length
        if text and self.style != "tones":
            offset += self._say(t + offset, text, phase, role, rep, set_no)
        return offset

    def _say(
        self, t: float, text: str, phase: str, role: str, rep: int | None, set_no: int | None
    ) -> float:
        length = self.lengths.of("say", text)
        self.cues.append(Cue(t, "say", text, None, phase, rep, set_no, role, length))
        return length

    def _fill(
        self, text: str | None, set_no: int | None = None, rep: int | None = None
    ) -> str | None:
        p = self.p
        if not text:
            return None
        return fill(
            text, reps=p.reps, sets=p.sets, set=set_no or "", rep=rep or "", rest=round(p.rest_s)
        )


def unspoken_counts(protocol: Protocol, style: CueStyle = "both") -> str | None:
    """A note when counts the protocol asks for go unsaid for want of count words (past
    the last one shipped, twenty, or none in the language), so a quiet phase is known to
    be meant, not a fault. Counts follow ``_Builder._count`` and ``_rest``."""
    if style == "tones":
        return None
    needs = {
        f"phase {phase.name!r}": math.ceil(phase.seconds - 0.5) - (phase.count == "down")
        for phase in protocol.phases
        if phase.count
    }
    if protocol.sets > 1 and protocol.rest_s > 0:
        needs["the rest's countdown"] = min(protocol.cues.rest_countdown, int(protocol.rest_s) - 1)
    have = len(protocol.numbers)
    short = {what: n for what, n in needs.items() if n > have}
    if not short:
        return None
    fix = "(a protocol may bring its own: numbers = [...])"
    if not have:
        return f"no count words in {protocol.language!r}: {' and '.join(short)} not counted {fix}"
    counts = ", ".join(f"{what} counts to {n}" for what, n in short.items())
    return (
        f"count words in {protocol.language!r} go only to {have}: {counts}; "
        f"the counts above {have} are not said {fix}"
    )


def span_at(timeline: Timeline, at_s: float) -> Span:
    """The span the session is in at ``at_s`` (the last one past the end)."""
    for span in timeline.spans:
        if span.start_s <= at_s < span.end_s:
            return span
    return timeline.spans[-1] if at_s >= 0 or not timeline.spans else timeline.spans[0]


def skip_target_s(timeline: Timeline, at_s: float) -> float:
    """Where ``n`` (skip) goes: the start of the next rest, set or the end."""
    for span in timeline.spans:
        if span.start_s > at_s and span.kind in ("rest", "set", "end"):
            return span.start_s
    return timeline.spans[-1].start_s if timeline.spans else at_s


def end_start_s(timeline: Timeline) -> float:
    """Where ``q`` (quit) goes: the end cue, so a quit still ends kindly."""
    ends = [span.start_s for span in timeline.spans if span.kind == "end"]
    return ends[-1] if ends else timeline.duration_s
