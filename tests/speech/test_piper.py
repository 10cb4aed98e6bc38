"""Piper with the real engine and the real joe voice: clips, the cache, voices added and
removed, bad voice files, the fallback to espeak-ng, and the warm path's imports."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from voice_coach.core.clip import AUDIBLE_THRESHOLD
from voice_coach.core.timeline import CUE_STYLES, session_texts
from voice_coach.errors import VoiceFileError
from voice_coach.files.loader import builtin_names, load_protocol
from voice_coach.speech.engine import ESPEAK, PIPER, SpeechSettings, engine_for
from voice_coach.speech.phrase_cache import (
    ENTRY_SUFFIX,
    Entry,
    _write_entry,
    load_clips,
)
from voice_coach.speech.piper import PEAK, model_digest
from voice_coach.speech.piper_voices import bundled_model, read_model

JOE = "piper:en_US-joe-medium"
SETTINGS = SpeechSettings(voice_id=JOE, engine=PIPER)


def english_phrases() -> list[str]:
    """Every phrase a built-in English session says, in any cue style."""
    texts: dict[str, None] = {}
    for name in builtin_names():
        protocol = load_protocol(name)
        if protocol.language != "en":
            continue
        for style in CUE_STYLES:
            texts.update(dict.fromkeys(session_texts(protocol, style)))
    return list(texts)


def voice_coach(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "voice_coach", *args],
        env={**os.environ, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A data folder and a warm cache of this test's own (VOICE_COACH_* moved there)."""
    monkeypatch.setenv("VOICE_COACH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("VOICE_COACH_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


def joe_copy(folder: Path, stem: str, config_edit=None) -> Path:
    """The joe voice under another name (the model linked, its config copied)."""
    joe = bundled_model()
    assert joe is not None
    folder.mkdir(parents=True, exist_ok=True)
    model = folder / f"{stem}.onnx"
    if joe.model_path.stat().st_dev == folder.stat().st_dev:
        os.link(joe.model_path, model)  # 63 MB, not copied where a link will do
    else:
        shutil.copy(joe.model_path, model)
    config = json.loads(joe.config_path.read_text(encoding="utf-8"))
    if config_edit is not None:
        config_edit(config)
    (folder / f"{stem}.onnx.json").write_text(json.dumps(config), encoding="utf-8")
    return model


# --- the engine and the cache ----------------------------------------------------------


def test_every_builtin_english_phrase_is_a_trimmed_audible_clip(warm_cache):
    """The warmed cache (tests/isolation.py) was filled by Piper, once per run."""
    phrases = english_phrases()
    assert len(phrases) > 20
    loaded = load_clips(phrases, SETTINGS, warm_cache / "phrases")
    assert (loaded.stats.hits, loaded.stats.misses) == (len(phrases), 0)
    assert not loaded.stats.engine_opened
    for text, clip in loaded.clips.items():
        assert clip.sample_rate == 22050, text
        assert clip.samples.dtype == np.float32
        assert abs(clip.samples[0]) > AUDIBLE_THRESHOLD, text
        assert abs(clip.samples[-1]) > AUDIBLE_THRESHOLD, text
        assert 0.1 < clip.duration_s < 6.0, text
        # Each sentence peaks at PEAK (Piper's normalising, then the headroom), or below
        # it where the phrase cache's true-peak limiter brought a peak down.
        assert np.abs(clip.samples).max() <= PEAK + 1e-3, text
        rms = float(np.sqrt(np.mean(clip.samples**2)))
        assert rms > 0.02, text


def test_a_cold_cache_speaks_then_the_second_load_hits(home):
    texts = ["Squeeze", "And relax", "two"]
    first = load_clips(texts, SETTINGS, home / "cache" / "phrases")
    assert (first.stats.misses, first.stats.written) == (3, 3)
    second = load_clips(texts, SETTINGS, home / "cache" / "phrases")
    assert (second.stats.hits, second.stats.engine_opened) == (3, False)
    for text in texts:
        assert np.array_equal(first.clips[text].samples, second.clips[text].samples)


def test_rate_maps_to_length_scale(home):
    """Piper's durations are drawn with noise (one sentence at 175 wpm measured 1.59 to
    1.70 s), so each rate's length is the mean of four syntheses. Measured means: 1.55x
    at 100 wpm, 0.65x at 350 wpm (not 0.5x: the pauses and the vocoder's edges do not
    scale); a rate that was ignored would give 1.0x."""
    lengths = {}
    for rate in (100, 175, 350):
        settings = SpeechSettings(voice_id=JOE, engine=PIPER, rate_wpm=rate)
        with engine_for(PIPER).speaker(settings) as speaker:
            durations = [
                speaker.synthesize("Squeeze gently and hold it there").duration_s for _ in range(4)
            ]
        lengths[rate] = sum(durations) / len(durations)
    assert lengths[100] > lengths[175] * 1.4
    assert lengths[350] < lengths[175] * 0.75


def test_volume_scales_the_samples_not_the_length(home):
    """The engine's own output (the phrase cache then limits each clip's peaks: tested in
    test_phrase_cache.py)."""
    quiet = SpeechSettings(voice_id=JOE, engine=PIPER, volume=0.5)
    with engine_for(PIPER).speaker(quiet) as speaker:
        clip = speaker.synthesize("Halfway there")
    assert np.abs(clip.samples).max() == pytest.approx(PEAK * 0.5, abs=1e-3)


def test_the_first_complete_entry_wins(home):
    """Piper says a phrase differently each time; a second writer keeps the first clip."""
    folder = home / "cache" / "phrases"
    first = load_clips(["Last one"], SETTINGS, folder)
    (path,) = folder.glob("*" + ENTRY_SUFFIX)
    before = path.read_bytes()
    with engine_for(PIPER).speaker(SETTINGS) as speaker:
        again = speaker.synthesize("Last one")
    assert not np.array_equal(again.samples, first.clips["Last one"].samples)
    kept = _write_entry(path, Entry(again, {}))
    assert np.array_equal(kept.clip.samples, first.clips["Last one"].samples)
    assert path.read_bytes() == before


RACER = textwrap.dedent(
    """
    import hashlib, json, sys
    from pathlib import Path
    from voice_coach.speech.engine import SpeechSettings
    from voice_coach.speech.phrase_cache import load_clips
    texts = ["Squeeze", "And relax", "Halfway there", "Last one", "two", "three"]
    settings = SpeechSettings(voice_id="piper:en_US-joe-medium", engine="piper")
    loaded = load_clips(texts, settings, Path(sys.argv[1]))
    print(json.dumps({t: hashlib.sha256(c.samples.tobytes()).hexdigest()
                      for t, c in loaded.clips.items()}))
    """
)


def test_two_processes_filling_one_cache_use_the_same_clips(home):
    """Both start cold at once and both speak; each ends up with what the cache holds."""
    folder = home / "cache" / "phrases"
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, str(folder)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [racer.communicate(timeout=120) for racer in racers]
    assert [racer.returncode for racer in racers] == [0, 0], results
    seen = [json.loads(out) for out, _ in results]
    assert seen[0] == seen[1]
    cached = load_clips(list(seen[0]), SETTINGS, folder)
    assert not cached.stats.engine_opened
    for text, clip in cached.clips.items():
        assert hashlib.sha256(clip.samples.tobytes()).hexdigest() == seen[0][text]


def test_the_model_digest_is_kept_by_path_size_and_time(home):
    model = joe_copy(home / "models", "en_US-copy-medium")
    copy = home / "models" / "copy.onnx"
    shutil.copy(model, copy)
    digest = model_digest(copy)
    stat = copy.stat()
    with copy.open("r+b") as data:  # same size, same time, other bytes: still kept
        data.seek(1000)
        data.write(b"\xff" * 16)
    os.utime(copy, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert model_digest(copy) == digest
    os.utime(copy, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert model_digest(copy) != digest
    stored = json.loads((home / "cache" / "model-digests.json").read_text(encoding="utf-8"))
    assert str(copy.resolve()) in stored


def test_the_warm_path_imports_neither_onnxruntime_nor_piper(warm_cache):
    """python -X importtime lists every module a warm `script` imports."""
    root = warm_cache
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "voice_coach", "script", "--json"],
        env={**os.environ, "VOICE_COACH_CACHE_DIR": str(root)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["voice"] == {"id": JOE, "engine": PIPER}
    imported = [
        line.rsplit("|", 1)[-1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    ]
    assert "voice_coach.speech.phrase_cache" in imported  # the listing is real
    heavy = [
        name
        for name in imported
        if name.split(".")[0] in ("onnxruntime", "piper", "pyttsx3", "onnx")
    ]
    assert heavy == []


# --- choosing the voice ----------------------------------------------------------------


def test_the_default_english_session_speaks_with_joe_and_says_so(warm_cache, tmp_path):
    root = warm_cache
    done = voice_coach(["script", "--json"], {"VOICE_COACH_CACHE_DIR": str(root)}, tmp_path)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert json.loads(done.stdout)["voice"] == {"id": JOE, "engine": PIPER}
    forced = voice_coach(
        ["script", "--json", "--engine", "espeak-ng"],
        {"VOICE_COACH_CACHE_DIR": str(root)},
        tmp_path,
    )
    assert forced.returncode == 0, forced.stderr
    assert json.loads(forced.stdout)["voice"]["engine"] == ESPEAK


@pytest.mark.parametrize("lang", ["de", "es", "fr"])
def test_other_languages_speak_with_espeak_ng(home, lang, capsys):
    from voice_coach.cli import main

    assert main(["script", "--json", "--lang", lang, "--cues", "voice"]) == 0
    voice = json.loads(capsys.readouterr().out)["voice"]
    assert voice["engine"] == ESPEAK and voice["id"].endswith(lang)


def test_engine_piper_for_a_language_it_has_no_voice_for_is_an_error(home, capsys):
    from voice_coach.cli import main

    assert main(["script", "--lang", "de", "--engine", "piper"]) == 2
    assert "No installed voice speaks 'de'" in capsys.readouterr().err


FALLBACK = textwrap.dedent(
    """
    import sys
    sys.modules[sys.argv[1]] = None  # as if it were not installed: its import fails
    from voice_coach.cli import main
    sys.exit(main(["script", "--json"]))
    """
)


@pytest.mark.parametrize(
    ("hidden", "why"),
    [("piper", "piper-tts is not installed"), ("onnxruntime", "neural engine cannot be loaded")],
)
def test_without_the_engine_the_session_falls_back_to_espeak_ng_and_says_so_once(
    tmp_path, hidden, why
):
    done = subprocess.run(
        [sys.executable, "-c", FALLBACK, hidden],
        env={**os.environ, "VOICE_COACH_CACHE_DIR": str(tmp_path / "cache")},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["voice"] == {"id": "gmw/en", "engine": ESPEAK}
    lines = done.stderr.splitlines()
    assert len(lines) == 1, lines
    assert why in lines[0] and "espeak-ng" in lines[0]


def test_a_voice_that_no_longer_loads_falls_back_too(home):
    """An added voice whose model was damaged after it was added."""
    from voice_coach.cli import main

    model = joe_copy(home / "downloads", "en_GB-fragile-medium")
    assert main(["voices", "add", str(model)]) == 0
    added = home / "data" / "voices" / "en_GB-fragile-medium.onnx"
    added.unlink()
    added.write_bytes(b"not a model any more")
    done = voice_coach(["script", "--json", "--voice", "piper:en_GB-fragile-medium"], {}, home)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["voice"]["engine"] == ESPEAK
    assert len(done.stderr.splitlines()) == 1 and "does not load" in done.stderr


ESPEAK_AROUND_PIPER = textwrap.dedent(
    """
    import hashlib, sys
    from voice_coach.speech.engine import SpeechSettings, engine_for
    espeak = engine_for("espeak-ng")
    def say(settings, text):
        with espeak.speaker(settings) as speaker:
            return hashlib.sha256(speaker.synthesize(text).samples.tobytes()).hexdigest()
    def piper():
        with engine_for("piper").speaker(SpeechSettings(engine="piper")) as speaker:
            assert speaker.synthesize("Squeeze, and hold").samples.size > 0
    if sys.argv[1] == "piper-first":  # as on the fallback path: Piper, then espeak-ng
        piper()
    out = [say(SpeechSettings(voice_id="gmw/de"), "Drücken und halten")]
    if sys.argv[1] == "piper-between":
        piper()
    out.append(say(SpeechSettings(voice_id="gmw/de"), "Drücken und halten"))
    out.append(say(SpeechSettings(), "Squeeze"))
    print(" ".join(out))
    """
)


def test_piper_and_pyttsx3s_espeak_ng_live_in_one_process():
    """piper-tts's own espeak-ng (linked into its extension) and the system's, which
    pyttsx3 loads, do not disturb each other: espeak-ng speaks the same samples with
    Piper used before it or in between as without."""
    runs = {
        way: subprocess.run(
            [sys.executable, "-c", ESPEAK_AROUND_PIPER, way],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        ).stdout
        for way in ("alone", "piper-first", "piper-between")
    }
    assert runs["alone"] == runs["piper-first"] == runs["piper-between"]
    assert len(runs["alone"].split()) == 3


def test_each_voice_is_phonemised_in_its_own_language(home):
    """The config's espeak voice decides: a German config phonemises German."""
    from voice_coach.speech.piper import load_voice

    def german(config: dict) -> None:
        config["espeak"]["voice"] = "de"
        config["language"]["code"] = "de_DE"

    model = read_model(joe_copy(home / "models", "de_DE-test-medium", german))
    assert model.language == "de-de"
    phonemes = "".join(load_voice(model).phonemize("zwei")[0])
    english = "".join(load_voice(bundled_model()).phonemize("zwei")[0])
    assert phonemes.startswith("ts"), phonemes  # German z is /ts/
    assert not english.startswith("ts"), english


# --- voices add and remove -------------------------------------------------------------


def test_voices_add_lists_uses_and_removes_an_added_voice(home, capsys):
    from voice_coach.cli import main

    model = joe_copy(home / "downloads", "en_GB-added-medium")
    assert main(["voices", "add", str(model)]) == 0
    assert "piper:en_GB-added-medium" in capsys.readouterr().out
    assert (home / "data" / "voices" / "en_GB-added-medium.onnx.json").is_file()
    assert main(["voices", "--json"]) == 0
    listed = {v["id"]: v for v in json.loads(capsys.readouterr().out)}
    assert listed["piper:en_GB-added-medium"]["engine"] == PIPER
    assert listed[JOE]["engine"] == PIPER and listed["gmw/en"]["engine"] == ESPEAK
    assert main(["script", "--json", "--voice", "piper:en_GB-added-medium", "--reps", "1"]) == 0
    assert json.loads(capsys.readouterr().out)["voice"]["id"] == "piper:en_GB-added-medium"
    assert main(["voices", "add", str(model)]) == 2  # exists
    assert "already added" in capsys.readouterr().err
    assert main(["voices", "add", str(model), "--force"]) == 0
    capsys.readouterr()
    assert main(["voices", "remove", "piper:en_GB-added-medium"]) == 0
    assert capsys.readouterr().out == "Removed piper:en_GB-added-medium\n"
    assert list((home / "data" / "voices").iterdir()) == []
    assert main(["voices", "--json"]) == 0
    assert "piper:en_GB-added-medium" not in capsys.readouterr().out


def _no_language(config: dict) -> None:
    del config["language"]
    del config["espeak"]


def _unknown_espeak_voice(config: dict) -> None:
    config["espeak"]["voice"] = "xx-nonexistent"


def _no_rate(config: dict) -> None:
    del config["audio"]["sample_rate"]


def bad_not_a_model(folder: Path) -> Path:
    model = joe_copy(folder, "en_US-garbage-medium")
    model.unlink()
    model.write_bytes(b"this is not an onnx model\n" * 100)
    return model


def bad_no_config(folder: Path) -> Path:
    model = joe_copy(folder, "en_US-lonely-medium")
    (folder / "en_US-lonely-medium.onnx.json").unlink()
    return model


def bad_config_not_json(folder: Path) -> Path:
    model = joe_copy(folder, "en_US-broken-medium")
    (folder / "en_US-broken-medium.onnx.json").write_text("{not json", encoding="utf-8")
    return model


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (bad_not_a_model, "en_US-garbage-medium.onnx does not load"),
        (bad_no_config, "has no config beside it: en_US-lonely-medium.onnx.json is missing"),
        (lambda f: joe_copy(f, "xx-nolang", _no_language), "names no language"),
        (lambda f: joe_copy(f, "xx-norate", _no_rate), "names no usable sample rate"),
        (
            lambda f: joe_copy(f, "xx-mute", _unknown_espeak_voice),
            "loads but cannot speak: Failed to set voice: xx-nonexistent",
        ),
        (bad_config_not_json, "is not a readable JSON voice config"),
        (lambda f: f, "is a folder, not a Piper model"),
        (lambda f: f / "missing.onnx", "missing.onnx: no such file"),
        (lambda f: Path(shutil.copy(__file__, f / "voice.txt")), "its name must end in .onnx"),
    ],
    ids=[
        "not-a-model",
        "no-config",
        "no-language",
        "no-rate",
        "cannot-speak",
        "bad-json",
        "folder",
        "missing",
        "not-onnx",
    ],
)
def test_voices_add_refuses_bad_voice_files_and_copies_nothing(home, make, message):
    folder = home / "downloads"
    folder.mkdir()
    path = make(folder)
    done = voice_coach(["voices", "add", str(path)], {}, home)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and message in lines[0], lines
    assert "Traceback" not in done.stderr
    voices = home / "data" / "voices"
    assert not voices.exists() or list(voices.iterdir()) == []


@pytest.mark.parametrize(
    ("voice_id", "message"),
    [
        (JOE, "is the bundled voice and cannot be removed"),
        ("gmw/en", "system voices cannot be removed"),
        ("piper:nobody", "No added voice 'piper:nobody'"),
        ("piper:../../etc/passwd", "No added voice"),
    ],
)
def test_voices_remove_refuses_what_it_cannot_remove(home, voice_id, message):
    done = voice_coach(["voices", "remove", voice_id], {}, home)
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.splitlines()) == 1 and message in done.stderr, done.stderr
    assert bundled_model() is not None and bundled_model().model_path.is_file()


def test_read_model_names_the_file_for_a_folder(tmp_path):
    with pytest.raises(VoiceFileError, match="is a folder"):
        read_model(tmp_path)


# --- what is cached is what is heard ---------------------------------------------------


@pytest.mark.parametrize("style", ["voice", "both"])
def test_an_export_holds_each_cached_clip_from_its_cues_first_sample(warm_cache, tmp_path, style):
    """script, export and the cache agree sample for sample: each word of the exported
    file is the cached clip, starting at round(at_s * rate), wherever no tone overlaps."""
    import soundfile

    root = warm_cache
    env = {"VOICE_COACH_CACHE_DIR": str(root)}
    out = tmp_path / "session.wav"
    args = ["--cues", style, "--reps", "3", "--loudness", "off"]  # the clips, no gain
    script = voice_coach(["script", "--json", *args], env, tmp_path)
    export = voice_coach(["export", *args, "-o", str(out), "--quiet"], env, tmp_path)
    assert (script.returncode, export.returncode) == (0, 0), script.stderr + export.stderr
    timeline = json.loads(script.stdout)
    assert timeline["voice"]["engine"] == PIPER
    samples, rate = soundfile.read(out, dtype="float32")
    assert rate == 22050
    cues = timeline["cues"]
    words = [cue for cue in cues if cue["kind"] == "say"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VOICE_COACH_CACHE_DIR", str(root))
        cached = load_clips([cue["text"] for cue in words], SETTINGS, root / "phrases")
    assert not cached.stats.engine_opened
    spans = [(round(c["at_s"] * rate), round((c["at_s"] + c["duration_s"]) * rate)) for c in cues]
    checked = 0
    for cue in words:
        start = round(cue["at_s"] * rate)
        clip = cached.clips[cue["text"]].samples
        end = start + len(clip)
        if any(s < end and start < e and (s, e) != (start, end) for s, e in spans):
            continue  # a tone sounds here too
        heard = samples[start:end]
        assert np.max(np.abs(heard - clip)) <= 1.5 / 32768, cue  # 16-bit rounding only
        if not any(s <= start - 1 < e for s, e in spans):  # nothing sounds just before it
            assert abs(samples[start - 1]) <= AUDIBLE_THRESHOLD, cue
        checked += 1
    assert checked >= len(words) // 2, f"only {checked} of {len(words)} words were clear"


def test_voices_add_refuses_a_nul_in_the_name_and_a_fifo(home, capsys):
    from voice_coach.cli import main

    assert main(["voices", "add", "a\x00b.onnx"]) == 2
    assert "holds a NUL character" in capsys.readouterr().err
    fifo = home / "pipe.onnx"
    os.mkfifo(fifo)
    (home / "pipe.onnx.json").write_text("{}", encoding="utf-8")
    assert main(["voices", "add", str(fifo)]) == 2  # never opened: it would block
    assert "is not a regular file" in capsys.readouterr().err
    assert not (home / "data" / "voices").exists()


def test_every_builtin_english_session_fits_its_timing_with_joe(warm_cache):
    """No overlap error: each word ends before the next cue, in every cue style."""
    from voice_coach.session import SessionOptions, prepare_session

    sessions = 0
    for name in builtin_names():
        if load_protocol(name).language != "en":
            continue
        for style in CUE_STYLES:
            prepared = prepare_session(name, SessionOptions(style=style))
            assert prepared.voice.id == JOE, (name, style)
            sessions += 1
    assert sessions == 9


def test_doctor_reports_the_neural_engine_its_voices_and_a_timed_phrase(home):
    done = voice_coach(["doctor", "--silent"], {}, home)  # no sound device: exit 1
    assert "Traceback" not in done.stderr
    (line,) = [line for line in done.stdout.splitlines() if "neural speech" in line]
    assert line.startswith("ok"), line
    assert "piper-tts 1." in line and JOE in line and "a test phrase" in line, line
