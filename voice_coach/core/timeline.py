"""A protocol and a pace in, an ordered list of timed cues out.

Pure: no clock, no engine, no files. Speech and tone lengths are an input, so the same
function serves ``script`` (printed), ``export`` (rendered to a file) and ``run`` (played
live), and the time of every cue is decided here once and never by ``sleep()``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Literal

from voice_coach.core.protocol import Protocol, fill
from voice_coach.i18n import _

CueKind = Literal["say", "tone"]
SpanKind = Literal["lead-in", "set", "phase", "rest", "end"]


@dataclass(frozen=True)
class Cue:
    """One thing heard: words (``say``) or a tone, its first sample exactly at ``at_s``.

    ``role`` says why it is there (``start``, ``set``, ``phase``, ``count``, ``halfway``,
    ``last_rep``, ``rest``, ``countdown``, ``end``), so subtitles and displays can treat
    an instruction differently from a count. ``onset_s`` is how far into its clip a word
    is heard (``voice_coach.audio.onset``); a tone is heard from its first sample.
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
    onset_s: float = 0.0

    @property
    def beat_s(self) -> float:
        """When the cue is heard: for a word on a beat, the beat itself."""
        return self.at_s + self.onset_s


@dataclass(frozen=True)
class Span:
    """A stretch of the session the user is in: the lead-in, one phase of one rep, a rest
    or the end. Live playback resumes a pause at the start of a span and skips by them,
    so a span starts where its first sound does: with a word pulled ahead of its beat,
    that is a little before the beat, and a seek to it does not clip the word."""

    start_s: float
    end_s: float
    kind: SpanKind
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
    onset_s: Mapping[str, float] | None = None,
) -> Timeline:
    """Every cue of the session at its exact time.

    ``speech_s`` and ``tone_s`` give the length of each phrase and tone (missing ones
    count as 0): they decide where chained words go (the word right after its tone, a
    remark right after a phase's words) and how long the end lasts. ``onset_s`` gives
    where each phrase is heard, from its first sample (missing: 0): a word that marks a
    beat alone (a count, a rest's countdown, a phase's words with no tone before them)
    starts that much before the beat, so it is heard on it.
    """
    lengths = _Lengths(speech_s or {}, tone_s or {}, onset_s or {})
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
    """Sounds that would still be sounding when the next cue starts, where a word is one
    of the two: a word running into the next tone or word, or a word pulled ahead of its
    beat into the sound before it. (Tones running into tones are the protocol's own
    choice and sound as tones.)"""
    overlaps = []
    cues = timeline.cues
    for cue, next_cue in itertools.pairwise(cues):
        if cue.kind != "say" and next_cue.kind != "say":
            continue
        has_s = next_cue.at_s - cue.at_s
        if cue.duration_s > has_s + 1e-9:
            overlaps.append(Overlap(cue, next_cue, cue.duration_s, has_s))
    return overlaps


ENCOURAGEMENTS = frozenset({"halfway", "last_rep", "set"})  # roles a session can do without


def without_crowded_encouragements(timeline: Timeline) -> tuple[Timeline, list[Cue]]:
    """The timeline with each encouragement ("Halfway there.", "Last one.", "Set 2 of
    3.") that overlaps a cue next to it left out, and the cues left out. Every other cue
    keeps its time: an encouragement fills a gap, it never moves what comes after it."""
    dropped: list[Cue] = []
    cues = list(timeline.cues)
    while True:
        crowded = None
        for overlap in find_overlaps(replace(timeline, cues=tuple(cues))):
            crowded = next(
                (
                    cue
                    for cue in (overlap.cue, overlap.next_cue)
                    if cue.kind == "say" and cue.role in ENCOURAGEMENTS
                ),
                None,
            )
            if crowded is not None:
                break
        if crowded is None:
            return replace(timeline, cues=tuple(cues)), dropped
        cues.remove(crowded)
        dropped.append(crowded)


