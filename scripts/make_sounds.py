#!/usr/bin/env python3
"""Write sounds/*.wav from voice_coach.audio.tones.make_tone, and sounds/loudness.json with
each tone's loudness figures, so the shipped files and the code that defines them cannot
drift apart (tests/audio/test_tones.py checks they match)."""

from __future__ import annotations

import json
from pathlib import Path

import soundfile

from voice_coach.audio.tones import LOUDNESS_FILE, SOUNDS_RATE, TONE_NAMES, make_tone, measure_tone

SOUNDS = Path(__file__).resolve().parent.parent / "sounds"


def main() -> None:
    for name in TONE_NAMES:
        clip = make_tone(name, SOUNDS_RATE)
        path = SOUNDS / f"{name}.wav"
        soundfile.write(path, clip.samples, clip.sample_rate, subtype="FLOAT")
        print(f"{path.relative_to(SOUNDS.parent)}: {clip.duration_s * 1000:.0f} ms")
    figures = {name: measure_tone(name).to_record() for name in TONE_NAMES}
    lines = [f" {json.dumps(name)}: {json.dumps(record)}" for name, record in figures.items()]
    (SOUNDS / LOUDNESS_FILE).write_text("{\n" + ",\n".join(lines) + "\n}\n", encoding="utf-8")


if __name__ == "__main__":
    main()
