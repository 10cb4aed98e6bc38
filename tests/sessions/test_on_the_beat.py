"""Every word on its beat, end to end: the default session exported with each real engine
(Piper's joe voice, espeak-ng) and read back from the file.

Each spoken cue's clip must start at ``round(at_s * rate)`` (the file holds the clip's
own samples from there), and be heard, by the onset measure written out independently
in ``onsets.heard_at_s``, within 10 ms of its ``beat_s``. Counts then sound one second
apart however differently their words begin.
"""

import json

import numpy as np
import pytest
from onsets import heard_at_s, read_audio

from voice_coach.cli import main
from voice_coach.session import SessionOptions, prepare_session

# Written as 16-bit (x 32767, rounded) and read back / 32768: a sample comes back within
# two steps; a clip one sample off would differ by far more.
PCM16_ERROR = 2 / 32768
BEAT_TOLERANCE_S = 0.010


pytestmark = pytest.mark.usefixtures("warm_cache")


def residual_at(samples: np.ndarray, clip: np.ndarray, first: int) -> tuple[float, int, float]:
    """How far the file from ``first`` is from the clip at the gain that fits it best (the
    session's loudness sets one gain per phrase: the file holds the clip scaled)."""
    heard = samples[first : first + len(clip)]
    gain = float(np.dot(heard, clip) / np.dot(clip, clip))
    return float(np.abs(heard - gain * clip).max()), first, gain


@pytest.mark.parametrize("style", ["both", "voice"])
@pytest.mark.parametrize("engine", ["piper", "espeak-ng"])
def test_an_exported_session_is_heard_on_its_beats(tmp_path, engine, style):
    out = tmp_path / "session.wav"
    options = ["--timeline", "--engine", engine, "--cues", style, "--quiet"]
    assert main(["export", "-o", str(out), *options]) == 0
    samples, rate = read_audio(out)
    timeline = json.loads((tmp_path / "session.json").read_text())
    assert timeline["voice"]["engine"] == engine
    clips = prepare_session(None, SessionOptions(style=style, engine=engine)).speech
    spoken = [c for c in timeline["cues"] if c["kind"] == "say"]
    assert len(spoken) > 30
    late = []
    for cue in spoken:
        clip = clips[cue["text"]]
        # The file holds the clip from round(at_s * rate), to the sample.
        residual, first, gain = residual_at(samples, clip.samples, round(cue["at_s"] * rate))
        heard = samples[first : first + len(clip.samples)]
        assert gain > 0.1, f"{cue} is not in the file"
        assert residual <= PCM16_ERROR, f"{cue} starts elsewhere"
        heard_s = first / rate + heard_at_s(heard, rate)
        late.append(heard_s - cue["beat_s"])
    assert max(abs(x) for x in late) <= BEAT_TOLERANCE_S, late
    counts = [c["beat_s"] for c in spoken if c["role"] == "count"]
    assert counts and all(abs(b - round(b)) < 1e-6 for b in counts), "counts on whole seconds"
    if style == "voice":
        pulled = [c for c in spoken if c["role"] == "phase"]
        assert all(c["at_s"] < c["beat_s"] == round(c["beat_s"]) for c in pulled)
