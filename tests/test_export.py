"""Export: real sessions (real espeak-ng) written by libsndfile and read back.

Timing is checked in the written audio itself: every cue's onset, found by the onset
detector, against `voice-coach script --json`.
"""

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile
from onsets import cue_onsets, expected_onsets, find_onsets, onset_errors, read_audio

from voice_coach.cli import main
from voice_coach.errors import ExportError, UsageError
from voice_coach.export import export_session
from voice_coach.render import RenderedSession
from voice_coach.session import SessionOptions, prepare_session
from voice_coach.subtitles import to_srt, to_vtt
from voice_coach.timeline import timeline_to_json

LOSSY_FLOOR = 0.01  # above a codec's pre-echo, which rises out of the silence before a cue


@pytest.fixture(autouse=True)
def cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("VOICE_COACH_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VOICE_COACH_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))
        return prepare_session("glute-squeeze", SessionOptions())


def script_json(capsys, *args: str) -> dict:
    assert main(["script", "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("rate", [22050, 48000])
def test_cli_export_puts_every_cue_on_its_sample(tmp_path, capsys, rate):
    timeline = script_json(capsys)
    out = tmp_path / "session.wav"
    assert main(["export", "-o", str(out), "--sample-rate", str(rate), "--quiet"]) == 0
    samples, read_rate = read_audio(out)
    assert read_rate == rate
    cues = timeline["cues"]
    found = cue_onsets(find_onsets(samples, rate), cues, rate)
    errors = onset_errors(expected_onsets(cues, rate), found, rate)
    assert max(abs(e) for e in errors) <= 1000 / rate, errors  # to the sample
    assert len(samples) >= round(timeline["duration_s"] * rate)


@pytest.mark.parametrize("fmt", ["mp3", "ogg"])
@pytest.mark.parametrize("rate", [22050, 44100])
def test_lossy_exports_keep_cue_times_within_a_few_ms(tmp_path, prepared, fmt, rate):
    session = prepared.render(rate)
    out = tmp_path / f"s.{fmt}"
    export_session(session, out)
    samples, read_rate = read_audio(out)
    cues = timeline_to_json(prepared.timeline)["cues"]
    reference = session.read(0, session.total_frames)
    expected = np.array(cue_onsets(find_onsets(reference, rate, floor=LOSSY_FLOOR), cues, rate))
    found = np.array(cue_onsets(find_onsets(samples, read_rate, floor=LOSSY_FLOOR), cues, rate))
    assert len(found) == len(expected)
    delay = int(np.median(found - expected))
    # Measured: libsndfile writes LAME's gapless header and its decoder removes the
    # encoder delay, so MP3's delay is 0 samples; Vorbis's is within a few samples.
    assert delay == 0 if fmt == "mp3" else abs(delay) * 1000 / rate <= 1.0, delay
    worst_ms = np.max(np.abs(found - expected - delay)) * 1000 / rate
    assert worst_ms <= 6.0, worst_ms


@pytest.mark.parametrize("fmt", ["wav", "flac", "ogg", "mp3"])
def test_each_format_reads_back_with_its_rate_and_length(tmp_path, prepared, fmt):
    session = prepared.render(22050)
    out = tmp_path / f"s.{fmt}"
    result = export_session(session, out)
    assert result.written == (out,)
    info = soundfile.info(str(out))
    assert info.samplerate == 22050 and info.channels == 1
    assert info.frames == session.total_frames
    assert info.format == {"wav": "WAV", "flac": "FLAC", "ogg": "OGG", "mp3": "MP3"}[fmt]


def test_format_option_overrides_the_extension(tmp_path, prepared):
    out = tmp_path / "s.audio"
    export_session(prepared.render(22050), out, fmt="flac")
    assert soundfile.info(str(out)).format == "FLAC"


def test_subtitles_and_timeline_sidecars_match_the_timeline(tmp_path, capsys):
    out = tmp_path / "s.wav"
    assert main(["export", "-o", str(out), "--subtitles", "srt", "--timeline", "--quiet"]) == 0
    timeline = json.loads((tmp_path / "s.json").read_text())
    assert timeline == script_json(capsys)
    srt = (tmp_path / "s.srt").read_text().split("\n\n")
    spoken = [c for c in timeline["cues"] if c["kind"] == "say"]
    assert len([b for b in srt if b.strip()]) == len(spoken)
    first = srt[0].splitlines()
    start = spoken[0]["at_s"]
    assert first[0] == "1"
    assert first[1].startswith(f"00:00:0{int(start)},{round(start % 1 * 1000):03d} --> ")
    assert first[2] == spoken[0]["text"]


def test_vtt_has_its_header_and_dot_millis(prepared):
    vtt = to_vtt(prepared.timeline)
    assert vtt.startswith("WEBVTT\n\n")
    assert "00:00:06.2" in vtt and "," not in vtt.split("\n")[2]
    entries = [b for b in to_srt(prepared.timeline).split("\n\n") if b.strip()]
    for block in entries:
        stamp = block.splitlines()[1]
        begin, end = stamp.split(" --> ")
        assert begin < end


def test_existing_files_are_kept_unless_forced(tmp_path, capsys):
    out = tmp_path / "s.wav"
    out.write_bytes(b"mine")
    assert main(["export", "-o", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--force" in err
    assert out.read_bytes() == b"mine"
    sidecar = tmp_path / "t.srt"
    sidecar.write_text("mine")
    assert main(["export", "-o", str(tmp_path / "t.wav"), "--subtitles", "srt", "--quiet"]) == 2
    assert not (tmp_path / "t.wav").exists() and sidecar.read_text() == "mine"
    assert main(["export", "-o", str(out), "--force", "--quiet"]) == 0
    assert soundfile.info(str(out)).frames > 0


class Failing:
    """A session whose samples fail part-way, like a disk or a bug would."""

    def __init__(self, session: RenderedSession, fail_after: int, error: BaseException):
        self._session, self._left, self._error = session, fail_after, error

    def __getattr__(self, name):
        return getattr(self._session, name)

    def blocks(self, block_frames=4096, start=0):
        for block in self._session.blocks(block_frames, start):
            if self._left == 0:
                raise self._error
            self._left -= 1
            yield block


@pytest.mark.parametrize(
    ("error", "raised"),
    [
        (OSError(28, "No space left on device"), ExportError),
        (KeyboardInterrupt(), KeyboardInterrupt),
    ],
)
def test_a_failure_mid_write_leaves_no_target_and_no_temp_file(tmp_path, prepared, error, raised):
    out = tmp_path / "s.flac"
    session = Failing(prepared.render(22050), 5, error)
    with pytest.raises(raised) as caught:
        export_session(session, out, subtitles="srt", timeline_json="{}")  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []
    if raised is ExportError:
        assert "disk is full" in caught.value.message


def test_a_failing_progress_callback_also_cleans_up(tmp_path, prepared):
    def stop(done: int, total: int) -> None:
        if done > total // 2:
            raise KeyboardInterrupt

    out = tmp_path / "s.wav"
    out.write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt):
        export_session(prepared.render(22050), out, force=True, progress=stop)
    assert [p.name for p in tmp_path.iterdir()] == ["s.wav"] and out.read_bytes() == b"old"


@pytest.mark.parametrize(
    ("target", "code", "words"),
    [
        ("{tmp}", 1, "is a folder"),
        ("{tmp}/missing/s.wav", 1, "does not exist"),
        ("{file}/s.wav", 1, "is not a folder"),  # root ignores chmod: a file as the folder
        ("{tmp}/s.xyz", 2, "cannot tell the format"),
        ("{tmp}/noext", 2, "cannot tell the format"),
    ],
)
def test_bad_targets_are_one_line_errors_and_leave_nothing(tmp_path, capsys, target, code, words):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    path = target.format(tmp=tmp_path, file=blocker)
    assert main(["export", "-o", path, "--quiet"]) == code
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_mp3_at_an_unsupported_rate_is_refused_before_writing(tmp_path, prepared):
    with pytest.raises(UsageError, match="MP3 cannot be written at 96000"):
        export_session(prepared.render(96000), tmp_path / "s.mp3")
    assert list(tmp_path.iterdir()) == []


def test_unknown_format_and_subtitle_kinds_are_usage_errors(tmp_path, capsys):
    assert main(["export", "-o", str(tmp_path / "s.wav"), "--format", "aac"]) == 2
    assert main(["export", "-o", str(tmp_path / "s.wav"), "--subtitles", "ass"]) == 2
    assert list(tmp_path.iterdir()) == []


def run_cli(*args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "voice_coach", *args], **kwargs)


def test_stdout_export_is_a_complete_wav(tmp_path):
    out = tmp_path / "piped.wav"
    with out.open("wb") as sink:
        assert run_cli("export", "-o", "-", stdout=sink).wait(timeout=120) == 0
    direct = tmp_path / "direct.wav"
    assert main(["export", "-o", str(direct), "--quiet"]) == 0
    piped, _ = read_audio(out)
    written, _ = read_audio(direct)
    np.testing.assert_array_equal(piped, written)


def test_stdout_closed_early_ends_quietly():
    export = run_cli("export", "-o", "-", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    head = subprocess.run(["head", "-c", "100"], stdin=export.stdout, capture_output=True)
    export.stdout.close()
    code = export.wait(timeout=120)
    stderr = export.stderr.read().decode()
    assert len(head.stdout) == 100 and head.stdout.startswith(b"RIFF")
    assert code == 0 and stderr == "", stderr


def test_export_memory_does_not_grow_with_length(prepared):
    """The stream holds one block, not the session: 60 blocks of a long session are
    read without the placements list or any buffer growing."""
    session = prepared.render(22050)
    blocks = session.blocks(4096)
    first = next(blocks)
    assert len(first) == 4096
    assert sum(1 for _ in blocks) == -(-session.total_frames // 4096) - 1
