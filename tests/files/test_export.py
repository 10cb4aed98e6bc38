"""Export: real sessions (real espeak-ng) written by libsndfile and read back.

Timing is checked in the written audio itself: every cue's onset, found by the onset
detector, against `voice-coach script --json`.
"""

import io
import json
import os
import subprocess
import sys
import tracemalloc
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile
from isolation import copy_warm
from onsets import cue_onsets, expected_onsets, find_onsets, onset_errors, read_audio

from voice_coach.audio.tones import make_tone
from voice_coach.cli import main
from voice_coach.core.clip import Clip, trim_silence
from voice_coach.core.protocol import Pace
from voice_coach.core.render import RenderedSession, render
from voice_coach.core.timeline import Cue, Timeline, timeline_to_json
from voice_coach.errors import ExportError, UsageError
from voice_coach.files.export import _write_wav_stream, export_session, to_pcm16
from voice_coach.files.subtitles import to_srt, to_vtt
from voice_coach.session import SessionOptions, prepare_session
from voice_coach.userdirs import CACHE_DIR_ENV

# Measured 2026-11-30 (WAV, FLAC): 21 s peaks 0.93 / 0.67 MB, 369 s 1.00 / 0.71 MB; the long
# session's samples alone are 32.5 MB of float32, so a buffered export is far past this.
MEMORY_SLACK_BYTES = 500_000
LOSSY_FLOOR = 0.01  # above a codec's pre-echo, which rises out of the silence before a cue


pytestmark = pytest.mark.usefixtures("warm_cache")


# The energy detector in onsets.py finds where a sound gets loud. espeak-ng's words start
# loud, so it reads them to the sample; Piper's begin softly (a breath, an "s") and their
# loud part can come more than 0.12 s after the first sample, so a word after a tone is
# seen as a sound of its own, or not, depending on each synthesis. These tests check
# where the renderer puts samples, which no engine changes: they speak with espeak-ng.
# Piper's clips are checked in place, sample for sample, in test_piper.py.
ESPEAK_NG = ("--engine", "espeak-ng")


@pytest.fixture(scope="module")
def prepared(tmp_path_factory, warmed_cache):
    with pytest.MonkeyPatch.context() as patch:
        cache = copy_warm(warmed_cache, tmp_path_factory.mktemp("cache"))
        patch.setenv(CACHE_DIR_ENV, str(cache))
        return prepare_session("glute-squeeze", SessionOptions(engine="espeak-ng"))


