"""Every word on its beat, end to end: the default session exported with the real engine
and read back from the file.

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

PCM16_STEP = 1 / 32768
BEAT_TOLERANCE_S = 0.010


pytestmark = pytest.mark.usefixtures("warm_cache")


@pytest.mark.parametrize("style", ["both", "voice"])
def test_an_exported_session_is_heard_on_its_beats(tmp_path, style):
    out = tmp_path / "session.wav"
    assert main(["export", "-o", str(out), "--timeline", "--cues", style, "--quiet"]) == 0
    samples, rate = read_audio(out)
    timeline = json.loads((tmp_path / "session.json").read_text())
    clips = prepare_session(None, SessionOptions(style=style)).speech
    spoken = [c for c in timeline["cues"] if c["kind"] == "say"]
    assert len(spoken) > 30
    late = []
    for cue in spoken:
        clip = clips[cue["text"]]
        first = round(cue["at_s"] * rate)
        heard = samples[first : first + len(clip.samples)]
        assert np.abs(heard - clip.samples).max() <= PCM16_STEP, f"{cue} starts elsewhere"
        heard_s = first / rate + heard_at_s(heard, rate)
        late.append(heard_s - cue["beat_s"])
    assert max(abs(x) for x in late) <= BEAT_TOLERANCE_S, late
    counts = [c["beat_s"] for c in spoken if c["role"] == "count"]
    assert counts and all(abs(b - round(b)) < 1e-6 for b in counts), "counts on whole seconds"
    if style == "voice":
        pulled = [c for c in spoken if c["role"] == "phase"]
        assert all(c["at_s"] < c["beat_s"] == round(c["beat_s"]) for c in pulled)
