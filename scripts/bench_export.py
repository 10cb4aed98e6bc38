"""Export benchmarks: speed against the peer a user would reach for, and memory.

The peer is espeak-ng itself reading an SSML script of the same words with <break>s for
the gaps between them (``espeak-ng -m -w out.wav -f script.ssml``), piped into LAME's
own encoder for MP3 (``espeak-ng -m --stdout ... | lame - out.mp3``). Every figure is for
a fresh process, so start-up is included; onsets are found in the written audio with
the tests' detector.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from onsets import cue_onsets, expected_onsets, find_onsets, read_audio  # noqa: E402


def run_timed(command: list[str], env: dict[str, str]) -> tuple[float, int, float]:
    """Wall seconds, peak RSS (KiB) and CPU seconds (user + system) of one child process.

    The peak comes from GNU time, which starts the command from its own small process:
    a child forked straight from this one would count this process's memory (the audio
    it has read) in its peak until it execs.
    """
    with tempfile.NamedTemporaryFile("r") as report:
        started = time.perf_counter()
        done = subprocess.run(
            ["/usr/bin/time", "-f", "%M %U %S", "-o", report.name, *command],
            env=env,
            stdout=subprocess.DEVNULL,
            check=False,
        )
        wall = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"bench: {' '.join(command)} failed ({done.returncode})")
        rss, user, system = report.read().split()[-3:]
        return wall, int(rss), float(user) + float(system)


def user_env() -> dict[str, str]:
    """This environment as a user's: the phrase cache where platformdirs puts it."""
    return {name: value for name, value in os.environ.items() if name != "VOICE_COACH_CACHE_DIR"}


def voice_coach(*args: str) -> list[str]:
    return [sys.executable, "-m", "voice_coach", *args]


def peer_ssml(cues: list[dict]) -> str:
    """The words with a break for each gap between their starts, as a person writes it."""
    spoken = [c for c in cues if c["kind"] == "say"]
    parts = []
    for cue, after in zip(spoken, [*spoken[1:], None], strict=True):
        parts.append(escape(cue["text"]))
        if after is not None:
            parts.append(f'<break time="{round((after["at_s"] - cue["at_s"]) * 1000)}ms"/>')
    return "<speak>" + " ".join(parts) + "</speak>"


def drift_ms(path: Path, cues: list[dict]) -> dict[str, float]:
    """Where the last cue landed against where it belongs, first cue aligned; and, where
    every cue was found, the worst error of any of them."""
    samples, rate = read_audio(path)
    expected = np.array(expected_onsets(cues, rate))
    found_all = find_onsets(samples, rate)
    found = np.array(cue_onsets(found_all, cues, rate, offset=found_all[0] - expected[0]))
    report = {
        "cues_expected": len(expected),
        "cues_found": len(found),
        "audio_s": len(samples) / rate,
        # Where not every cue could be told apart, the last sound heard against the last
        # cue: how far the whole script has drifted by its end.
        "last_onset_drift_ms": float(
            ((found_all[-1] - found_all[0]) - (expected[-1] - expected[0])) * 1000 / rate
        ),
    }
    if len(found) == len(expected):
        errors = ((found - found[0]) - (expected - expected[0])) * 1000 / rate
        report["max_abs_ms"] = float(np.max(np.abs(errors)))
        report["last_onset_drift_ms"] = float(errors[-1])
    return report


PEER_WAV = "peer wav (espeak-ng -m)"
PEER_MP3 = "peer mp3 (espeak-ng -m | lame)"


def peer_of(name: str) -> str:
    """The peer a run of ours is compared with: the one writing the same format."""
    return PEER_MP3 if "mp3" in name else PEER_WAV


def libsndfile_version() -> str:
    probe = "import soundfile; print(soundfile.__libsndfile_version__)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    return done.stdout.strip()


