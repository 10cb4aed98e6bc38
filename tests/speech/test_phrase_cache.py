"""The phrase cache with the real espeak-ng: hits, damage, two writers, no folder."""

import itertools
import math
import multiprocessing
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import platformdirs
import pytest

from voice_coach.audio.onset import perceived_onset_s
from voice_coach.errors import UsageError
from voice_coach.speech import phrase_cache
from voice_coach.speech.engine import SpeechSettings
from voice_coach.speech.espeak import engine_identity, list_voices
from voice_coach.speech.phrase_cache import (
    CACHE_DIR_ENV,
    CACHE_FORMAT_VERSION,
    ENTRY_SUFFIX,
    FACTS,
    Entry,
    _read_entry,
    _write_entry,
    cache_key,
    default_cache_dir,
    load_clips,
    load_voices,
)

PHRASES = ["Squeeze", "And relax", "two", "three", "Halfway there", "Last one"]
SETTINGS = SpeechSettings()


def entries(folder: Path) -> list[Path]:
    return sorted(folder.glob("*" + ENTRY_SUFFIX))


def same(a, b) -> bool:
    return a.sample_rate == b.sample_rate and np.array_equal(a.samples, b.samples)


def test_second_load_is_all_hits_and_gives_the_same_samples(tmp_path):
    first = load_clips(PHRASES, SETTINGS, tmp_path)
    assert (first.stats.hits, first.stats.misses, first.stats.written) == (0, 6, 6)
    assert first.stats.engine_opened
    assert first.notes == ()
    assert len(entries(tmp_path)) == 6
    second = load_clips(PHRASES, SETTINGS, tmp_path)
    assert (second.stats.hits, second.stats.misses, second.stats.written) == (6, 0, 0)
    assert not second.stats.engine_opened
    assert list(second.clips) == PHRASES
    for text in PHRASES:
        assert same(first.clips[text], second.clips[text])
        assert not second.clips[text].samples.flags.writeable


def test_each_new_phrase_is_its_own_words_when_several_are_made_at_once(tmp_path):
    """New phrases are limited on worker threads while the engine speaks the next: each
    text must still get its own clip and figures. espeak-ng does not speak a text to the
    same sample twice (its lengths vary by up to 2 %), so the texts differ in length by
    a third or more, and each clip must be within 10 % of the same text made alone."""
    texts = ["Go", "Squeeze", "And relax now", "Halfway there, keep going",
             "Well done. That was a good long session of squeezes."]  # fmt: skip
    together = load_clips(texts, SETTINGS, tmp_path / "together")
    lengths = [len(together.clips[text].samples) for text in texts]
    assert all(b > a * 1.3 for a, b in itertools.pairwise(lengths)), lengths
    for text in texts:
        alone = load_clips([text], SETTINGS, tmp_path / "alone" / text[:8].replace(" ", "-"))
        clip = together.clips[text]
        assert len(clip.samples) == pytest.approx(len(alone.clips[text].samples), rel=0.1), text
        # Its figures are its own: one per 10 ms of the clip and its 50 ms of ring-out.
        ring = round(0.05 * clip.sample_rate)
        steps = math.ceil((len(clip.samples) + ring) / (clip.sample_rate * 0.01))
        assert len(together.facts[text]["loudness"]["power"]) == steps, text


def test_a_warm_cache_never_loads_pyttsx3(tmp_path):
    load_clips(PHRASES, SETTINGS, tmp_path)
    code = f"""
        import sys
        from pathlib import Path
        from voice_coach.speech.phrase_cache import load_clips
        from voice_coach.speech.engine import SpeechSettings
        loaded = load_clips({PHRASES!r}, SpeechSettings(), Path({str(tmp_path)!r}))
        print(loaded.stats.hits, loaded.stats.misses, "pyttsx3" in sys.modules)
        """
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["6", "0", "False"]


def test_duplicates_are_spoken_once(tmp_path):
    loaded = load_clips(["two", "three", "two", "two"], SETTINGS, tmp_path)
    assert list(loaded.clips) == ["two", "three"]
    assert loaded.stats.misses == 2


