"""The user's files and the phrase cache survive kill -9, company, no permission, no space.

Every process here is real (``python -m voice_coach`` or a child calling the library),
killed for real with SIGKILL at moments drawn from a seeded generator, so a failure can
be replayed. What a SIGKILL can leave is a temporary file: nothing can clean up after
it. What it must never leave is a short or broken file under a final name: a cache
entry that does not load, or an export that is not a whole, readable session.

Root ignores permissions, so "not writable" is made real with what root cannot write
either: a path under a regular file, and read-only or full tmpfs mounts (skipped with
the reason when this machine does not allow ``mount``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import re
import resource
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import soundfile as sf

from voice_coach.files.leftovers import STALE_AFTER_S
from voice_coach.speech.engine import SpeechSettings
from voice_coach.speech.phrase_cache import ENTRY_SUFFIX, _read_entry, load_clips

SEED = 20240607
KILLS = 8


def cli(args: list[str], cwd: Path, cache: Path, **kwargs: object) -> subprocess.Popen[bytes]:
    env = {**os.environ, "VOICE_COACH_CACHE_DIR": str(cache)}
    return subprocess.Popen(
        [sys.executable, "-m", "voice_coach", *args],
        cwd=cwd,
        env=env,
        stdout=kwargs.pop("stdout", subprocess.PIPE),  # type: ignore[arg-type]
        stderr=subprocess.PIPE,
    )


def finish(process: subprocess.Popen[bytes], timeout: float = 180) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, (out or b"").decode("utf-8", "replace"), err.decode("utf-8")


def kill_after(process: subprocess.Popen[bytes], delay_s: float) -> bool:
    """SIGKILL ``process`` after ``delay_s``; true when it was still running then."""
    try:
        process.wait(timeout=delay_s)
        return False
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=30)
        return True


@contextlib.contextmanager
def tmpfs(folder: Path, options: str) -> Iterator[Path]:
    """A small tmpfs at ``folder`` (a full disk, or a read-only one), or a skip."""
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()}); run as root to test")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False)


def entries(folder: Path) -> list[Path]:
    return sorted(folder.glob("*" + ENTRY_SUFFIX))


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- the phrase cache -------------------------------------------------------------------

# Enough phrases that a filler is still speaking at the latest kill (1.2 s): 40 took
# 0.45 s here, and the test then killed too few fillers to mean anything.
FILLER_PHRASES = 160
FILLER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from voice_coach.speech.phrase_cache import load_clips
    from voice_coach.speech.engine import SpeechSettings
    texts = [f"Round {sys.argv[2]}, phrase {i}: squeeze gently, then relax and breathe."
             " Hold it, and let go slowly." * 2 for i in range(int(sys.argv[3]))]
    load_clips(texts, SpeechSettings(), Path(sys.argv[1]))
    """
)


class EntryWatcher:
    """Reads every cache entry it can see, over and over, while writers run.

    A writer that wrote in place would be caught here with a half file, at any moment,
    not only at the moment of a kill.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.reads = 0
        self.broken: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> EntryWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            for path in entries(self.folder):
                entry, damaged = _read_entry(path)
                self.reads += 1
                if damaged or (entry is None and path.exists()):
                    self.broken.append(path.name)


def wait_for_entries(process: subprocess.Popen[bytes], folder: Path, more_than: int) -> bool:
    """Until ``folder`` holds more than ``more_than`` entries (or the process has ended)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None or len(entries(folder)) > more_than:
            return True
        time.sleep(0.001)
    return False


