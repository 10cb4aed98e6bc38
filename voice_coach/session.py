"""From what the user asked for to a session ready to print, play or export.

The one place that strings the pieces together (protocol, pace, language, voice,
phrases, tones, timeline, render), so ``script``, ``run`` and ``export`` cannot drift
apart: they all hear the same session, sample for sample.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from voice_coach.audio.loudness import DEFAULT_LUFS, MAX_LUFS, MIN_LUFS, TRUE_PEAK_CEILING_DBTP
from voice_coach.core.clip import Clip
from voice_coach.core.protocol import Pace, Protocol, apply_pace, in_language
from voice_coach.core.render import RenderedSession, SessionLevels, render
from voice_coach.core.timeline import (
    END_PAD_S,
    Cue,
    CueStyle,
    Overlap,
    Span,
    Timeline,
    build_timeline,
    find_overlaps,
    session_sounds,
    timeline_to_json,
    unspoken_counts,
    without_crowded_encouragements,
)
from voice_coach.errors import FieldError, SpeechError, TimingError, UsageError
from voice_coach.files.loader import load_protocol
from voice_coach.i18n import _, decimal, ngettext
from voice_coach.speech.engine import DEFAULT_RATE_WPM, ESPEAK, SpeechSettings
from voice_coach.speech.voices import Voice

if TYPE_CHECKING:
    from voice_coach.coach.programs import NextSession

DEFAULT_SAMPLE_RATE = 22050


@dataclass(frozen=True)
class SessionOptions:
    """Everything that shapes what is heard, from the command line or a caller."""

    pace: Pace = field(default_factory=Pace)
    style: CueStyle = "both"
    language: str | None = None
    # The user's locale's language, spoken where the protocol has its words and no
    # ``language`` is given; never an error (a locale the protocol lacks: its own words).
    preferred_language: str | None = None
    voice: str | None = None
    engine: str | None = None
    rate_wpm: int | None = None
    volume: float = 1.0
    allow_overlap: bool = False
    allow_fallback: bool = False
    loudness_lufs: float | None = DEFAULT_LUFS  # None: today's levels, no gain

    def __post_init__(self) -> None:
        """Refuse what cannot be played, naming the field (the CLI says the option)."""
        from voice_coach.core.timeline import CUE_STYLES
        from voice_coach.speech.engine import ENGINE_NAMES

        if self.style not in CUE_STYLES:
            styles = ", ".join(CUE_STYLES)
            raise FieldError(
                "style",
                _("must be one of: {styles}, got {style!r}").format(
                    styles=styles, style=self.style
                ),
            )
        volume = self.volume
        if isinstance(volume, bool) or not isinstance(volume, int | float):
            raise FieldError(
                "volume", _("must be a number from 0 to 1, got {volume!r}").format(volume=volume)
            )
        if not (math.isfinite(volume) and 0.0 <= volume <= 1.0):
            raise FieldError(
                "volume", _("must be from 0 to 1, got {volume:g}").format(volume=volume)
            )
        if self.engine is not None and self.engine not in ENGINE_NAMES:
            raise FieldError(
                "engine",
                _("{engine!r} must be one of: {items}").format(
                    engine=self.engine, items=", ".join(ENGINE_NAMES)
                ),
            )
        target = self.loudness_lufs
        if target is not None and not (math.isfinite(target) and MIN_LUFS <= target <= MAX_LUFS):
            raise FieldError(
                "loudness_lufs",
                _("must be from {MIN_LUFS:g} to {MAX_LUFS:g} LUFS, got {target:g}").format(
                    MIN_LUFS=MIN_LUFS, MAX_LUFS=MAX_LUFS, target=target
                ),
            )


@dataclass(frozen=True)
class PreparedSession:
    protocol: Protocol
    timeline: Timeline
    speech: Mapping[str, Clip]
    tones: Mapping[str, Clip]
    voice: Voice
    volume: float
    notes: tuple[str, ...]
    facts: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    levels: SessionLevels | None = None

    @property
    def loudness_note(self) -> str | None:
        """What to tell someone about to hear or export the session when the true-peak
        ceiling keeps it short of its loudness target (``script`` has no need)."""
        levels = self.levels
        if levels is None or not levels.short_of_target:
            return None
        return _(
            "--loudness {target}: the session reaches {reached} LUFS; louder would take its "
            "peaks past {ceiling} dBTP"
        ).format(
            target=f"{levels.target_lufs:g}",
            reached=decimal(levels.expected_lufs),
            ceiling=f"{TRUE_PEAK_CEILING_DBTP:g}",
        )

    def render(self, sample_rate: int = DEFAULT_SAMPLE_RATE) -> RenderedSession:
        return render(self.timeline, self.speech, self.tones, sample_rate, self.volume, self.levels)

    def to_json(self) -> dict[str, Any]:
        """What ``script --json`` prints and ``export --timeline`` writes: the timeline,
        with the voice that speaks it and the safety note beside it, so a file carries
        the note wherever it goes."""
        data = timeline_to_json(self.timeline)
        voice = {"id": self.voice.id, "engine": self.voice.engine}
        return {
            "protocol": data.pop("protocol"),
            "voice": voice,
            **data,
            "safety": self.protocol.safety,
        }


def prepare_session(source: str | None, options: SessionOptions) -> PreparedSession:
    """Load, pace, voice and time a session; raise before anything plays if it cannot work."""
    from voice_coach.audio.tones import load_tones
    from voice_coach.speech.phrase_cache import load_clips

    loaded_protocol = load_protocol(source)
    if options.language:
        words = in_language(
            loaded_protocol, options.language, allow_fallback=options.allow_fallback
        )
    else:
        words = in_preferred_language(loaded_protocol, options.preferred_language)
    protocol = apply_pace(words, options.pace)
    voice = choose_voice(protocol.language, options)
    rate_wpm = _rate_wpm(options)
    texts, tone_names = session_sounds(protocol, options.style)
    notes: list[str] = []
    try:
        loaded = load_clips(texts, _settings(voice, rate_wpm))
    except SpeechError as exc:
        if voice.engine == ESPEAK:
            raise
        # The neural engine is missing or does not load: the session still speaks.
        voice = choose_voice(protocol.language, SessionOptions(engine=ESPEAK))
        loaded = load_clips(texts, _settings(voice, rate_wpm))
        notes.append(
            _("{problem}; speaking with espeak-ng ({voice}) instead").format(
                problem=exc.message, voice=voice.id
            )
        )
    notes.extend(loaded.notes)
    notes.extend(filter(None, [unspoken_counts(protocol, options.style)]))
    wanted_tones = load_tones(DEFAULT_SAMPLE_RATE, tone_names)
    timeline = build_timeline(
        protocol,
        {text: clip.duration_s for text, clip in loaded.clips.items()},
        {name: clip.duration_s for name, clip in wanted_tones.items()},
        options.style,
        {text: facts["onset_s"] for text, facts in loaded.facts.items()},
    )
    if not options.allow_overlap:
        timeline, left_out = without_crowded_encouragements(timeline)
        if left_out:
            notes.append(left_out_note(left_out))
        overlaps = find_overlaps(timeline)
        if overlaps:
            raise overlap_error(overlaps[0], len(overlaps), protocol, options.pace.factor)
    levels = None
    if options.loudness_lufs is not None:
        levels = _levels(
            timeline, loaded.clips, loaded.facts, options.volume, options.loudness_lufs
        )
    return PreparedSession(
        protocol=protocol,
        timeline=timeline,
        speech=loaded.clips,
        tones=wanted_tones,
        voice=voice,
        volume=options.volume,
        notes=tuple(notes),
        facts=loaded.facts,
        levels=levels,
    )


def _levels(
    timeline: Timeline,
    speech: Mapping[str, Clip],
    facts: Mapping[str, Mapping[str, Any]],
    volume: float,
    target_lufs: float,
) -> SessionLevels:
    """The session's gains, from each clip's loudness figures (kept with it in the phrase
    cache; the tones' shipped with them) and where its cues fall."""
    from voice_coach.audio.loudness import ClipLoudness, measure_clip, session_levels
    from voice_coach.audio.tones import tone_loudness

    tones = tone_loudness(sorted({cue.tone for cue in timeline.cues if cue.tone is not None}))
    said = {}
    for text, clip in speech.items():
        figures = ClipLoudness.from_record(facts.get(text, {}).get("loudness"))
        if figures is None:  # not kept (an engine that bypasses the cache): measured now
            figures = measure_clip(clip.samples, clip.sample_rate)
        said[text] = figures
    return session_levels(
        [(cue.at_s, cue.text, said[cue.text]) for cue in timeline.cues if cue.text is not None],
        [(cue.at_s, tones[cue.tone]) for cue in timeline.cues if cue.tone is not None],
        timeline.duration_s,
        target_lufs,
        volume,
    )


def in_preferred_language(protocol: Protocol, language: str | None) -> Protocol:
    """The protocol in ``language`` where it has all its words in it, else as it is."""
    if language is None:
        return protocol
    try:
        return in_language(protocol, language)
    except UsageError:
        return protocol


def choose_voice(language: str, options: SessionOptions) -> Voice:
    """The voice ``--voice`` names, else the best installed one for ``language``: a
    neural voice where one speaks it, else espeak-ng's. ``--engine`` narrows the choice
    to one engine's voices."""
    from voice_coach.speech.voices import match_voice, voice_for_language

    def choose(voices: list[Voice]) -> Voice:
        if options.engine is not None:
            voices = [voice for voice in voices if voice.engine == options.engine]
            if not voices:
                raise UsageError(
                    _("No {engine} voice is installed").format(engine=options.engine),
                    hint=_("voice-coach voices"),
                )
        if options.voice:
            return match_voice(options.voice, voices)
        return voice_for_language(language, voices)

    return _pick_voice(choose, options.engine)


def spoken_phrase(
    prepared: PreparedSession, options: SessionOptions, text: str, sample_rate: int
) -> RenderedSession:
    """``text`` alone, in the session's voice, rate and loudness, through the phrase
    cache: what the coach says after a session (its question, the safety note) sounds
    like the session. Brought to the loudness the session reached (its target, or less
    where the true-peak ceiling stopped it) as a session of its own; with ``--loudness
    off``, at the session's volume."""
    from voice_coach.speech.phrase_cache import load_clips

    settings = _settings(prepared.voice, _rate_wpm(options))
    loaded = load_clips([text], settings)
    clip = loaded.clips[text]
    cue = Cue(0.0, "say", text, None, "end", None, None, "question", clip.duration_s)
    timeline = Timeline(
        protocol=prepared.protocol.name,
        cues=(cue,),
        spans=(Span(0.0, clip.duration_s, "end", "end", None, None),),
        duration_s=clip.duration_s + END_PAD_S,
        reps=0,
        sets=0,
    )
    levels = None
    if prepared.levels is not None:  # as loud as the session was: its target, or short of it
        reached = min(prepared.levels.target_lufs, prepared.levels.expected_lufs)
        levels = _levels(timeline, {text: clip}, loaded.facts, prepared.volume, reached)
    return render(timeline, {text: clip}, {}, sample_rate, prepared.volume, levels)


def _rate_wpm(options: SessionOptions) -> int:
    return options.rate_wpm if options.rate_wpm is not None else DEFAULT_RATE_WPM


def _settings(voice: Voice, rate_wpm: int) -> SpeechSettings:
    settings = SpeechSettings(voice_id=voice.id, rate_wpm=rate_wpm, volume=1.0, engine=voice.engine)
    settings.validate()
    return settings


def _pick_voice(choose: Callable[[list[Voice]], Voice], engine: str | None) -> Voice:
    """A voice from the cached list, asking the engines afresh before giving up, so a
    voice installed since the list was cached is still found. With ``--engine
    espeak-ng`` only that engine's list is read: the Piper voices on disk (and the
    bundled voice's package, found through ``importlib.resources``) are not looked at."""
    from voice_coach.speech.phrase_cache import installed_voices, load_voices

    listed = load_voices if engine == ESPEAK else installed_voices
    try:
        return choose(listed())
    except UsageError:
        return choose(listed(refresh=True))


def left_out_note(cues: Sequence[Cue]) -> str:
    """Which encouragements were left out for want of room, in one line."""
    listed = ", ".join(
        "{text!r} ({where})".format(
            text=cue.text, where=_("rep {n}").format(n=cue.rep) if cue.rep else cue.phase
        )
        for cue in cues
    )
    return _("left out, with no room before the next cue: {cues}").format(cues=listed)


def overlap_error(
    overlap: Overlap, count: int, protocol: Protocol | None = None, factor: float = 1.0
) -> TimingError:
    """Which cue, how long it needs, how long it has, and a change that makes it fit."""
    cue = overlap.cue
    what = repr(cue.text) if cue.kind == "say" else _("the {tone} tone").format(tone=cue.tone)
    short_by = overlap.needs_s - overlap.has_s
    phases = {phase.name: phase.seconds for phase in protocol.phases} if protocol else {}
    if overlap.next_cue.role == "count":
        fix = _("a faster --rate (counts come one second apart)")
    elif cue.phase == "lead-in" or cue.role == "start":
        fix = _("a longer --lead-in")
    elif cue.phase == "rest":
        fix = _("a longer --rest")
    elif cue.phase in ("set", "end"):
        fix = _("a faster --rate")
    elif cue.phase in phases:
        # The option's value is stretched by the pace, so it is named before that.
        works = math.ceil((phases[cue.phase] + short_by) / factor * 10 - 1e-9) / 10
        fix = _("--phase {phase}={seconds}, or a faster --rate").format(
            phase=cue.phase, seconds=f"{works:g}"
        )
    else:
        fix = _("a longer phase, or a faster --rate")
    where = _("rep {n}").format(n=cue.rep) + " " if cue.rep else ""
    message = _(
        "{what} at {at} ({where}{phase}) needs {needs} s but has {has} s before the next cue"
    )
    message = message.format(
        what=what,
        at=format_time(cue.beat_s),
        where=where,
        phase=cue.phase,
        needs=decimal(overlap.needs_s, 2),
        has=decimal(overlap.has_s, 2),
    )
    if count > 1:
        message += " " + ngettext("(and {n} more)", "(and {n} more)", count - 1).format(n=count - 1)
    return TimingError(
        message, _("give it {fix}, or let it overlap with --allow-overlap").format(fix=fix)
    )


def format_time(seconds: float) -> str:
    """``m:ss.s``: how a person reads a time in the session."""
    minutes, rest = divmod(max(seconds, 0.0), 60.0)
    return f"{int(minutes)}:{rest:04.1f}"


@dataclass(frozen=True)
class AlbumSource:
    """One file of an album: what it plays, its file name and title (``None``: the
    protocol's own name and title), and the session options it plays with."""

    protocol: str
    stem: str | None
    title: str | None
    options: SessionOptions


def album_sources(
    protocols: list[str], options: SessionOptions, plan: NextSession | None
) -> list[AlbumSource]:
    """The files of an album: the sessions named; or, with a program, each stage of it
    with the stage's own reps, holds and pace in place of today's stage's, named
    ``PROGRAM-stage-N`` and titled "PROGRAM, stage N of M"."""
    if plan is None:
        return [AlbumSource(source, None, None, options) for source in protocols]
    today = plan.pace
    sources = []
    for number, stage in enumerate(plan.program.stages, start=1):
        changes: dict[str, Any] = {
            name: getattr(stage.pace, name)
            for name in ("reps", "sets", "hold_s", "relax_s")
            if getattr(stage.pace, name) is not None or getattr(today, name) is not None
        }
        if stage.pace.factor != 1.0 or today.factor != 1.0:
            changes["factor"] = stage.pace.factor
        staged = dataclasses.replace(options, pace=dataclasses.replace(options.pace, **changes))
        stem = f"{plan.program.name}-stage-{number}"
        title = f"{plan.program.title}, stage {number} of {len(plan.program.stages)}"
        sources.append(AlbumSource(stage.protocol, stem, title, staged))
    return sources
