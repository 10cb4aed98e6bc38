"""Benchmarks for voice-coach, one subcommand per part: python scripts/bench.py speech

Each measurement runs in a fresh Python process, because "cold" means what a user's
first start costs: espeak-ng starts once per process, and imports are part of the wait.
Times are wall-clock, reported as median, min and max over --runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

FALLBACK_PHRASES = [
    "Glute squeeze. Stand or sit tall, and breathe easily.",
    "Squeeze",
    "And relax",
    "two",
    "three",
    "Halfway there",
    "Last one",
    "Well done. That's ten squeezes.",
]

SPEECH_PROBE = """
    import json, sys, time
    started = time.perf_counter()
    from pathlib import Path
    from voice_coach.speech.phrase_cache import load_clips
    from voice_coach.speech.engine import SpeechSettings
    imported = time.perf_counter()
    loaded = load_clips(json.loads(sys.argv[1]), SpeechSettings(), Path(sys.argv[2]))
    ready = time.perf_counter()
    print(json.dumps({
        "import_s": imported - started,
        "ready_s": ready - imported,
        "hits": loaded.stats.hits,
        "misses": loaded.stats.misses,
        "pyttsx3_loaded": "pyttsx3" in sys.modules,
        "audio_s": sum(clip.duration_s for clip in loaded.clips.values()),
    }))
"""


def default_phrases() -> tuple[list[str], str]:
    """The default session's phrases, or the fixed list if the timeline cannot give them."""
    try:
        from voice_coach.loader import load_protocol
        from voice_coach.timeline import session_texts

        return session_texts(load_protocol(None)), "default session (glute-squeeze, en)"
    except Exception as exc:  # the benchmark must run while the core is still changing
        return FALLBACK_PHRASES, f"fixed list ({type(exc).__name__}: {exc})"


def probe(phrases: list[str], cache_dir: Path) -> dict[str, float]:
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(SPEECH_PROBE), json.dumps(phrases), str(cache_dir)],
        capture_output=True,
        text=True,
        check=True,
    )
    figures = json.loads(result.stdout)
    figures["process_s"] = time.perf_counter() - started
    return figures


def summary(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def bench_speech(args: argparse.Namespace) -> dict[str, object]:
    phrases, source = default_phrases()
    cold, warm = [], []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="voice-coach-bench-") as folder:
            cold.append(probe(phrases, Path(folder)))
            warm.append(probe(phrases, Path(folder)))
    assert all(run["misses"] == len(phrases) for run in cold), cold
    assert all(run["hits"] == len(phrases) and not run["pyttsx3_loaded"] for run in warm), warm
    report: dict[str, object] = {
        "phrases": len(phrases),
        "source": source,
        "audio_s": cold[0]["audio_s"],
        "runs": args.runs,
    }
    for name, runs in (("cold", cold), ("warm", warm)):
        for field in ("ready_s", "import_s", "process_s"):
            report[f"{name}_{field}"] = summary([run[field] for run in runs])
    return report


def print_speech(report: dict[str, object]) -> None:
    print(f"phrases: {report['phrases']} from {report['source']}")
    print(f"speech: {report['audio_s']:.2f} s of audio; {report['runs']} runs, fresh process each")
    print(f"{'':6} {'what':28} {'median':>9} {'min':>9} {'max':>9}")
    labels = {
        "ready_s": "phrases ready (load_clips)",
        "import_s": "imports before it",
        "process_s": "whole process",
    }
    for name in ("cold", "warm"):
        for field, label in labels.items():
            figures = report[f"{name}_{field}"]
            row = " ".join(f"{figures[key] * 1000:7.1f}ms" for key in ("median", "min", "max"))
            print(f"{name:6} {label:28} {row}")
    print("goals: cold ready < 1000 ms, warm ready < 50 ms")


def bench_live_session(args: argparse.Namespace) -> dict[str, object]:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_live import bench_live

    from voice_coach.playback import available_backends

    backends = [name for name, problem in available_backends().items() if problem is None]
    return bench_live(args.reps, args.runs, backends)