def bench_export_speed(reps: int, runs: int) -> dict[str, object]:
    """Ours and the peer, run by turns (so a busy moment of the machine falls on both),
    each writing a file that does not exist yet, as a new export does; the file of the
    run before is removed outside the timing."""
    if shutil.which("lame") is None:
        raise SystemExit("bench: the MP3 peer needs LAME's encoder: apt-get install lame")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env = {**user_env(), "XDG_CACHE_HOME": str(folder / "warm")}
        # espeak-ng: the peer speaks the same words with espeak-ng, and the onset check
        # reads espeak-ng's words exactly (see tests/files/test_export.py).
        session = ["--reps", str(reps), "--cues", "voice", "--engine", "espeak-ng"]
        script = subprocess.run(
            voice_coach("script", "--json", *session), env=env, capture_output=True, check=True
        )
        timeline = json.loads(script.stdout)
        ssml = folder / "script.ssml"
        ssml.write_text(peer_ssml(timeline["cues"]), encoding="utf-8")
        wall: dict[str, list[float]] = {}
        cpu: dict[str, list[float]] = {}

        def timed(name: str, command: list[str], out: Path, run_env: dict[str, str]) -> None:
            out.unlink(missing_ok=True)
            seconds, _, used = run_timed(command, run_env)
            wall.setdefault(name, []).append(seconds)
            cpu.setdefault(name, []).append(used)

        peer_mp3 = f"espeak-ng -m --stdout -f '{ssml}' | lame --quiet - '{folder}/peer.mp3'"
        for run in range(runs + 1):  # the first round warms the caches and is not counted
            for fmt in ("wav", "mp3"):
                out = folder / f"ours.{fmt}"
                command = voice_coach("export", *session, "-o", str(out), "--quiet")
                cold_env = {**env, "XDG_CACHE_HOME": str(folder / f"cold-{run}-{fmt}")}
                timed(f"ours {fmt} cold", command, out, cold_env)
                timed(f"ours {fmt} warm", command, out, env)
            peer_wav = ["espeak-ng", "-m", "-w", str(folder / "peer.wav"), "-f", str(ssml)]
            timed(PEER_WAV, peer_wav, folder / "peer.wav", env)
            timed(PEER_MP3, ["sh", "-c", peer_mp3], folder / "peer.mp3", env)
            if run == 0:
                wall.clear()
                cpu.clear()
        median = {name: statistics.median(values) for name, values in wall.items()}
        return {
            "reps": reps,
            "session_s": timeline["duration_s"],
            "runs": runs,
            "libsndfile": libsndfile_version(),
            "median_wall_s": median,
            "min_wall_s": {name: min(values) for name, values in wall.items()},
            "median_cpu_s": {name: statistics.median(values) for name, values in cpu.items()},
            "ratio_to_peer": {
                name: value / median[peer_of(name)] for name, value in median.items()
            },
            # Round by round (each of ours against its peer's run of the same round):
            # how often ours was the quicker, which the medians alone do not show.
            "rounds_quicker": {
                name: sum(
                    ours < peer for ours, peer in zip(values, wall[peer_of(name)], strict=True)
                )
                for name, values in wall.items()
                if name not in (PEER_WAV, PEER_MP3)
            },
            "onsets_ours_wav": drift_ms(folder / "ours.wav", timeline["cues"]),
            "onsets_peer_wav": drift_ms(folder / "peer.wav", timeline["cues"]),
        }


def bench_export_memory(
    minutes: list[int], formats: tuple[str, ...] = ("wav",)
) -> dict[str, object]:
    """Peak RSS of exporting sessions of each length to each format (warm cache).

    ``voice-coach script`` for the same session is measured too: the process without the
    export (Python, numpy, typer, the timeline), so the export's own share is the rest.
    """
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env = {**user_env(), "XDG_CACHE_HOME": str(folder / "cache")}
        report: dict[str, object] = {}
        for length in minutes:
            reps = length * 10  # the default pace: 6 s a rep
            _, script_kib, _ = run_timed(voice_coach("script", "--reps", str(reps)), env)
            report[f"{length} min script (no export)"] = {"max_rss_mb": script_kib / 1024}
            for fmt in formats:
                out = folder / f"{length}.{fmt}"
                command = voice_coach("export", "--reps", str(reps), "-o", str(out), "--quiet")
                wall, rss_kib, _ = run_timed(command, env)
                report[f"{length} min {fmt}"] = {
                    "max_rss_mb": rss_kib / 1024,
                    "wall_s": wall,
                    "file_mb": out.stat().st_size / 1e6,
                }
        return report