def test_each_part_of_the_key_changes_it():
    engine = engine_identity()
    base = cache_key("Squeeze", SETTINGS, engine)
    assert cache_key("Squeeze", SpeechSettings(), engine) == base
    others = [
        cache_key("squeeze", SETTINGS, engine),
        cache_key("Squeeze", SpeechSettings(voice_id="gmw/de"), engine),
        cache_key("Squeeze", SpeechSettings(rate_wpm=176), engine),
        cache_key("Squeeze", SpeechSettings(volume=0.9), engine),
        cache_key("Squeeze", SETTINGS, engine + " (newer)"),
    ]
    assert len({base, *others}) == 6


def test_a_new_cache_format_keys_every_entry_afresh(monkeypatch):
    """Entries written by another format version are never read as this one's."""
    engine = engine_identity()
    base = cache_key("Squeeze", SETTINGS, engine)
    monkeypatch.setattr(phrase_cache, "CACHE_FORMAT_VERSION", CACHE_FORMAT_VERSION + 1)
    assert cache_key("Squeeze", SETTINGS, engine) != base


def test_other_settings_miss_and_keep_their_own_entries(tmp_path):
    load_clips(["Squeeze"], SETTINGS, tmp_path)
    quieter = load_clips(["Squeeze"], SpeechSettings(volume=0.5), tmp_path)
    assert quieter.stats.misses == 1
    assert len(entries(tmp_path)) == 2


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda data: data[: len(data) // 2], id="truncated"),
        pytest.param(lambda data: data[:20], id="header-only"),
        pytest.param(lambda data: b"", id="empty"),
        pytest.param(lambda data: data[:-1] + bytes([data[-1] ^ 0x40]), id="flipped-bit"),
        pytest.param(lambda data: b"RIFF" + data[4:], id="wrong-magic"),
        pytest.param(lambda data: data + b"\0\0\0\0", id="too-long"),
    ],
)
def test_a_damaged_entry_is_made_again_not_trusted(tmp_path, damage):
    original = load_clips(["Halfway there"], SETTINGS, tmp_path).clips["Halfway there"]
    (entry,) = entries(tmp_path)
    whole = entry.read_bytes()
    entry.write_bytes(damage(whole))
    again = load_clips(["Halfway there"], SETTINGS, tmp_path)
    assert (again.stats.hits, again.stats.misses, again.stats.rebuilt) == (0, 1, 1)
    clip = again.clips["Halfway there"]
    assert clip.samples.size > 0
    assert clip.duration_s == pytest.approx(original.duration_s, rel=0.05)
    # The rewritten entry is whole again and is trusted on the next load.
    assert entry.stat().st_size > len(whole) * 0.9
    third = load_clips(["Halfway there"], SETTINGS, tmp_path)
    assert (third.stats.hits, third.stats.rebuilt) == (1, 0)
    assert same(third.clips["Halfway there"], clip)


def peak(clip) -> float:
    return float(np.abs(clip.samples).max())


def test_facts_are_measured_once_kept_in_the_entry_and_added_to_older_entries(
    tmp_path, monkeypatch
):
    """A measure registered in FACTS is stored with each new entry; an entry written
    before the measure existed gets it measured on reading, with no new format."""
    monkeypatch.setattr(phrase_cache, "FACTS", {})  # a version that measured nothing
    load_clips(["two"], SETTINGS, tmp_path)
    (older,) = entries(tmp_path)
    assert _read_entry(older)[0].facts == {}
    monkeypatch.setattr(phrase_cache, "FACTS", {"peak": peak})
    loaded = load_clips(["two", "three"], SETTINGS, tmp_path)
    for text in ("two", "three"):
        assert loaded.facts[text] == {"peak": peak(loaded.clips[text])}
    monkeypatch.setattr(phrase_cache, "FACTS", {})
    by_facts = {tuple(_read_entry(path)[0].facts) for path in entries(tmp_path)}
    assert by_facts == {(), ("peak",)}  # "three" keeps its fact; "two" was not rewritten


