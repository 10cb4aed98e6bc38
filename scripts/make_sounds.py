#!/usr/bin/env python3
"""Write sounds/*.wav from voice_coach.tones.make_tone, so the shipped files and the
code that defines them cannot drift apart (tests/test_tones.py checks they match)."""

from __future__ import annotations

from pathlib import Path

import soundfile

from voice_coach.tones import SOUNDS_RATE, TONE_NAMES, make_tone

SOUNDS = Path(__file__).resolve().parent.parent / "sounds"


def main() -> None:
    for name in TONE_NAMES:
        clip = make_tone(name, SOUNDS_RATE)
        path = SOUNDS / f"{name}.wav"
        soundfile.write(path, clip.samples, clip.sample_rate, subtype="FLOAT")
        print(f"{path.relative_to(SOUNDS.parent)}: {clip.duration_s * 1000:.0f} ms")


if __name__ == "__main__":
    main()