def bench_music(minutes: list[int]) -> dict[str, object]:
    """``export --music`` of sessions of each length (a 4-minute stereo 44.1 kHz MP3 as
    the bed, so it is decoded, resampled and looped): wall time and peak memory against
    the same export without music, and how far ahead of each word the duck begins, read
    from the exported audio (the music is a tone; its level falls before each word)."""
    import numpy as np
    import soundfile

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env = {**user_env(), "XDG_CACHE_HOME": str(folder / "cache")}
        music = folder / "bed.mp3"
        t = np.arange(4 * 60 * 44100) / 44100
        tone = 0.3 * np.sin(2 * np.pi * 3000 * t)
        soundfile.write(str(folder / "bed.wav"), np.stack([tone, tone], axis=1), 44100)
        # Encoded by FFmpeg as a user's MP3 would be: libsndfile misreads its own MP3s in
        # blocks (docs/RELIABILITY.md).
        subprocess.run(["ffmpeg", "-v", "error", "-i", str(folder / "bed.wav"), "-b:a", "192k",
                        str(music)], check=True)  # fmt: skip
        report: dict[str, object] = {}
        for length in minutes:
            # Words only: a tone has energy where the bed's tone is, and would be read as it.
            session = ["--reps", str(length * 10), "--cues", "voice"]
            for label, extra in (("plain", []), ("music", ["--music", str(music)])):
                out = folder / f"{length}-{label}.wav"
                command = voice_coach("export", *session, "-o", str(out), "-q", *extra)
                wall, rss_kib, _ = run_timed(command, env)
                report[f"{length} min {label}"] = {"max_rss_mb": rss_kib / 1024, "wall_s": wall}
        report["duck lead (s)"] = duck_lead(folder / f"{minutes[0]}-music.wav", env)
        return report


def duck_lead(path: Path, env: dict[str, str]) -> dict[str, float]:
    """How long before each word's first sample the music has fallen by 1 dB, from the
    file: the music's level by a 3 kHz band (20 ms windows), against the timeline."""
    import json

    import numpy as np
    import soundfile

    samples, rate = soundfile.read(str(path), dtype="float64")
    timeline = json.loads(
        subprocess.run(voice_coach("script", "--json", "--reps", "100", "--cues", "voice"), env=env,
                       capture_output=True, text=True, check=True).stdout
    )  # fmt: skip
    window = round(0.02 * rate)
    t = np.arange(window) / rate
    probe = np.exp(-2j * np.pi * 3000 * t)

    def level(at: int) -> float:
        return float(np.abs(np.dot(samples[at : at + window], probe)))

    leads = []
    previous_end = 0.0
    for cue in timeline["cues"]:
        up_from = previous_end + 0.6  # the bed is back up 0.5 s after a word
        previous_end = max(previous_end, cue["at_s"] + cue["duration_s"])
        at = round(cue["at_s"] * rate)
        count = int((cue["at_s"] - up_from) * rate / window)
        if count < 12 or cue["at_s"] - (up_from - 0.6) < 1.5:  # a gap the duck does not hold
            continue
        before = [level(at - k * window) for k in range(1, count)]  # newest first
        top = float(np.median(before[-6:]))  # the bed in the gap, before any ramp
        ducked = 0
        while ducked < len(before) and before[ducked] < top * 10 ** (-1 / 20):
            ducked += 1
        leads.append(ducked * window / rate)
    return {"words": len(leads), "median": float(np.median(leads)), "min": float(min(leads))}