def test_a_new_entry_is_limited_and_keeps_its_loudness_figures(tmp_path):
    """The limiter runs as a phrase enters the cache, and its figures (measured after it)
    come back from the entry: a warm start has them without measuring."""
    from voice_coach.audio.loudness import (
        CLIP_PEAK_ABOVE_LU,
        ClipLoudness,
        clip_lufs,
        measure_clip,
        true_peak,
    )
    from voice_coach.speech.espeak import EspeakSpeaker

    text = "Well done. That's the session."
    made = load_clips([text], SETTINGS, tmp_path)
    figures = ClipLoudness.from_record(made.facts[text]["loudness"])
    clip = made.clips[text]
    assert figures is not None
    with EspeakSpeaker(SETTINGS) as engine:  # the same words as spoken, before the limiter
        raw = engine.synthesize(text)
    raw_figures = measure_clip(raw.samples, raw.sample_rate)
    ceiling_db = clip_lufs(raw_figures) + CLIP_PEAK_ABOVE_LU
    assert 20 * np.log10(raw_figures.true_peak) > ceiling_db + 1  # the limiter had work
    peak = true_peak(clip.samples, clip.sample_rate)
    assert 20 * np.log10(peak) <= ceiling_db + 0.05
    assert figures.true_peak == pytest.approx(peak, rel=1e-6)
    # The clip as kept (after the limiter), not the words as spoken: the limiter takes
    # 3 to 5 LU off them, and the figures (the K-weighted words times the limiter's gain,
    # see prepare_clip) are within 0.01 LU of measuring the kept clip again.
    kept_lufs = clip_lufs(measure_clip(clip.samples, clip.sample_rate))
    assert clip_lufs(figures) == pytest.approx(kept_lufs, abs=0.01)
    assert clip_lufs(raw_figures) > kept_lufs + 1
    (path,) = entries(tmp_path)
    kept, _ = _read_entry(path)
    assert kept.facts["loudness"] == made.facts[text]["loudness"]
    assert np.array_equal(kept.clip.samples, clip.samples)


def test_each_entry_keeps_where_its_words_are_heard(tmp_path, monkeypatch):
    """The onset is measured once, when the entry is made, and read back after: an entry
    whose stored onset differs from a fresh measure gives the stored one."""
    made = load_clips(["Squeeze"], SETTINGS, tmp_path)
    clip = made.clips["Squeeze"]
    assert made.facts["Squeeze"]["onset_s"] == perceived_onset_s(clip.samples, clip.sample_rate)
    assert made.facts["Squeeze"]["onset_s"] > 0.1  # "Squeeze" is heard at its vowel
    (path,) = entries(tmp_path)
    path.unlink()  # the first entry written wins: make room for one with another onset
    _write_entry(path, Entry(clip, {"onset_s": 0.123}))
    calls = []
    monkeypatch.setitem(FACTS, "onset_s", lambda c: calls.append(c) or 0.0)
    assert load_clips(["Squeeze"], SETTINGS, tmp_path).facts["Squeeze"]["onset_s"] == 0.123
    assert calls == [], "a kept onset is read, not measured again"
    path.unlink()
    _write_entry(path, Entry(clip, {}))  # written before onsets were kept
    assert load_clips(["Squeeze"], SETTINGS, tmp_path).facts["Squeeze"]["onset_s"] == 0.0
    assert len(calls) == 1


def _fill(folder: str, barrier, results) -> None:
    barrier.wait(timeout=30)
    loaded = load_clips(PHRASES, SpeechSettings(), Path(folder))
    results.put((len(loaded.clips), loaded.stats.misses, loaded.notes))