def print_live(report: dict[str, object]) -> None:
    print(f"live session: {report['reps']} reps, {report['session_s']:.1f} s, through PulseAudio")
    print("launch to first sound, warm cache (s):")
    for name, figures in report["launch_to_first_sound_s"].items():  # type: ignore[union-attr]
        row = " ".join(f"{key} {figures[key]:.3f}" for key in ("median", "min", "max"))
        print(f"  {name:32} {row}")
    print("cue onset error over the whole session, from the recording (ms):")
    for name, figures in report["long_session"].items():  # type: ignore[union-attr]
        print(
            f"  {name:32} cues {figures['cues']:4d}  max {figures['max_abs_ms']:9.2f}  "
            f"mean {figures['mean_abs_ms']:9.2f}  last cue {figures['last_cue_ms']:9.2f}"
        )


def bench_export(args: argparse.Namespace) -> dict[str, object]:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_export import bench_export_memory, bench_export_speed

    return {
        "speed": bench_export_speed(args.reps, args.runs),
        "memory": bench_export_memory([10, 60]),
    }


def bench_export_memory_only(args: argparse.Namespace) -> dict[str, object]:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_export import bench_export_memory

    return bench_export_memory([10, 60], formats=("wav", "flac", "ogg", "mp3"))


def print_export_memory(report: dict[str, object]) -> None:
    print("export peak memory (max RSS, GNU time), warm cache:")
    for name, figures in report.items():
        shown = ", ".join(f"{key} {value:.2f}" for key, value in figures.items())  # type: ignore[union-attr]
        print(f"  {name:28} {shown}")


def print_export(report: dict[str, object]) -> None:
    speed = report["speed"]
    print(
        f"export: {speed['reps']} reps, {speed['session_s']:.0f} s of session, "  # type: ignore[index]
        f"{speed['runs']} runs by turns, libsndfile {speed['libsndfile']}"  # type: ignore[index]
    )
    for name, wall in speed["median_wall_s"].items():  # type: ignore[index]
        print(
            f"  {name:32} median {wall:6.3f} s  min {speed['min_wall_s'][name]:6.3f} s  "  # type: ignore[index]
            f"cpu {speed['median_cpu_s'][name]:6.3f} s  "  # type: ignore[index]
            f"x{speed['ratio_to_peer'][name]:.2f} of its peer"  # type: ignore[index]
            + (
                f", quicker in {speed['rounds_quicker'][name]} of {speed['runs']} rounds"  # type: ignore[index]
                if name in speed["rounds_quicker"]  # type: ignore[index,operator]
                else ""
            )
        )
    for name in ("onsets_ours_wav", "onsets_peer_wav"):
        print(f"  {name}: {speed[name]}")  # type: ignore[index]
    for name, figures in report["memory"].items():  # type: ignore[union-attr]
        print(f"  memory {name}: {figures}")


BENCHES: dict[str, tuple[str, Callable[[argparse.Namespace], dict], Callable[[dict], None]]] = {
    "speech": ("phrase cache cold (empty) and warm", bench_speech, print_speech),
    "export": ("export speed vs espeak-ng -m, and memory", bench_export, print_export),
    "export-memory": (
        "peak memory of 10- and 60-minute exports in every format",
        bench_export_memory_only,
        print_export_memory,
    ),
    "live": (
        "live playback: first sound, and cue timing vs a naive loop",
        bench_live_session,
        print_live,
    ),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="bench", required=True)
    for name, (help_text, _, _) in BENCHES.items():
        command = commands.add_parser(name, help=help_text)
        command.add_argument("--runs", type=int, default=5, help="repetitions (default 5)")
        command.add_argument("--json", action="store_true", help="print figures as JSON")
        command.add_argument("--reps", type=int, default=100, help="reps of long sessions")
    args = parser.parse_args(argv)
    _, run, show = BENCHES[args.bench]
    report = run(args)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        show(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