def test_cache_entries_are_whole_after_kill_9_at_random_moments(tmp_path: Path) -> None:
    """Each kill lands a random 0-0.3 s after the round's first entry is written: inside
    the filling on a fast machine and a slow one alike (a phrase here takes about 0.1 s
    to speak and 40 are asked for), never while the engine is still starting."""
    cache = tmp_path / "cache"
    cache.mkdir()
    chance = random.Random(SEED)
    killed = 0
    with EntryWatcher(cache) as watcher:
        for round_no in range(KILLS):
            before = len(entries(cache))
            filler = subprocess.Popen(
                [sys.executable, "-c", FILLER, str(cache), str(round_no), str(FILLER_PHRASES)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            assert wait_for_entries(filler, cache, before), "the filler wrote nothing"
            killed += kill_after(filler, chance.uniform(0.0, 0.3))
    assert killed == KILLS, "a filler finished before its kill: that round tested nothing"
    assert watcher.reads > 0 and watcher.broken == []

    final = entries(cache)
    assert final, "no entry was written before the kills"
    for path in final:
        entry, damaged = _read_entry(path)
        assert entry is not None and not damaged, path.name
    # Temporary files are what SIGKILL leaves; they must not look like entries.
    leftovers = [p.name for p in cache.iterdir() if not p.name.endswith(ENTRY_SUFFIX)]
    assert all(name.startswith(".") and name.endswith(".tmp") for name in leftovers), leftovers


def test_two_processes_filling_one_cache_both_succeed_with_whole_entries(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    with EntryWatcher(cache) as watcher:
        fillers = [
            subprocess.Popen(
                [sys.executable, "-c", FILLER, str(cache), "same", str(FILLER_PHRASES)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            for _ in range(2)
        ]
        results = [(f.wait(timeout=180), f.stderr.read()) for f in fillers]  # type: ignore[union-attr]
    assert results == [(0, b""), (0, b"")]
    assert watcher.broken == []
    assert len(entries(cache)) == FILLER_PHRASES
    assert [p.name for p in cache.iterdir() if not p.name.endswith(ENTRY_SUFFIX)] == []


def test_a_cache_folder_that_cannot_be_written_costs_speed_not_the_session(
    tmp_path: Path,
) -> None:
    """Under a regular file nobody, root included, can create the folder."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder would go\n", encoding="utf-8")
    process = cli(["script", "glute-squeeze-queue"], tmp_path, blocker / "cache")
    status, out, err = finish(process)
    assert status == 0, err
    lines = out.splitlines()
    assert lines[-2].endswith("  Done.") and re.fullmatch(
        r" 0:\d\d\.\d  \(end; total 0:\d\d\)", lines[-1]
    )
    notes = [line for line in err.splitlines() if "cache" in line.lower()]
    assert len(notes) == 1 and len(err.splitlines()) == 1, err
    assert "not writable" in notes[0] and "VOICE_COACH_CACHE_DIR" in notes[0]
    assert blocker.read_text(encoding="utf-8").startswith("a file where")


def test_an_export_with_an_unwritable_cache_is_whole_and_says_so_once(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder would go\n", encoding="utf-8")
    target = tmp_path / "session.wav"
    # espeak-ng, since it speaks a phrase the same way every time: Piper's phrases differ
    # by tens of milliseconds from one synthesis to the next, and nothing is cached here.
    protocol = ["glute-squeeze-queue", "--engine", "espeak-ng"]
    args = ["export", *protocol, "-o", str(target), "--quiet"]
    status, _out, err = finish(cli(args, tmp_path, blocker / "cache"))
    assert status == 0, err
    assert len(err.splitlines()) == 1 and "not writable" in err, err
    # Spoken again the same way (no cache, same phrases in the same order): same length.
    length_s = session_length_s(protocol, tmp_path, blocker / "cache")
    assert_whole_wav(target, length_s)


def test_a_read_only_cache_folder_costs_speed_not_the_session(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "ro", "ro,size=64k") as folder:
        status, _out, err = finish(cli(["script", "glute-squeeze-queue"], tmp_path, folder))
    assert status == 0, err
    assert len(err.splitlines()) == 1 and "not writable" in err, err


def test_a_full_cache_disk_leaves_no_broken_entry_and_the_session_still_runs(
    tmp_path: Path,
) -> None:
    """A 200 kB disk holds a few short phrases, then fills up in the middle of an entry."""
    with tmpfs(tmp_path / "small", "size=200k") as folder:
        status, out, err = finish(cli(["script", "glute-squeeze"], tmp_path, folder))
        assert status == 0, err
        assert "Squeeze" in out
        assert len(err.splitlines()) == 1 and "not writable" in err, err
        assert "No space left on device" in err
        for path in entries(folder / "phrases"):
            entry, damaged = _read_entry(path)
            assert entry is not None and not damaged, path.name
        # The kept voice list may be there too; no temporary file may be.
        leftovers = [p.name for p in (folder / "phrases").iterdir() if p.name.startswith(".")]
        assert leftovers == []


def test_the_library_reports_an_unwritable_cache_once(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    loaded = load_clips(["Squeeze", "And relax"], SpeechSettings(), blocker / "cache")
    assert set(loaded.clips) == {"Squeeze", "And relax"}
    assert len(loaded.notes) == 1 and loaded.stats.written == 0


# --- exports ---------------------------------------------------------------------------


# Long enough (45 minutes of audio, 120 MB of WAV) that a kill can land mid-write.
LONG_SESSION = ["glute-squeeze-sets", "--reps", "100"]


def session_length_s(protocol: list[str], cwd: Path, cache: Path) -> float:
    status, out, err = finish(cli(["script", *protocol, "--json"], cwd, cache))
    assert status == 0, err
    return float(json.loads(out)["duration_s"])


def assert_whole_wav(path: Path, length_s: float) -> None:
    info = sf.info(path)
    assert abs(info.duration - length_s) < 0.05, (info.duration, length_s)
    data, _rate = sf.read(path, dtype="float32")
    assert len(data) == info.frames


def test_an_export_killed_at_random_moments_never_leaves_a_part_file_as_the_target(
    tmp_path: Path, warm_cache: Path
) -> None:
    """Each kill lands at a random moment after the export began writing its file.

    Waiting for the temporary file to appear (instead of a fixed delay from launch)
    puts the kills inside the write on a fast machine and a slow one alike; round 0
    kills the moment writing starts, later rounds up to 0.5 s into it, past the move
    into place on this machine.
    """
    length_s = session_length_s(LONG_SESSION, tmp_path, warm_cache)
    chance = random.Random(SEED)
    outcomes = {"mid-write": 0, "after the move": 0, "finished": 0}
    for round_no in range(KILLS):
        folder = tmp_path / f"round-{round_no}"
        folder.mkdir()
        target = folder / "session.wav"
        export = cli(["export", *LONG_SESSION, "-o", str(target), "--quiet"], folder, warm_cache)
        assert wait_for_write(export, folder), "the export never began writing"
        delay_s = 0.0 if round_no == 0 else chance.uniform(0.0, 0.5)
        if not kill_after(export, delay_s):
            outcomes["finished"] += 1
            assert export.returncode == 0
        if target.exists():
            assert_whole_wav(target, length_s)
            outcomes["after the move"] += export.returncode == -signal.SIGKILL
        else:
            outcomes["mid-write"] += 1
        others = [p.name for p in folder.iterdir() if p != target]
        # What SIGKILL leaves: a hidden temporary file, never anything under the target name.
        assert all(name.startswith(".session.wav.") and name.endswith(".part") for name in others)
        shutil.rmtree(folder)
    assert outcomes["mid-write"] >= 1, outcomes


def wait_for_write(process: subprocess.Popen[bytes], folder: Path, limit_s: float = 60) -> bool:
    """Until the process has a file open in ``folder`` (or has ended); false on time-out."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if process.poll() is not None or any(folder.iterdir()):
            return True
        time.sleep(0.001)
    return False


def test_a_later_export_succeeds_beside_what_a_killed_one_left(
    tmp_path: Path, warm_cache: Path
) -> None:
    target = tmp_path / "session.wav"
    export = cli(
        ["export", "glute-squeeze-sets", "-o", str(target), "--quiet"], tmp_path, warm_cache
    )
    assert wait_for_write(export, tmp_path), "the export never began writing"
    assert kill_after(export, 0.0), "the export finished before the kill"
    left = [p.name for p in tmp_path.iterdir()]
    assert "session.wav" not in left and any(name.endswith(".part") for name in left), left
    status, _out, err = finish(
        cli(
            ["export", "glute-squeeze-sets", "-o", str(target), "--quiet", "--force"],
            tmp_path,
            warm_cache,
        )
    )
    assert status == 0, err
    assert_whole_wav(target, session_length_s(["glute-squeeze-sets"], tmp_path, warm_cache))


def test_what_a_killed_export_left_goes_once_it_is_an_hour_old(
    tmp_path: Path, warm_cache: Path
) -> None:
    """SIGKILL leaves a hidden .part; the next export to that name removes it once nobody
    has touched it for an hour, and leaves alone a fresh one (a live export's)."""
    target = tmp_path / "session.wav"
    args = ["export", *LONG_SESSION, "-o", str(target), "--quiet"]
    export = cli(args, tmp_path, warm_cache)
    assert wait_for_write(export, tmp_path), "the export never began writing"
    assert kill_after(export, 0.0), "the export finished before the kill"
    left = [p for p in tmp_path.iterdir() if p.name.endswith(".part")]
    assert len(left) == 1 and not target.exists(), left
    hour_ago = time.time() - STALE_AFTER_S - 60
    os.utime(left[0], (hour_ago, hour_ago))
    live = tmp_path / ".session.wav.another-export.part"
    live.write_bytes(b"RIFF")
    status, _out, err = finish(cli(args, tmp_path, warm_cache))
    assert status == 0, err
    assert_whole_wav(target, session_length_s(LONG_SESSION, tmp_path, warm_cache))
    assert sorted(p.name for p in tmp_path.iterdir()) == [live.name, "session.wav"]


def test_what_a_killed_cache_writer_left_goes_once_it_is_an_hour_old(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    phrases = cache / "phrases"  # where VOICE_COACH_CACHE_DIR keeps the entries
    phrases.mkdir(parents=True)
    stale, fresh = phrases / ".abandoned-x1.tmp", phrases / ".in-progress-x2.tmp"
    for path in (stale, fresh):
        path.write_bytes(b"half an entry")
    hour_ago = time.time() - STALE_AFTER_S - 60
    os.utime(stale, (hour_ago, hour_ago))
    status, _out, err = finish(cli(["script", "--reps", "2"], tmp_path, cache))
    assert status == 0, err
    assert not stale.exists() and fresh.exists()
    assert entries(phrases), "the cold start wrote no entries"


def test_two_exports_at_once_with_a_cold_cache_both_write_the_same_session(
    tmp_path: Path,
) -> None:
    cache = tmp_path / "cold-cache"
    exports = [
        cli(["export", "glute-squeeze", "-o", f"out-{n}.wav", "--quiet"], tmp_path, cache)
        for n in (1, 2)
    ]
    for export in exports:
        status, _out, err = finish(export)
        assert status == 0, err
    first, rate = sf.read(tmp_path / "out-1.wav", dtype="float32")
    second, _ = sf.read(tmp_path / "out-2.wav", dtype="float32")
    # Each process may speak a phrase itself before the other's entry lands, and
    # espeak-ng carries state from one utterance to the next, so a phrase spoken after
    # different ones differs slightly (measured: up to 40 ms on the closing phrase).
    # The two files are the same session, not always the same bytes.
    assert abs(len(first) - len(second)) <= 0.1 * rate, (len(first), len(second))
    for path in entries(cache / "phrases"):
        entry, damaged = _read_entry(path)
        assert entry is not None and not damaged


def test_two_exports_to_one_target_leave_one_whole_file(tmp_path: Path, warm_cache: Path) -> None:
    target = tmp_path / "session.wav"
    exports = [
        cli(
            ["export", "glute-squeeze-sets", "-o", str(target), "--quiet", "--force"],
            tmp_path,
            warm_cache,
        )
        for _ in range(2)
    ]
    statuses = [finish(export)[0] for export in exports]
    assert statuses == [0, 0]
    assert_whole_wav(target, session_length_s(["glute-squeeze-sets"], tmp_path, warm_cache))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["session.wav"]


FORMATS = ["wav", "flac", "ogg", "mp3"]


def assert_failed_cleanly(status: int, err: str, target: Path, before: str) -> None:
    """One line and exit 1; the user's old file as it was, nothing else beside it."""
    assert status == 1, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith(f"voice-coach: error: {target}: "), err
    assert digest(target) == before
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_full_disk_is_a_clear_error_and_the_old_file_is_untouched(
    tmp_path: Path, warm_cache: Path, fmt: str
) -> None:
    """A real ENOSPC: a 100 KiB tmpfs (every format's export of the sets session is
    larger; root only, see ALLOWED_SKIPS; the same path without root is the RLIMIT test)."""
    with tmpfs(tmp_path / "small", "size=100k") as folder:
        target = folder / f"session.{fmt}"
        target.write_bytes(b"the user's previous export" * 1000)
        before = digest(target)
        process = cli(
            ["export", "glute-squeeze-sets", "-o", str(target), "--force", "--quiet"],
            tmp_path,
            warm_cache,
        )
        status, _out, err = finish(process)
        assert_failed_cleanly(status, err, target, before)
        assert "no space left: the disk is full" in err, err


FILE_SIZE_LIMIT = 64 * 1024


def limit_file_size() -> None:
    """In the child: files may grow to FILE_SIZE_LIMIT bytes, and a write past it fails
    with EFBIG instead of killing the process (SIGXFSZ ignored, which exec keeps)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT, FILE_SIZE_LIMIT))


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_write_that_fails_midway_is_a_clear_error_in_every_format(
    tmp_path: Path, warm_cache: Path, fmt: str
) -> None:
    """A real write failure that needs no root and no mount: the export runs with
    RLIMIT_FSIZE at 64 KiB, so the kernel refuses the write that passes it (EFBIG),
    inside our WAV writer or inside libsndfile's encoder, whichever writes the format."""
    target = tmp_path / "out" / f"session.{fmt}"
    target.parent.mkdir()
    target.write_bytes(b"the user's previous export" * 1000)
    before = digest(target)
    process = subprocess.Popen(
        [sys.executable, "-m", "voice_coach", "export", "glute-squeeze-sets", "-o",
         str(target), "--force", "--quiet"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        preexec_fn=limit_file_size,
    )  # fmt: skip
    status, _out, err = finish(process)
    assert_failed_cleanly(status, err, target, before)
    assert "could not be written" in err or "encoder failed" in err, err
    # The cause named, also where the encoder says only "System error."
    assert "largest size allowed here (ulimit -f" in err, err


def test_a_full_standard_output_is_a_clear_error(tmp_path: Path, warm_cache: Path) -> None:
    with Path("/dev/full").open("wb") as full:
        process = cli(["export", "glute-squeeze", "-o", "-"], tmp_path, warm_cache, stdout=full)
        status, _out, err = finish(process)
    assert status == 1, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert "space" in err.lower(), err


def test_kill_after_reports_whether_it_killed() -> None:
    """The helper the kill tests rely on: it must tell a kill from a finished process."""
    quick = subprocess.Popen([sys.executable, "-c", "pass"])
    assert kill_after(quick, 10) is False
    slow = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    started = time.monotonic()
    assert kill_after(slow, 0.2) is True
    assert slow.returncode == -signal.SIGKILL and time.monotonic() - started < 10