def test_two_processes_filling_the_same_cache_at_once_both_succeed(tmp_path):
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    results = context.Queue()
    workers = [
        context.Process(target=_fill, args=(str(tmp_path), barrier, results)) for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    # Meanwhile, read every entry that appears: none may ever be seen half written.
    seen, damaged = set(), []
    while any(worker.is_alive() for worker in workers):
        for entry in entries(tmp_path):
            found, broken = _read_entry(entry)
            if broken:
                damaged.append(entry.name)
            elif found is not None:
                seen.add(entry.name)
    for worker in workers:
        worker.join(timeout=60)
    assert [worker.exitcode for worker in workers] == [0, 0]
    assert damaged == []
    assert seen
    outcomes = [results.get(timeout=5) for _ in workers]
    assert all(count == len(PHRASES) and notes == () for count, _, notes in outcomes)
    # Both started cold together, so both spoke: they really did race on the same files.
    assert sum(misses for _, misses, _ in outcomes) > len(PHRASES)
    assert len(entries(tmp_path)) == len(PHRASES)
    assert list(tmp_path.glob("*.tmp")) == []
    after = load_clips(PHRASES, SETTINGS, tmp_path)
    assert (after.stats.hits, after.stats.rebuilt) == (len(PHRASES), 0)


def test_an_unwritable_cache_folder_still_gives_every_clip(tmp_path):
    # Tests run as root, and chmod does not stop root, so the folder is made impossible
    # instead: its parent is a regular file, which no user can create a folder under.
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where a folder should be")
    folder = blocker / "phrases"
    loaded = load_clips(PHRASES, SETTINGS, folder)
    assert list(loaded.clips) == PHRASES
    assert all(clip.samples.size > 0 for clip in loaded.clips.values())
    assert loaded.stats.unwritable is not None
    assert loaded.stats.written == 0
    assert len(loaded.notes) == 1
    assert str(folder) in loaded.notes[0]
    assert CACHE_DIR_ENV in loaded.notes[0]
    again = load_clips(PHRASES, SETTINGS, folder)
    assert again.stats.misses == len(PHRASES)


def test_default_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path))
    assert default_cache_dir() == tmp_path / "phrases"
    load_clips(["three"], SETTINGS)
    assert len(entries(tmp_path / "phrases")) == 1
    monkeypatch.delenv(CACHE_DIR_ENV)
    assert default_cache_dir() == Path(platformdirs.user_cache_dir("voice-coach")) / "phrases"


def test_bad_settings_and_markup_fail_before_any_speech(tmp_path):
    with pytest.raises(UsageError):
        load_clips(["Squeeze"], SpeechSettings(rate_wpm=10), tmp_path)
    with pytest.raises(UsageError):
        load_clips(["Squeeze", "<break time='3s'/>"], SETTINGS, tmp_path)
    assert entries(tmp_path) == []


# the voice list kept beside the phrases


def voice_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("voices-*.json"))


def test_voice_list_is_kept_and_read_back_without_the_engine(tmp_path):
    listed = load_voices(tmp_path)
    assert listed == list_voices()
    assert len(voice_files(tmp_path)) == 1
    code = f"""
        import sys
        from pathlib import Path
        from voice_coach.speech.phrase_cache import load_voices
        voices = load_voices(Path({str(tmp_path)!r}))
        print(len(voices), voices[0].id, "pyttsx3" in sys.modules)
        """
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(len(listed)), listed[0].id, "False"]


def test_a_damaged_or_stale_voice_list_is_listed_again(tmp_path):
    load_voices(tmp_path)
    (kept,) = voice_files(tmp_path)
    kept.write_text('{"voices": [{"id": "gmw/en"}]}')
    assert load_voices(tmp_path) == list_voices()
    kept.write_text('{"voices": [{"id": "x", "name": "X", "languages": ["xx"], "gender": null}]}')
    assert [voice.id for voice in load_voices(tmp_path)] == ["x"]
    assert load_voices(tmp_path, refresh=True) == list_voices()
    assert load_voices(tmp_path) == list_voices()


def test_voice_list_without_a_writable_folder_still_lists(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert load_voices(blocker / "phrases") == list_voices()