def script_json(capsys, *args: str) -> dict:
    assert main(["script", "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("rate", [22050, 48000])
def test_cli_export_puts_every_cue_on_its_sample(tmp_path, capsys, rate):
    timeline = script_json(capsys, *ESPEAK_NG)
    out = tmp_path / "session.wav"
    args = ["export", "-o", str(out), "--sample-rate", str(rate), "--quiet", *ESPEAK_NG]
    assert main(args) == 0
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
    start = spoken[0]["beat_s"]  # a subtitle shows from when its words are heard
    assert first[0] == "1"
    assert first[1].startswith(f"00:00:0{int(start)},{round(start % 1 * 1000):03d} --> ")
    assert first[2] == spoken[0]["text"]


def test_vtt_has_its_header_and_dot_millis(prepared):
    vtt = to_vtt(prepared.timeline)
    assert vtt.startswith("WEBVTT\n\n")
    assert "\n00:00:06." in vtt and "," not in vtt.split("\n")[2]
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


def test_ctrl_c_mid_write_leaves_no_target_and_no_temp_file(tmp_path, prepared):
    """Ctrl-C inside the encoder's loop. (Real write failures, a full disk and a file-size
    limit, in every format: tests/files/test_files_safety.py.)"""
    out = tmp_path / "s.flac"
    session = Failing(prepared.render(22050), 5, KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        export_session(session, out, subtitles="srt", timeline_json="{}")  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


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
    """The file skips silence with seeks and the pipe writes it as zeros: both must be the
    same bytes, and those bytes every sample the renderer makes, in 16-bit PCM."""
    out = tmp_path / "piped.wav"
    with out.open("wb") as sink:
        assert run_cli("export", "-o", "-", stdout=sink).wait(timeout=120) == 0
    direct = tmp_path / "direct.wav"
    assert main(["export", "-o", str(direct), "--quiet"]) == 0
    assert out.read_bytes() == direct.read_bytes()
    session = prepare_session(None, SessionOptions()).render(22050)
    with soundfile.SoundFile(str(direct)) as sound:
        assert (sound.format, sound.subtype, sound.samplerate) == ("WAV", "PCM_16", 22050)
        written = sound.read(dtype="int16")
    np.testing.assert_array_equal(written, to_pcm16(session.read(0, session.total_frames)))


def test_stdout_closed_early_ends_quietly():
    export = run_cli("export", "-o", "-", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    head = subprocess.run(["head", "-c", "100"], stdin=export.stdout, capture_output=True)
    export.stdout.close()
    code = export.wait(timeout=120)
    stderr = export.stderr.read().decode()
    assert len(head.stdout) == 100 and head.stdout.startswith(b"RIFF")
    assert code == 0 and stderr == "", stderr


def export_peak_bytes(reps: int, out: Path) -> tuple[int, float]:
    """The largest Python and numpy memory (tracemalloc) held while rendering and writing
    a session of ``reps`` reps to ``out``, once its phrases are loaded; and its length."""
    prepared = prepare_session("glute-squeeze", SessionOptions(pace=Pace(reps=reps)))
    tracemalloc.start()
    try:
        export_session(prepared.render(22050), out)
        _now, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, prepared.timeline.duration_s


@pytest.mark.parametrize("fmt", ["wav", "flac"])
def test_export_memory_does_not_grow_with_length(tmp_path, fmt):
    """Exports stream block by block: a session 17 times longer peaks within
    MEMORY_SLACK_BYTES of the short one (what the bound rests on: beside it)."""
    short_peak, short_s = export_peak_bytes(2, tmp_path / f"short.{fmt}")
    long_peak, long_s = export_peak_bytes(60, tmp_path / f"long.{fmt}")
    assert long_s > 15 * short_s
    message = (
        f"short {short_s:.0f} s: {short_peak / 1e6:.2f} MB; "
        f"long {long_s:.0f} s: {long_peak / 1e6:.2f} MB"
    )
    assert long_peak < short_peak + MEMORY_SLACK_BYTES, message


# --- a hand-made timeline: words from the real espeak-ng CLI, tones, a click ----------


def espeak_clip(text: str, folder: Path) -> Clip:
    """The phrase as the real ``espeak-ng -w`` says it, trimmed like the speech module's."""
    path = folder / f"{len(list(folder.iterdir()))}.wav"
    subprocess.run(["espeak-ng", "-w", str(path), text], check=True, capture_output=True)
    samples, rate = soundfile.read(str(path), dtype="float32")
    clip = trim_silence(Clip(samples, rate))
    assert len(clip.samples) > 0, text
    return clip


def cue(at_s: float, text: str | None = None, tone: str | None = None) -> Cue:
    kind = "say" if text is not None else "tone"
    return Cue(at_s, kind, text, tone, "squeeze", 1, 1, "phase", 0.0)


@pytest.fixture(scope="module")
def hand_made(tmp_path_factory) -> tuple[Timeline, dict[str, Clip], dict[str, Clip]]:
    folder = tmp_path_factory.mktemp("espeak")
    words = {text: espeak_clip(text, folder) for text in ("Squeeze", "And relax", "Well done")}
    tones = {name: make_tone(name, 22050) for name in ("squeeze", "relax", "end")}
    timed = [
        (0.5, None, "squeeze"),
        (0.731, "Squeeze", None),  # a word right after its tone: one sound with it
        (2.2043, None, "relax"),
        (2.6, "And relax", None),
        (4.0007, "Squeeze", None),
        (5.5, "And relax", None),
        (7.25, None, "end"),
        (8.0, "Well done", None),
    ]
    cues = []
    for at_s, text, tone in timed:
        length = words[text].duration_s if text else tones[tone].duration_s  # type: ignore[index]
        cues.append(replace(cue(at_s, text, tone), duration_s=length))
    timeline = Timeline("hand-made", tuple(cues), (), 9.5, 1, 1)
    return timeline, words, tones


@pytest.mark.parametrize("fmt", ["wav", "flac"])
@pytest.mark.parametrize("rate", [22050, 44100])
def test_a_hand_made_timeline_lands_on_its_samples_in_lossless_files(
    tmp_path, hand_made, fmt, rate
):
    timeline, words, tones = hand_made
    session = render(timeline, words, tones, rate)
    out = tmp_path / f"s.{fmt}"
    export_session(session, out)
    samples, read_rate = read_audio(out)
    assert read_rate == rate and len(samples) == session.total_frames
    cues = timeline_to_json(timeline)["cues"]
    expected = expected_onsets(cues, rate)
    found = cue_onsets(find_onsets(samples, rate), cues, rate)
    assert len(expected) == 7  # the word right after the first tone is part of its sound
    errors = onset_errors(expected, found, rate)
    assert max(abs(e) for e in errors) <= 1.0, errors


def lame_gapless_tag(path: Path) -> tuple[int, int]:
    """The encoder delay and padding LAME records in its info frame, in samples."""
    data = path.read_bytes()[:4096]
    at = data.find(b"LAME")
    assert at >= 0 and (b"Xing" in data[:at] or b"Info" in data[:at]), "no gapless info frame"
    raw = data[at + 21 : at + 24]
    return (raw[0] << 4) | (raw[1] >> 4), ((raw[1] & 0x0F) << 8) | raw[2]


@pytest.mark.parametrize("rate", [22050, 44100, 48000])
def test_mp3_delay_measured_with_a_click_at_a_known_sample(tmp_path, rate):
    """One click, rendered at a known sample, found again in the decoded MP3.

    Measured: libsndfile's encoder is LAME, which records its delay (576 samples) and
    padding in a gapless info frame, and libsndfile's decoder (mpg123) removes both: the
    click comes back on its own sample and the file has the session's length. A player
    that ignores the frame hears everything 1105 samples late (576 + the decoder's 529;
    measured with ``mpg123 --no-gapless``, which the tests do not need).
    """
    click = np.zeros(64, dtype=np.float32)
    click[0] = 0.9
    at_s = 0.5 + 123 / rate
    timeline = Timeline(
        "click", (replace(cue(at_s, tone="click"), duration_s=64 / rate),), (), 1.5, 1, 1
    )
    session = render(timeline, {}, {"click": Clip(click, rate)}, rate)
    out = tmp_path / "click.mp3"
    export_session(session, out)
    decoded, read_rate = read_audio(out)
    assert read_rate == rate and len(decoded) == session.total_frames
    delay = int(np.argmax(np.abs(decoded))) - session.at_sample(at_s)
    assert delay == 0
    encoder_delay, padding = lame_gapless_tag(out)
    assert encoder_delay == 576 and padding > 0


def test_an_unknown_subtitle_kind_is_refused_before_writing(tmp_path, hand_made):
    timeline, words, tones = hand_made
    with pytest.raises(UsageError, match="must be srt or vtt"):
        export_session(render(timeline, words, tones, 22050), tmp_path / "s.wav", subtitles="ass")
    assert list(tmp_path.iterdir()) == []


def test_a_sidecar_that_would_be_the_audio_is_refused(tmp_path, hand_made):
    timeline, words, tones = hand_made
    session = render(timeline, words, tones, 22050)
    with pytest.raises(UsageError, match="same file"):
        export_session(session, tmp_path / "s.json", fmt="wav", timeline_json="{}")
    with pytest.raises(UsageError, match="same file"):
        export_session(session, tmp_path / "s.srt", fmt="wav", subtitles="srt")
    assert list(tmp_path.iterdir()) == []


def test_sidecars_go_again_when_the_audio_cannot_be_moved_into_place(tmp_path, hand_made):
    """A folder appears under the audio's name while it is written (another program, a
    user): the move fails, and the sidecars this export had already placed are removed."""
    timeline, words, tones = hand_made
    out = tmp_path / "s.wav"

    def intrude(done: int, total: int) -> None:
        out.mkdir(exist_ok=True)

    with pytest.raises(ExportError, match="could not be written"):
        export_session(
            render(timeline, words, tones, 22050),
            out,
            subtitles="vtt",
            timeline_json="{}",
            progress=intrude,
        )
    assert [p.name for p in tmp_path.iterdir()] == ["s.wav"] and out.is_dir()


def test_progress_counts_every_frame_once(tmp_path, hand_made):
    timeline, words, tones = hand_made
    session = render(timeline, words, tones, 48000)
    seen: list[tuple[int, int]] = []
    export_session(session, tmp_path / "s.ogg", progress=lambda d, t: seen.append((d, t)))
    dones = [done for done, _ in seen]
    assert dones == sorted(dones) and dones[-1] == session.total_frames
    assert {total for _, total in seen} == {session.total_frames}


def test_a_replaced_file_keeps_the_users_permissions_model(tmp_path, hand_made):
    """The temporary file is private while written, an ordinary file once in place."""
    timeline, words, tones = hand_made
    out = tmp_path / "s.flac"
    export_session(render(timeline, words, tones, 22050), out)
    mask = os.umask(0)
    os.umask(mask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~mask


def test_stdout_closed_from_the_start_is_a_one_line_error():
    """Started with stdout closed (``>&-``: Python has no sys.stdout at all): exit 1, one
    line. A full stdout (/dev/full) is tested in test_files_safety.py."""
    command = f'exec "{sys.executable}" -m voice_coach export -o - >&-'
    done = subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "standard output is closed" in done.stderr


@pytest.mark.parametrize("output", ["long.wav", "-"])
def test_a_session_too_long_for_wav_is_refused_before_writing(tmp_path, capsys, output):
    """WAV counts its bytes in 32 bits: 3.3 hours at 192 kHz do not fit. One line, exit 2,
    nothing written, and the way out (a lower rate, or FLAC)."""
    target = "-" if output == "-" else str(tmp_path / output)
    args = ["export", "--reps", "1000", "--sets", "2", "--sample-rate", "192000"]
    assert main([*args, "-o", target, "--quiet"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert "too long for a WAV file at 192000 Hz" in captured.err and ".flac" in captured.err
    assert list(tmp_path.iterdir()) == []


class AppendOnly(io.BytesIO):
    """A file on a file system that cannot seek (some FUSE mounts): a fake, since no
    such mount can be made here."""

    def seek(self, offset: int, whence: int = 0) -> int:
        raise io.UnsupportedOperation("seek")

    def truncate(self, size: int | None = None) -> int:
        raise io.UnsupportedOperation("truncate")


@pytest.mark.parametrize("kept_bytes", [4 * 1024 * 1024, 6000, 0])
def test_a_wav_holds_every_sample_the_renderer_reads_though_repeated_blocks_are_reused(
    hand_made, kept_bytes, monkeypatch
):
    """The writer converts a block the session repeats once and reuses it; what it writes
    is still, sample for sample, what one read of the whole session gives. Blocks of
    1000 frames fall mid-clip, a word sounds over its tone at two spacings, and the
    writer has room to keep every block, two, or none; with room, it converts fewer
    blocks than it writes."""
    _, words, tones = hand_made
    timed = [
        (0.5, None, "squeeze"),
        (0.55, "Squeeze", None),  # the word over its tone
        (3.0, None, "squeeze"),
        (3.08, "Squeeze", None),  # the same at another spacing
        (5.0, "Squeeze", None),
        (6.5, "Squeeze", None),
        (8.0, None, "squeeze"),
    ]
    cues = tuple(
        replace(
            cue(at_s, text, tone),
            duration_s=words[text].duration_s if text else tones[tone].duration_s,  # type: ignore[index]
        )
        for at_s, text, tone in timed
    )
    session = render(Timeline("reuse", cues, (), 9.5, 1, 1), words, tones, 22050)
    monkeypatch.setattr("voice_coach.files.export.BLOCK_FRAMES", 1000)
    monkeypatch.setattr("voice_coach.files.export.CONVERTED_BYTES_KEPT", kept_bytes)
    conversions: list[int] = []

    def counted(block: np.ndarray) -> np.ndarray:
        conversions.append(len(block))
        return to_pcm16(block)

    monkeypatch.setattr("voice_coach.files.export.to_pcm16", counted)
    written: list[int] = []
    out = io.BytesIO()
    _write_wav_stream(session, out, None, seekable=False, written=written.append)
    samples = np.frombuffer(out.getvalue()[44:], dtype="<i2")
    np.testing.assert_array_equal(samples, to_pcm16(session.read(0, session.total_frames)))
    if kept_bytes:
        assert len(conversions) < len(written)
    else:
        assert len(conversions) == len(written)


def test_a_file_that_cannot_seek_gets_the_silence_written_out(hand_made):
    timeline, words, tones = hand_made
    session = render(timeline, words, tones, 22050)
    pipe, stuck = io.BytesIO(), AppendOnly()
    _write_wav_stream(session, pipe, None, seekable=False)
    _write_wav_stream(session, stuck, None, seekable=True)
    assert stuck.getvalue() == pipe.getvalue()
    assert len(pipe.getvalue()) == 44 + 2 * session.total_frames


def test_a_wav_export_with_espeak_loads_no_module_it_does_not_use(warm_cache, tmp_path):
    """What a plain WAV export with ``--engine espeak-ng`` leaves out of its start (each
    a few ms): the tag, chapter and cover writers (a WAV is untagged) and the Piper
    voices on disk (espeak-ng's own list chooses the voice). An MP3 export loads the
    writers, so the check can tell."""
    code = (
        "import sys\n"
        "from voice_coach.cli import main\n"
        "assert main(sys.argv[1:]) == 0\n"
        "print(' '.join(sorted(m for m in sys.modules if m in ("
        "'voice_coach.files.tags', 'voice_coach.files.chapters', 'voice_coach.files.cover',"
        "'voice_coach.speech.piper_voices'))))\n"
    )

    def loaded(out: Path) -> list[str]:
        args = ["export", "--engine", "espeak-ng", "-o", str(out), "-q"]
        done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True,
                              text=True, check=True)  # fmt: skip
        return done.stdout.split()

    assert loaded(tmp_path / "s.wav") == []
    assert "voice_coach.files.tags" in loaded(tmp_path / "s.mp3")