def bench_album(runs: int) -> dict[str, object]:
    """The three built-ins as an MP3 album (``export --album``), warm cache: wall time and
    peak memory of the whole command, each run into a folder that does not exist yet."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env = {**user_env(), "XDG_CACHE_HOME": str(folder / "cache")}
        walls, peaks = [], []
        for run in range(runs + 1):  # the first run warms the phrase cache, not counted
            album = folder / f"album-{run}"
            wall, rss_kib, _ = run_timed(voice_coach("export", "--album", str(album), "-q"), env)
            if run > 0:
                walls.append(wall)
                peaks.append(rss_kib / 1024)
        audio_s = sum(
            float(line.split(":")[1].split(",")[0])
            for line in (album / "playlist.m3u8").read_text().splitlines()
            if line.startswith("#EXTINF:")
        )
        return {
            "runs": runs,
            "files": sorted(path.name for path in album.iterdir()),
            "audio_s": audio_s,
            "median_wall_s": statistics.median(walls),
            "min_wall_s": min(walls),
            "max_wall_s": max(walls),
            "median_max_rss_mb": statistics.median(peaks),
        }


def bench_export_trees(trees: list[Path], reps: int, runs: int) -> dict[str, object]:
    """The 10-minute WAV export of each tree (a checkout of voice-coach: an older commit,
    a change), cold and warm, and a warm ``script``, against the peer, run by turns: what
    a change did, with the machine's drift shared by every tree.

    Each tree is compiled first (as scripts/setup leaves an install) and run through
    ``PYTHONPATH`` from a folder outside any checkout: ``python -m voice_coach`` started
    inside one imports that checkout's package whatever ``PYTHONPATH`` says.
    """
    import compileall

    for tree in trees:
        if not (tree / "voice_coach" / "__init__.py").is_file():
            raise SystemExit(f"bench: {tree} is not a voice-coach checkout")
        compileall.compile_dir(tree / "voice_coach", quiet=1)
    session = ["--reps", str(reps), "--cues", "voice", "--engine", "espeak-ng"]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env = user_env()
        script = subprocess.run(
            voice_coach("script", "--json", *session),
            env={**env, "PYTHONPATH": str(trees[-1]), "XDG_CACHE_HOME": str(folder / "x")},
            capture_output=True,
            check=True,
            cwd=folder,
        )
        ssml = folder / "script.ssml"
        ssml.write_text(peer_ssml(json.loads(script.stdout)["cues"]), encoding="utf-8")
        out = folder / "out.wav"
        wall: dict[str, list[float]] = {}
        for run in range(runs + 1):  # the first round warms the caches and is not counted
            for number, tree in enumerate(trees):
                command = voice_coach("export", *session, "-o", str(out), "--quiet")
                for state in ("cold", "warm"):
                    cache = f"cold-{run}-{number}" if state == "cold" else f"warm-{number}"
                    tree_env = {**env, "PYTHONPATH": str(tree),
                                "XDG_CACHE_HOME": str(folder / cache)}  # fmt: skip
                    out.unlink(missing_ok=True)
                    started = time.perf_counter()
                    subprocess.run(command, env=tree_env, cwd=folder, check=True,
                                   stdout=subprocess.DEVNULL)  # fmt: skip
                    if run:
                        wall.setdefault(f"{tree} {state}", []).append(time.perf_counter() - started)
                # A warm `script` too: the start-up path with no audio written.
                warm_env = {
                    **env,
                    "PYTHONPATH": str(tree),
                    "XDG_CACHE_HOME": str(folder / f"warm-{number}"),
                }
                started = time.perf_counter()
                subprocess.run(voice_coach("script"), env=warm_env, cwd=folder, check=True,
                               stdout=subprocess.DEVNULL)  # fmt: skip
                if run:
                    wall.setdefault(f"{tree} warm script", []).append(time.perf_counter() - started)
            out.unlink(missing_ok=True)
            started = time.perf_counter()
            subprocess.run(["espeak-ng", "-m", "-w", str(out), "-f", str(ssml)], check=True)
            if run:
                wall.setdefault(PEER_WAV, []).append(time.perf_counter() - started)
        median = {name: statistics.median(values) for name, values in wall.items()}
        return {
            "reps": reps,
            "runs": runs,
            "median_wall_s": median,
            "ratio_to_peer": {name: value / median[PEER_WAV] for name, value in median.items()},
        }
