"""Every cue of an exported file exactly where the timeline puts it, to the sample: the
file read back by soundfile (libsndfile), each word compared sample by sample with its
clip as placed, not found by a threshold (which a soft first consonant defeats)."""

import numpy as np
import pytest
import soundfile

from voice_coach.cli import main
from voice_coach.files.export import to_pcm16
from voice_coach.session import SessionOptions, prepare_session


@pytest.mark.parametrize("rate", [22050, 44100, 48000])
@pytest.mark.parametrize("fmt", ["wav", "flac"])
@pytest.mark.parametrize("engine", ["espeak-ng", "piper"])
def test_each_cue_starts_at_its_at_sample_to_the_sample(tmp_path, engine, fmt, rate):
    out = tmp_path / f"session.{fmt}"
    args = ["glute-squeeze", "--cues", "voice", "--engine", engine]
    assert main(["export", *args, "--sample-rate", str(rate), "-o", str(out), "-q"]) == 0
    heard, file_rate = soundfile.read(out, dtype="int16")
    assert file_rate == rate
    # The same session, from the same phrase cache the export filled.
    prepared = prepare_session("glute-squeeze", SessionOptions(style="voice", engine=engine))
    rendered = prepared.render(rate)
    placed = {placement.at_sample: placement.samples for placement in rendered.placements}
    said = [cue for cue in prepared.timeline.cues if cue.kind == "say"]
    assert len(said) > 30
    for cue in said:
        at = round(cue.at_s * rate)
        assert at in placed, (cue.text, cue.at_s)
        clip = to_pcm16(placed[at])
        window = heard[at : at + len(clip)]
        mismatched = np.flatnonzero(window != clip)
        assert mismatched.size == 0, (cue.text, cue.at_s, mismatched[:5])
        # One sample earlier or later would not match: the clip is not silence or a tone.
        assert not np.array_equal(heard[at + 1 : at + 1 + len(clip)], clip)
        assert not np.array_equal(heard[at - 1 : at - 1 + len(clip)], clip)
