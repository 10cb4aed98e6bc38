"""The speech edge with the real espeak-ng through pyttsx3: clips, voices, rate, volume."""

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from voice_coach.core.clip import AUDIBLE_THRESHOLD, Clip, trim_silence
from voice_coach.core.protocol import in_language
from voice_coach.core.timeline import session_texts
from voice_coach.errors import SpeechError, UsageError
from voice_coach.files.loader import builtin_names, load_protocol
from voice_coach.speech.engine import RATE_MAX_WPM, RATE_MIN_WPM, SpeechSettings
from voice_coach.speech.espeak import EspeakSpeaker, engine_identity, list_voices
from voice_coach.speech.voices import Voice, match_voice, voice_for_language

ESPEAK_RATE = 22050


def longest_silence_s(clip: Clip) -> float:
    """The longest run of samples at or below the audible threshold, in seconds."""
    quiet = np.abs(clip.samples) <= AUDIBLE_THRESHOLD
    edges = np.diff(np.concatenate(([0], quiet.astype(np.int8), [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return float((ends - starts).max(initial=0)) / clip.sample_rate


def speak(text: str, settings: SpeechSettings | None = None) -> Clip:
    with EspeakSpeaker(settings) as engine:
        return engine.synthesize(text)


@pytest.fixture(scope="module")
def voices() -> list[Voice]:
    return list_voices()


# trim_silence (pure)


def test_trim_silence_keeps_first_to_last_audible_sample():
    samples = np.zeros(100, dtype=np.float32)
    samples[10] = 0.5
    samples[20] = AUDIBLE_THRESHOLD / 2
    samples[60] = -0.25
    trimmed = trim_silence(Clip(samples, 1000))
    assert trimmed.sample_rate == 1000
    assert trimmed.samples.tolist() == samples[10:61].tolist()


def test_trim_silence_of_silence_is_empty():
    quiet = np.full(50, AUDIBLE_THRESHOLD, dtype=np.float32)
    assert trim_silence(Clip(quiet, 1000)).samples.size == 0


# the engine


def test_a_phrase_is_a_trimmed_float32_mono_clip():
    clip = speak("Squeeze")
    assert clip.sample_rate == ESPEAK_RATE
    assert clip.samples.dtype == np.float32
    assert clip.samples.ndim == 1
    assert not clip.samples.flags.writeable
    assert np.abs(clip.samples).max() <= 1.0
    # The first and last samples are audible: no head or tail of silence is left.
    assert abs(clip.samples[0]) > AUDIBLE_THRESHOLD
    assert abs(clip.samples[-1]) > AUDIBLE_THRESHOLD
    # espeak-ng's own file for "Squeeze" is ~0.70 s: ~10 ms before, ~240 ms after.
    assert 0.25 < clip.duration_s < 0.55
    assert longest_silence_s(clip) < 0.1


def test_pyttsx3_printing_stays_off_stdout(capfd):
    speak("Relax")
    out, err = capfd.readouterr()
    assert out == ""
    assert "Audio saved" not in err


def test_voice_listing_has_english_german_spanish_and_french(voices):
    assert len(voices) > 10
    assert len({voice.id for voice in voices}) == len(voices)
    assert all(voice.languages and voice.name for voice in voices)
    assert all(language == language.lower() for voice in voices for language in voice.languages)
    for language in ("en", "de", "es", "fr"):
        assert voice_for_language(language, voices).languages
    assert voice_for_language("de", voices).id == "gmw/de"
    assert voice_for_language("fr", voices).id == "roa/fr"


def test_match_voice_on_the_real_list(voices):
    assert match_voice("gmw/en-us", voices).id == "gmw/en-us"
    assert match_voice("german", voices).id == "gmw/de"
    assert match_voice("es", voices).id == "roa/es"
    assert match_voice("en", voices).id == "gmw/en"
    with pytest.raises(UsageError, match=r"Closest: .*German"):
        match_voice("Germann", voices)


@pytest.mark.parametrize("name", builtin_names())
def test_every_builtin_phrase_in_every_shipped_language_speaks(name, voices):
    protocol = load_protocol(name)
    assert {"en", "de", "es", "fr"} <= set(protocol.languages)
    for language in protocol.languages:
        voice = voice_for_language(language, voices)
        with EspeakSpeaker(SpeechSettings(voice_id=voice.id)) as engine:
            for text in session_texts(in_language(protocol, language)):
                clip = engine.synthesize(text)
                assert abs(clip.samples[0]) > AUDIBLE_THRESHOLD, (language, text)
                assert abs(clip.samples[-1]) > AUDIBLE_THRESHOLD, (language, text)
                assert longest_silence_s(clip) < 1.0, (language, text)


def test_faster_rate_gives_a_shorter_clip():
    text = "Squeeze and relax, two, three"
    slow = speak(text, SpeechSettings(rate_wpm=120))
    fast = speak(text, SpeechSettings(rate_wpm=300))
    assert fast.duration_s < 0.6 * slow.duration_s


def test_two_engines_with_different_rates_keep_their_own_rate():
    # pyttsx3 would drop a rate change queued just before a phrase; each engine must
    # still get its own rate when their phrases alternate on the one espeak instance.
    # (espeak-ng is not sample-exact from run to run at high rates: a few % apart.)
    text = "Halfway there"
    with (
        EspeakSpeaker(SpeechSettings(rate_wpm=100)) as slow,
        EspeakSpeaker(SpeechSettings(rate_wpm=350)) as fast,
    ):
        lengths = [
            (slow.synthesize(text).duration_s, fast.synthesize(text).duration_s) for _ in range(6)
        ]
    for slow_s, fast_s in lengths:
        assert fast_s < 0.5 * slow_s
        assert slow_s == pytest.approx(lengths[0][0], rel=0.05)
        assert fast_s == pytest.approx(lengths[0][1], rel=0.05)


def test_volume_scales_amplitude_but_not_length():
    text = "And relax"
    full = speak(text, SpeechSettings(volume=1.0))
    half = speak(text, SpeechSettings(volume=0.5))
    silent = speak(text, SpeechSettings(volume=0.0))
    ratio = np.abs(half.samples).max() / np.abs(full.samples).max()
    assert ratio == pytest.approx(0.5, rel=0.03)
    assert half.duration_s == pytest.approx(full.duration_s, abs=0.005)
    assert silent.samples.size > 0
    assert not silent.samples.any()


def test_markup_is_refused_not_obeyed():
    for text in ('Squeeze <break time="3s"/> relax', "Squeeze [[slnc 3000]] relax", "<speak>"):
        with pytest.raises(UsageError, match="plain words"):
            speak(text)


def test_angle_brackets_that_are_not_markup_are_spoken_without_a_pause():
    clip = speak("Lift 2 < 3 > 1")
    assert clip.duration_s < 2.5
    assert longest_silence_s(clip) < 0.5


def test_espeak_driver_reads_ssml_aloud_instead_of_pausing(tmp_path):
    """Beneath the refusal: pyttsx3's espeak driver passes no SSML flag, so a <break/>
    is spoken as words and never becomes a 3 s silence."""
    from voice_coach.speech import espeak as speech

    path = tmp_path / "break.wav"
    with speech._lock:
        driver = speech._open_driver()
        driver.configure(None, 175)
        driver.save('Squeeze <break time="3s"/> relax', path)
    clip = speech._read_clip(path, "break", 1.0)
    assert longest_silence_s(clip) < 0.5


SPEAK_IN_TURN = textwrap.dedent(
    """
    import sys, tempfile
    from pathlib import Path
    import numpy as np
    from voice_coach.speech import espeak as speech

    way, voice = sys.argv[1], (sys.argv[2] or None)
    with speech._lock:
        driver = speech._open_driver()
        driver.configure(voice, int(sys.argv[3]))
        for text in ("Squeeze, and hold", "relax", "Squeeze, and hold"):
            if way == "direct":
                samples, rate = driver.synthesize(text)
            else:
                path = Path(tempfile.mkdtemp()) / "own.wav"
                driver.save(text, path)
                samples, rate = np.frombuffer(path.read_bytes()[44:], dtype="<i2"), 22050
            sys.stdout.buffer.write(b"%d %d " % (rate, len(samples)) + samples.tobytes())
    """
)


@pytest.mark.parametrize(("voice_id", "rate"), [("", 175), ("gmw/de", 260)])
def test_direct_synthesis_matches_pyttsx3s_own_path_sample_for_sample(voice_id, rate):
    """Phrases come from espeak-ng through pyttsx3's binding without its run loop (no
    10 ms polling, no WAV file). They must be the very samples pyttsx3's own path
    writes: the way phrases are taken changed, not what they sound like.

    Each way runs in a fresh process: espeak-ng's output for a phrase depends on what it
    spoke before (the same words come out a few ms longer or shorter), so only the same
    sequence from the same start can be compared.
    """
    outputs = {}
    for way in ("direct", "own"):
        done = subprocess.run(
            [sys.executable, "-c", SPEAK_IN_TURN, way, voice_id, str(rate)],
            capture_output=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr.decode()[-2000:]
        outputs[way] = done.stdout
    assert outputs["direct"] == outputs["own"]
    assert outputs["direct"].startswith(b"%d " % ESPEAK_RATE)
    assert len(outputs["direct"]) > 3 * ESPEAK_RATE // 2


def test_pyttsx3s_own_path_still_works_after_direct_synthesis():
    """pyttsx3's run loop ends only when its own callback sees an utterance end, so it
    would wait forever if the direct path left its callback in place. In a child, so a
    hang is a timeout, not a stuck test run; a save may be retried, because pyttsx3's
    own loop now and then loses an utterance's audio (the race EspeakSpeaker retries)."""
    probe = textwrap.dedent(
        """
        import tempfile
        from pathlib import Path
        from voice_coach.speech import espeak as speech

        with speech._lock:
            driver = speech._open_driver()
            driver.configure(None, 175)
            samples, _ = driver.synthesize("relax")
            for attempt in range(3):
                path = Path(tempfile.mkdtemp()) / "own.wav"
                driver.save("relax", path)
                if path.stat().st_size > 44:
                    break
            print(len(samples), path.stat().st_size)
        """
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    direct_frames, own_bytes = map(int, done.stdout.split())
    assert direct_frames > ESPEAK_RATE // 4 and own_bytes > 44 + direct_frames


def test_a_phrase_cut_short_leaves_nothing_behind_for_the_next():
    """Synthesis that times out (or is interrupted) stops espeak-ng before its callback
    goes: no late sample may reach freed memory (a crash) or the next phrase (a mixed
    clip in the cache). In a child, so a crash is a return code, not a lost test run."""
    probe = textwrap.dedent(
        """
        from voice_coach.speech import espeak as speech
        from voice_coach.errors import SpeechError
        from pyttsx3.drivers import _espeak

        long_text = "Squeeze gently, hold it there, and breathe. " * 12
        with speech._lock:
            driver = speech._open_driver()
            driver.configure(None, 175)
            before = _espeak.SynthCallback
            alone = len(driver.synthesize("relax")[0])
            speech.SYNTH_TIMEOUT_S = 0.0
            try:
                driver.synthesize(long_text)
            except SpeechError as exc:
                print("refused:", "did not finish" in str(exc))
            speech.SYNTH_TIMEOUT_S = 30.0
            after = len(driver.synthesize("relax")[0])
            print("restored:", _espeak.SynthCallback is before)
            print(alone, after)
        """
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    refused, restored, lengths = done.stdout.splitlines()
    assert refused == "refused: True" and restored == "restored: True"
    alone, after = map(int, lengths.split())
    assert abs(after - alone) < 0.1 * alone, "the next phrase carries the cut one's tail"


def test_empty_text_is_a_usage_error_and_silent_text_a_speech_error():
    with pytest.raises(UsageError):
        speak("   ")
    with pytest.raises(SpeechError, match="only silence") as caught:
        speak("...")
    assert "espeak-ng" in caught.value.hint


def test_unknown_voice_id_is_a_usage_error_with_suggestions():
    with pytest.raises(UsageError, match=r"Unknown voice id 'gmw/dee'.*gmw/de"):
        speak("Squeeze", SpeechSettings(voice_id="gmw/dee"))


def test_an_engine_that_stays_busy_is_a_speech_error_not_a_hang(monkeypatch):
    """espeak-ng's own Synchronize would wait forever on a queue that never empties; the
    idle wait gives up after SYNTH_TIMEOUT_S. A stuck engine cannot be made on demand,
    so its busy flag is the one fake here; the phrase after it is spoken for real."""
    from pyttsx3.drivers import _espeak

    from voice_coach.speech import espeak as speech

    speak("Squeeze")  # the engine is open and idle
    monkeypatch.setattr(speech, "SYNTH_TIMEOUT_S", 0.05)
    monkeypatch.setattr(_espeak, "IsPlaying", lambda: 1)
    with pytest.raises(SpeechError, match="stayed busy"):
        speech._synchronize()
    monkeypatch.undo()
    assert speak("Squeeze").samples.size > 0


def test_synthesize_outside_the_with_block_is_a_programming_error():
    with pytest.raises(RuntimeError):
        EspeakSpeaker().synthesize("Squeeze")


@pytest.mark.parametrize(
    ("settings", "bound"),
    [
        (SpeechSettings(rate_wpm=RATE_MIN_WPM - 1), str(RATE_MIN_WPM)),
        (SpeechSettings(rate_wpm=RATE_MAX_WPM + 1), str(RATE_MAX_WPM)),
        (SpeechSettings(rate_wpm=True), "whole number"),
        (SpeechSettings(volume=-0.1), "0 to 1"),
        (SpeechSettings(volume=1.5), "0 to 1"),
        (SpeechSettings(volume=float("nan")), "0 to 1"),
        (SpeechSettings(voice_id=" "), "empty"),
    ],
)
def test_settings_out_of_bounds_are_usage_errors(settings, bound):
    with pytest.raises(UsageError, match=bound):
        settings.validate()
    with pytest.raises(UsageError):
        EspeakSpeaker(settings)


def test_bounds_themselves_are_accepted():
    SpeechSettings(rate_wpm=RATE_MIN_WPM, volume=0.0).validate()
    SpeechSettings(rate_wpm=RATE_MAX_WPM, volume=1.0).validate()


def test_engine_identity_names_espeak_ng_its_version_and_how_phrases_are_taken():
    from voice_coach.speech.espeak import ESPEAK_PATH

    identity = engine_identity()
    assert identity.startswith("espeak-ng 1.") and identity.endswith(f" {ESPEAK_PATH}")


def test_engine_identity_follows_the_code_that_drives_the_engine(tmp_path):
    """The phrase cache must not serve clips made by other pyttsx3 code: the identity is
    the same for a byte-identical copy of the package and changes when its espeak
    driver changes, and it is found without importing pyttsx3 at all."""
    import pyttsx3

    copy = tmp_path / "site" / "pyttsx3"
    shutil.copytree(Path(pyttsx3.__file__).parent, copy)
    probe = """
        import sys
        from voice_coach.speech.espeak import engine_identity
        print(engine_identity())
        assert "pyttsx3" not in sys.modules
    """
    env = {**os.environ, "PYTHONPATH": str(copy.parent)}
    same = run_python(probe, env=env)
    assert same.returncode == 0, same.stderr
    assert same.stdout.strip() == engine_identity()
    with (copy / "drivers" / "espeak.py").open("a") as driver:
        driver.write("\n# a local patch\n")
    patched = run_python(probe, env=env)
    assert patched.returncode == 0, patched.stderr
    assert patched.stdout.strip() != engine_identity()
    assert patched.stdout.strip().startswith("espeak-ng 1.")


# a machine without the parts


def run_python(code: str, env: dict[str, str] | None = None, prefix: list[str] | None = None):
    command = [*(prefix or []), sys.executable, "-c", textwrap.dedent(code)]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)


def test_missing_pyttsx3_is_a_speech_error_not_a_traceback():
    result = run_python(
        """
        import sys
        sys.modules["pyttsx3"] = None  # what Python does for a package that is not there
        from voice_coach.errors import SpeechError
        from voice_coach.speech.espeak import EspeakSpeaker
        try:
            with EspeakSpeaker() as engine:
                engine.synthesize("Squeeze")
        except SpeechError as error:
            print("SpeechError:", error.one_line())
        """
    )
    assert result.returncode == 0, result.stderr
    assert "SpeechError: The speech library pyttsx3 cannot be loaded" in result.stdout
    assert "voice-coach doctor" in result.stdout


def espeak_library() -> Path | None:
    for folder in ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib"):
        candidate = Path(folder) / "libespeak-ng.so.1"
        if candidate.exists():
            return candidate.resolve()
    return None


def test_missing_espeak_library_is_a_speech_error_not_a_traceback(tmp_path):
    """Hides the real library behind /dev/null in a private mount namespace (root only)."""
    library = espeak_library()
    if library is None or shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.skip("needs root, unshare and the espeak-ng library to hide it")
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"no private mount namespace here: {probe.stderr.decode().strip()}")
    script = tmp_path / "probe.py"
    script.write_text(
        textwrap.dedent(
            """
        from voice_coach.errors import SpeechError
        from voice_coach.speech.espeak import EspeakSpeaker, engine_identity
        for attempt in (lambda: EspeakSpeaker().__enter__(), engine_identity):
            try:
                attempt()
            except SpeechError as error:
                print("SpeechError:", error.one_line())
        """
        )
    )
    hide = f"mount --bind /dev/null {library} && exec {sys.executable} {script}"
    result = subprocess.run(
        ["unshare", "-m", "sh", "-c", hide], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2, result.stdout
    assert lines[0].startswith("SpeechError: The speech engine could not start")
    assert lines[1].startswith("SpeechError: The espeak-ng library is not installed")
    assert all("voice-coach doctor" in line for line in lines)