def timeline_to_json(timeline: Timeline) -> dict[str, object]:
    """The machine-readable timeline: the contract of ``script --json`` and ``--timeline``.

    ``protocol``, ``duration_s`` and each cue's ``at_s`` (its first sample), ``beat_s``
    (when it is heard), ``kind``, ``text``, ``phase``, ``rep`` and ``set`` must stay;
    more fields may be added. Times are exact, not rounded: a reader finds a cue's first
    sample as ``round(at_s * rate)``, which a time rounded to the microsecond gets wrong
    by one where it falls near half a sample.
    """
    return {
        "protocol": timeline.protocol,
        "duration_s": round(timeline.duration_s, 6),
        "reps": timeline.reps,
        "sets": timeline.sets,
        "cues": [
            {
                "at_s": cue.at_s,
                "beat_s": cue.beat_s,
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
    onset_s: Mapping[str, float]

    def of(self, kind: CueKind, key: str) -> float:
        table = self.speech_s if kind == "say" else self.tone_s
        return float(table.get(key, 0.0))

    def onset(self, text: str) -> float:
        return float(self.onset_s.get(text, 0.0))


class _Builder:
    """Walks the session once, appending cues and spans; used only by build_timeline."""

    def __init__(self, protocol: Protocol, lengths: _Lengths, style: CueStyle) -> None:
        self.p = protocol
        self.lengths = lengths
        self.style = style
        self.cues: list[Cue] = []
        self.spans: list[Span] = []
        self.early: dict[float, float] = {}  # a beat -> where words pulled ahead of it start

    def build(self) -> Timeline:
        p = self.p
        t = 0.0
        start = self._fill(p.cues.start)
        # The opening words are no beat: they start the session, at 0. The first beat
        # after them may pull its words ahead of it, so the lead-in leaves room for that.
        start_end = self._beat(0.0, "start", start, "start", role="start", on_beat=False)
        lead_in = max(p.lead_in_s, start_end + self._first_pull())
        if lead_in > 0 or start:
            self.spans.append(Span(0.0, lead_in, "lead-in", "lead-in", None, None))
            t = lead_in
        for set_no in range(1, p.sets + 1):
            if p.sets > 1:
                self._beat(t, "set_start", self._fill(p.cues.set_start, set_no), "set",
                           role="set", set_no=set_no)  # fmt: skip
                self._span(t, t + p.set_intro_s, "set", "set", None, set_no)
                t += p.set_intro_s
            for rep in range(1, p.reps + 1):
                t = self._rep(t, rep, set_no)
            if set_no < p.sets and p.rest_s > 0:
                t = self._rest(t, set_no)
        end_sounds = self._beat(t, "end", self._fill(p.cues.end), "end", role="end")
        end = max(t, end_sounds) + END_PAD_S
        self._span(t, end, "end", "end", None, None)
        self.cues.sort(key=lambda cue: cue.at_s)
        return Timeline(p.name, tuple(self.cues), self._tiled(end), end, p.reps, p.sets)

    def _first_pull(self) -> float:
        """How far ahead of the first beat after the lead-in its words start."""
        p = self.p
        if p.sets > 1:
            return self._pull("set_start", self._fill(p.cues.set_start, 1))
        first = p.phases[0]
        return self._pull(first.tone, self._fill(first.say, 1, 1))

    def _pull(self, tone: str | None, text: str | None) -> float:
        """How far ahead of its beat ``_beat`` starts these words: their onset when they
        mark the beat alone, nothing when a tone marks it (or nothing is said)."""
        if not text or self.style == "tones" or (tone and self.style != "voice"):
            return 0.0
        return self.lengths.onset(text)

    def _span(
        self,
        start_s: float,
        end_s: float,
        kind: SpanKind,
        phase: str,
        rep: int | None,
        set_no: int | None,
    ) -> None:
        """A span from its beat; ``_tiled`` moves its start to its first sound."""
        self.spans.append(Span(start_s, end_s, kind, phase, rep, set_no))

    def _tiled(self, end_s: float) -> tuple[Span, ...]:
        """The spans, each starting where its first sound starts (a word pulled ahead of
        the span's beat starts it early) and ending where the next starts, so they still
        tile the session; a span left with no length (a lead-in that is only room for a
        pulled word) is dropped."""
        starts = [self.early.get(span.start_s, span.start_s) for span in self.spans]
        ends = [*starts[1:], end_s]
        return tuple(
            replace(span, start_s=start, end_s=end)
            for span, start, end in zip(self.spans, starts, ends, strict=True)
            if end > start
        )

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
                    at = max(t, spoken_end) + REMARK_GAP_S
                    self._say(at, text, phase.name, role, rep, set_no)
            self._span(t, t + phase.seconds, "phase", phase.name, rep, set_no)
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
        self._span(t, t + p.rest_s, "rest", "rest", None, set_no)
        if self.style != "tones":
            countdown = min(p.cues.rest_countdown, int(p.rest_s) - 1, len(p.numbers))
            for k in range(countdown, 0, -1):
                beat = t + p.rest_s - k
                self._say_on_beat(beat, p.numbers[k - 1], "rest", "countdown", None, set_no)
        return t + p.rest_s

    def _count(
        self, t: float, seconds: float, style: str, phase: str, rep: int, set_no: int
    ) -> None:
        """A number on each whole second inside the phase, leaving its last half second
        quiet."""
        total = math.ceil(seconds - 0.5)
        for k in range(1, total):
            number = k + 1 if style == "up" else total - k
            if 1 <= number <= len(self.p.numbers):
                self._say_on_beat(t + k, self.p.numbers[number - 1], phase, "count", rep, set_no)

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
        on_beat: bool = True,
    ) -> float:
        """A tone on the beat and the words right after it (or alone, by style).

        Words alone are heard on the beat (``on_beat``), so they start before it by
        their onset. Returns when the beat's sounds end, so callers can chain a remark
        after it.
        """
        end = t
        if tone and self.style != "voice":
            length = self.lengths.of("tone", tone)
            self.cues.append(Cue(t, "tone", None, tone, phase, rep, set_no, role, length))
            end = t + length
        if text and self.style != "tones":
            at = end - (self._pull(tone, text) if on_beat else 0.0)
            if at < t:
                self.early[t] = at
            end = at + self._say(at, text, phase, role, rep, set_no)
        return end

    def _say_on_beat(
        self, beat: float, text: str, phase: str, role: str, rep: int | None, set_no: int | None
    ) -> None:
        self._say(beat - self.lengths.onset(text), text, phase, role, rep, set_no)

    def _say(
        self, t: float, text: str, phase: str, role: str, rep: int | None, set_no: int | None
    ) -> float:
        length = self.lengths.of("say", text)
        onset = self.lengths.onset(text)
        self.cues.append(Cue(t, "say", text, None, phase, rep, set_no, role, length, onset))
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
        _("phase {name!r}").format(name=phase.name): math.ceil(phase.seconds - 0.5)
        - (phase.count == "down")
        for phase in protocol.phases
        if phase.count
    }
    if protocol.sets > 1 and protocol.rest_s > 0:
        needs[_("the rest's countdown")] = min(
            protocol.cues.rest_countdown, int(protocol.rest_s) - 1
        )
    have = len(protocol.numbers)
    short = {what: n for what, n in needs.items() if n > have}
    if not short:
        return None
    fix = _("(a protocol may bring its own: numbers = [...])")
    if not have:
        return _("no count words in {language!r}: {what} not counted {fix}").format(
            language=protocol.language, what=_(" and ").join(short), fix=fix
        )
    counts = ", ".join(
        _("{what} counts to {n}").format(what=what, n=n) for what, n in short.items()
    )
    return _(
        "count words in {language!r} go only to {have}: {counts}; the counts above {have} "
        "are not said {fix}"
    ).format(language=protocol.language, have=have, counts=counts, fix=fix)


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
