"""How far each word is heard from its beat, before and after words were placed by onset.

"Before" is the timeline with every onset taken as 0 (words placed by their first
sample, as until this change); "after" is the session as prepared now. Both are
rendered from the same clips, written as WAV and read back; each word is heard where
the onset measure finds it in the file, and compared with the time the timeline meant
it to be heard (before: its ``at_s``; after: its ``beat_s``).
"""

from __future__ import annotations

import tempfile
from collections import defaultdict
from pathlib import Path

import soundfile

from voice_coach.audio.onset import perceived_onset_s
from voice_coach.core.protocol import Pace
from voice_coach.core.render import render
from voice_coach.core.timeline import Timeline, build_timeline
from voice_coach.files.export import export_session
from voice_coach.session import DEFAULT_SAMPLE_RATE, SessionOptions, prepare_session


def heard_errors_ms(
    timeline: Timeline, prepared, meant, sample_rate: int = DEFAULT_SAMPLE_RATE
) -> dict[str, list[float]]:
    """Per text, each cue's (heard - meant) in ms, measured in a WAV written and read back
    (at another rate than the voice's, the clips are resampled on the way)."""
    session = render(timeline, prepared.speech, prepared.tones, sample_rate)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "session.wav"
        export_session(session, path)
        samples, rate = soundfile.read(str(path), dtype="float32")
    errors: dict[str, list[float]] = defaultdict(list)
    for cue in timeline.cues:
        if cue.kind != "say" or cue.text is None:
            continue
        first = round(cue.at_s * rate)
        spoken = prepared.speech[cue.text]
        clip = samples[first : first + round(spoken.duration_s * rate)]
        heard_s = first / rate + perceived_onset_s(clip, rate)
        errors[cue.text].append((heard_s - meant(cue)) * 1000)
    return errors


def bench_beats(
    reps: int,
    engines: tuple[str, ...] = ("piper", "espeak-ng"),
    styles: tuple[str, ...] = ("both", "voice"),
) -> dict[str, object]:
    report: dict[str, object] = {}
    for engine, style in ((engine, style) for engine in engines for style in styles):
        options = SessionOptions(pace=Pace(reps=reps), style=style, engine=engine)  # type: ignore[arg-type]
        prepared = prepare_session(None, options)
        timeline = prepared.timeline
        lengths = {text: clip.duration_s for text, clip in prepared.speech.items()}
        tones = {name: clip.duration_s for name, clip in prepared.tones.items()}
        before = build_timeline(prepared.protocol, lengths, tones, style)  # type: ignore[arg-type]
        report[f"{engine} --cues {style}"] = {
            "before": heard_errors_ms(before, prepared, lambda cue: cue.at_s),
            "after": heard_errors_ms(timeline, prepared, lambda cue: cue.beat_s),
            "after_48000": heard_errors_ms(timeline, prepared, lambda cue: cue.beat_s, 48000),
            "counts_heard_s": counts_heard(timeline, prepared),
            "counts_heard_before_s": counts_heard(before, prepared),
        }
    return report


def counts_heard(timeline: Timeline, prepared) -> list[float]:
    """When rep 1's first-phase words (its word and counts) are heard, in seconds: each
    cue's first sample plus its clip's onset."""
    phase = prepared.protocol.phases[0].name
    return [
        round(cue.at_s + perceived_onset_s(clip.samples, clip.sample_rate), 3)
        for cue in timeline.cues
        if cue.kind == "say" and cue.rep == 1 and cue.phase == phase and cue.text is not None
        for clip in [prepared.speech[cue.text]]
    ]


def print_beats(report: dict[str, object]) -> None:
    for name, figures in report.items():
        print(f"{name}: heard minus meant, per word (ms; min..max over its cues)")
        print(f"  {'text':44} {'before':>14} {'after':>14} {'after, 48 kHz':>14}")
        for text, before in figures["before"].items():  # type: ignore[index]
            after = figures["after"][text]  # type: ignore[index]
            resampled = figures["after_48000"][text]  # type: ignore[index]
            print(
                f"  {text[:44]:44} {min(before):6.1f}..{max(before):6.1f} "
                f"{min(after):6.1f}..{max(after):6.1f} {min(resampled):6.1f}..{max(resampled):6.1f}"
            )
        for name in ("after", "after_48000"):
            worst = max(abs(x) for xs in figures[name].values() for x in xs)  # type: ignore[index]
            print(f"  worst {name}: {worst:.1f} ms")
        print(f"  rep 1 heard before: {figures['counts_heard_before_s']}")  # type: ignore[index]
        print(f"  rep 1 heard after:  {figures['counts_heard_s']}")  # type: ignore[index]
