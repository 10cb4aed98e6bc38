"""Benchmarks for voice-coach, one subcommand per part: python scripts/bench.py speech

Each measurement runs in a fresh Python process, because "cold" means what a user's
first start costs: espeak-ng starts once per process, and imports are part of the wait.
Times are wall-clock, reported as median, min and max over --runs.
"""

from __future__ import annotations

import argparse
import json
import os
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
    settings = SpeechSettings(voice_id=sys.argv[4] or None, engine=sys.argv[3])
    loaded = load_clips(json.loads(sys.argv[1]), settings, Path(sys.argv[2]))
    ready = time.perf_counter()
    print(json.dumps({
        "import_s": imported - started,
        "ready_s": ready - imported,
        "hits": loaded.stats.hits,
        "misses": loaded.stats.misses,
        "engine_loaded": any(name in sys.modules for name in ("pyttsx3", "onnxruntime", "piper")),
        "audio_s": sum(clip.duration_s for clip in loaded.clips.values()),
    }))
"""


def default_phrases() -> tuple[list[str], str]:
    """The default session's phrases, or the fixed list if the timeline cannot give them."""
    try:
        from voice_coach.core.timeline import session_texts
        from voice_coach.files.loader import load_protocol

        return session_texts(load_protocol(None)), "default session (glute-squeeze, en)"
    except Exception as exc:  # the benchmark must run while the core is still changing
        return FALLBACK_PHRASES, f"fixed list ({type(exc).__name__}: {exc})"


ENGINES = {"espeak-ng": "", "piper": "piper:en_US-joe-medium"}  # engine -> voice id


def probe(phrases: list[str], cache_dir: Path, engine: str) -> dict[str, float]:
    started = time.perf_counter()
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            textwrap.dedent(SPEECH_PROBE),
            json.dumps(phrases),
            str(cache_dir),
            engine,
            ENGINES[engine],
        ],
        # The whole cache root (Piper's model digests too) in the run's own folder, so
        # cold is cold: the digest of a 63 MB model is computed afresh.
        env={**os.environ, "VOICE_COACH_CACHE_DIR": str(cache_dir.parent)},
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
    """Cold and warm phrase readiness for each engine, by turns, a fresh cache each run.
    A cold Piper start includes hashing its 63 MB model (the digest cache is emptied
    with the rest) and loading it."""
    phrases, source = default_phrases()
    engines = list(ENGINES) if args.engine == "both" else [args.engine]
    report: dict[str, object] = {"phrases": len(phrases), "source": source, "runs": args.runs}
    for engine in engines:
        cold, warm = [], []
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory(prefix="voice-coach-bench-") as folder:
                cold.append(probe(phrases, Path(folder) / "phrases", engine))
                warm.append(probe(phrases, Path(folder) / "phrases", engine))
        assert all(run["misses"] == len(phrases) for run in cold), cold
        assert all(run["hits"] == len(phrases) and not run["engine_loaded"] for run in warm), warm
        figures: dict[str, object] = {"audio_s": cold[0]["audio_s"]}
        for name, runs in (("cold", cold), ("warm", warm)):
            for field in ("ready_s", "import_s", "process_s"):
                figures[f"{name}_{field}"] = summary([run[field] for run in runs])
        report[engine] = figures
    return report


def print_speech(report: dict[str, object]) -> None:
    print(f"phrases: {report['phrases']} from {report['source']}")
    labels = {
        "ready_s": "phrases ready (load_clips)",
        "import_s": "imports before it",
        "process_s": "whole process",
    }
    for engine in ENGINES:
        if engine not in report:
            continue
        figures = report[engine]
        print(
            f"{engine}: {figures['audio_s']:.2f} s of audio; {report['runs']} runs, "  # type: ignore[index]
            "fresh process each"
        )
        print(f"{'':6} {'what':28} {'median':>9} {'min':>9} {'max':>9}")
        for name in ("cold", "warm"):
            for field, label in labels.items():
                shown = figures[f"{name}_{field}"]  # type: ignore[index]
                row = " ".join(f"{shown[key] * 1000:7.1f}ms" for key in ("median", "min", "max"))
                print(f"{name:6} {label:28} {row}")
    print("goals: cold ready < 2000 ms with Piper (< 1000 ms espeak-ng), warm ready < 50 ms")


PIPER_PROBE = """
    import json, sys, time
    from voice_coach.speech.engine import SpeechSettings, engine_for
    started = time.perf_counter()
    engine = engine_for("piper")
    speaker = engine.speaker(SpeechSettings(voice_id=sys.argv[2], engine="piper"))
    speaker.__enter__()
    loaded = time.perf_counter()
    synth_s, audio_s = 0.0, 0.0
    for _ in range(int(sys.argv[3])):
        for text in json.loads(sys.argv[1]):
            before = time.perf_counter()
            clip = speaker.synthesize(text)
            synth_s += time.perf_counter() - before
            audio_s += clip.duration_s
    print(json.dumps({"load_s": loaded - started, "synth_s": synth_s, "audio_s": audio_s}))
"""


def bench_piper(args: argparse.Namespace) -> dict[str, object]:
    """Piper's model load (imports included) and real-time factor (synthesis time over
    the audio's length, trimmed clips) on the default session's phrases."""
    phrases, source = default_phrases()
    runs = []
    for _ in range(args.runs):
        result = subprocess.run(
            [
                sys.executable,
                "-c",
                textwrap.dedent(PIPER_PROBE),
                json.dumps(phrases),
                ENGINES["piper"],
                "3",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        runs.append(json.loads(result.stdout))
    return {
        "phrases": len(phrases),
        "source": source,
        "runs": args.runs,
        "load_s": summary([run["load_s"] for run in runs]),
        "real_time_factor": summary([run["synth_s"] / run["audio_s"] for run in runs]),
        "audio_s_per_run": runs[0]["audio_s"],
    }


def print_piper(report: dict[str, object]) -> None:
    print(f"piper: {report['phrases']} phrases from {report['source']}, 3 times each per run")
    for name in ("load_s", "real_time_factor"):
        figures = report[name]
        row = " ".join(f"{key} {figures[key]:.3f}" for key in ("median", "min", "max"))  # type: ignore[index]
        print(f"  {name:18} {row}")


def bench_first_sound(args: argparse.Namespace) -> dict[str, object]:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_live import bench_first_sound_by_engine

    return bench_first_sound_by_engine(list(ENGINES), args.runs)


def print_first_sound(report: dict[str, object]) -> None:
    print("launch of `voice-coach run --reps 1` to its first sound, warm cache (s):")
    for name, figures in report.items():
        row = " ".join(f"{key} {figures[key]:.3f}" for key in ("median", "min", "max"))  # type: ignore[index]
        print(f"  {name:12} {row}")
    print("goal: at most 0.3 s with either engine")


def bench_live_session(args: argparse.Namespace) -> dict[str, object]:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_live import bench_live

    from voice_coach.audio.playback import available_backends

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

    return bench_export_memory([10, 60, 100], formats=("wav", "flac", "ogg", "mp3"))


def bench_music(args: argparse.Namespace) -> dict[str, object]:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_export import bench_music

    return bench_music([10, 60])


def print_music(report: dict[str, object]) -> None:
    print("export --music (a 4-minute MP3 bed), WAV, warm cache:")
    for name, figures in report.items():
        shown = ", ".join(f"{key} {value:.3g}" for key, value in figures.items())  # type: ignore[union-attr]
        print(f"  {name:18} {shown}")
    print("goal: the 60-minute export with music within 10 MB of the 10-minute one")


def bench_others_run(args: argparse.Namespace) -> dict[str, object]:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_others import bench_others

    return bench_others(args.runs, args.reps if args.reps != 100 else 3)


def print_others(report: dict[str, object]) -> None:
    duck, pause = report["duck"], report["pause"]
    lead, depth = duck["lead_s"], duck["down_at_onset_db"]  # type: ignore[index]
    print(f"run --others duck, mpv's tone in the recording, {duck['cues']} cues after a gap:")  # type: ignore[index]
    print(f"  1 dB down {lead['median']:.3f} s before the cue's first sound "
          f"(min {lead['min']:.3f}, max {lead['max']:.3f}); at that sound "
          f"{depth['median']:.1f} dB down (least {depth['min']:.1f})")  # fmt: skip
    print(f"playerctl pause 50 ms into {pause['word']!r}, {pause['runs']} runs:")  # type: ignore[index]
    for name in ("from_command_s", "after_the_word_s"):
        shown = pause[name]  # type: ignore[index]
        what = name.removesuffix("_s").replace("_", " ")
        print(f"  silent {what}: median {shown['median']:.3f} s "
              f"(min {shown['min']:.3f}, max {shown['max']:.3f})")  # fmt: skip


def bench_trees(args: argparse.Namespace) -> dict[str, object]:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_export import bench_export_trees

    if not args.tree:
        raise SystemExit("bench: trees needs --tree DIR, once for each checkout to compare")
    return bench_export_trees([Path(tree).resolve() for tree in args.tree], args.reps, args.runs)


def print_trees(report: dict[str, object]) -> None:
    print(f"10-minute WAV export ({report['reps']} reps), {report['runs']} rounds by turns:")
    for name, wall in report["median_wall_s"].items():  # type: ignore[union-attr]
        ratio = report["ratio_to_peer"][name]  # type: ignore[index]
        print(f"  {name:60} median {wall * 1000:6.1f} ms  x{ratio:.2f} of the peer")


def bench_startup_tricks(args: argparse.Namespace) -> dict[str, object]:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_startup import bench_startup

    return bench_startup(args.runs)


def print_startup(report: dict[str, object]) -> None:
    for figures in report.values():
        print(f"warm `{figures['command']}`, median of {figures['runs']} by turns:")  # type: ignore[index]
        for name, wall in figures["median_wall_s"].items():  # type: ignore[index]
            saved = figures["saves"][name]  # type: ignore[index]
            share = "" if name.startswith("as shipped") else f"  (the trick saves {saved:.0%})"
            print(f"  {name:36} {wall * 1000:6.1f} ms{share}")


def bench_soak_run(args: argparse.Namespace) -> dict[str, object]:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_soak import bench_soak

    backends = ["sounddevice", "simpleaudio"] if args.backend == "both" else [args.backend]
    return bench_soak(args.sessions if args.sessions != 100_000 else 50, backends)


def print_soak(report: dict[str, object]) -> None:
    print(f"{report['sessions']} live sessions (run --reps 1) per back-end, beside "
          f"{report['load']}:")  # fmt: skip
    for backend, figures in report["backends"].items():  # type: ignore[union-attr]
        print(f"  {backend:12} underruns {figures['underruns']} "
              f"(in {figures['sessions_with_underruns']} sessions), worst cue "
              f"{figures['worst_cue_error_ms']:.1f} ms")  # fmt: skip
    print("goal: no underruns, every cue within 1 ms")


def bench_album(args: argparse.Namespace) -> dict[str, object]:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_export import bench_album as album

    return album(args.runs)


def print_album(report: dict[str, object]) -> None:
    print(
        f"album of the built-ins (MP3, warm cache), {report['runs']} runs: "
        f"median {report['median_wall_s']:.2f} s (min {report['min_wall_s']:.2f}, "
        f"max {report['max_wall_s']:.2f}), peak memory {report['median_max_rss_mb']:.1f} MB, "
        f"{report['audio_s']:.0f} s of audio in {report['files']}"
    )


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


def bench_history(args: argparse.Namespace) -> dict[str, object]:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_coach import bench_history

    return bench_history(args.sessions, args.runs)


def print_history(report: dict[str, object]) -> None:
    print(
        f"practice log of {report['sessions']:,} sessions ({report['log_bytes'] / 1e6:.1f} MB; "
        f"--json {report['json_bytes'] / 1e6:.1f} MB), {report['runs']} runs by turns, "
        "whole process (s):"
    )
    for name, figures in report["wall_s"].items():  # type: ignore[union-attr]
        row = " ".join(f"{key} {figures[key]:.3f}" for key in ("median", "min", "max"))
        print(f"  {name:24} {row}")
    print("goal: history --json and stats under 0.5 s")


def bench_log_first_sound(args: argparse.Namespace) -> dict[str, object]:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_coach import bench_log_first_sound

    return bench_log_first_sound(args.runs)


def print_log_first_sound(report: dict[str, object]) -> None:
    print(
        f"launch to first sound, run --reps 1, warm cache, a 100,000-session log, "
        f"{report['runs']} runs by turns ({report['logged_sessions']} sessions logged) (s):"
    )
    for name, figures in report["launch_to_first_sound_s"].items():  # type: ignore[union-attr]
        row = " ".join(f"{key} {figures[key]:.3f}" for key in ("median", "min", "max"))
        print(f"  {name:16} {row}")


def bench_beats_run(args: argparse.Namespace) -> dict[str, object]:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_beats import bench_beats

    return bench_beats(args.reps)


def print_beats_report(report: dict[str, object]) -> None:
    from bench_beats import print_beats

    print_beats(report)


BENCHES: dict[str, tuple[str, Callable[[argparse.Namespace], dict], Callable[[dict], None]]] = {
    "speech": ("phrase cache cold (empty) and warm, per engine", bench_speech, print_speech),
    "piper": ("Piper's model load and real-time factor", bench_piper, print_piper),
    "first-sound": (
        "launch to first sound of run, warm cache, each engine",
        bench_first_sound,
        print_first_sound,
    ),
    "export": ("export speed vs espeak-ng -m, and memory", bench_export, print_export),
    "export-memory": (
        "peak memory of 10-, 60- and 100-minute exports in every format",
        bench_export_memory_only,
        print_export_memory,
    ),
    "music": (
        "export --music: time and memory against no music, and the duck's lead",
        bench_music,
        print_music,
    ),
    "others": (
        "run over a real player's music: the duck's lead, and playerctl pause to silence",
        bench_others_run,
        print_others,
    ),
    "trees": (
        "the 10-minute WAV export of each --tree (a checkout), cold and warm, vs the peer",
        bench_trees,
        print_trees,
    ),
    "album": ("the three built-ins as an MP3 album: time and memory", bench_album, print_album),
    "beats": (
        "each word heard vs its beat, placed by first sample (before) and by onset (after)",
        bench_beats_run,
        print_beats_report,
    ),
    "live": (
        "live playback: first sound, and cue timing vs a naive loop",
        bench_live_session,
        print_live,
    ),
    "history": (
        "history --json, --csv and stats on a generated log of --sessions sessions",
        bench_history,
        print_history,
    ),
    "log-first-sound": (
        "launch to first sound with the practice log and with --no-log",
        bench_log_first_sound,
        print_log_first_sound,
    ),
    "soak": (
        "live sessions beside two CPU hogs: underruns and cue timing (--sessions, default 50)",
        bench_soak_run,
        print_soak,
    ),
    "startup": (
        "each start-up trick of cli/startup.py, measured by leaving it out",
        bench_startup_tricks,
        print_startup,
    ),
}


def compile_package() -> None:
    """Every module of the voice_coach that a start imports compiled to bytecode, as
    scripts/setup leaves a user's install.

    A module edited since it was compiled is otherwise compiled again by every start
    where PYTHONDONTWRITEBYTECODE is set (as on the machine of docs/BENCHMARKS.md): on
    2026-11-30 that was 18 ms of every export, which no user pays.
    """
    import compileall
    import importlib.util

    spec = importlib.util.find_spec("voice_coach")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        compileall.compile_dir(folder, quiet=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="bench", required=True)
    for name, (help_text, _, _) in BENCHES.items():
        command = commands.add_parser(name, help=help_text)
        command.add_argument("--runs", type=int, default=5, help="repetitions (default 5)")
        command.add_argument("--json", action="store_true", help="print figures as JSON")
        command.add_argument("--reps", type=int, default=100, help="reps of long sessions")
        command.add_argument(
            "--engine", choices=["both", *ENGINES], default="both", help="speech: which engine"
        )
        command.add_argument(
            "--sessions", type=int, default=100_000, help="sessions in a generated log"
        )
        command.add_argument(
            "--tree", action="append", default=[], help="trees: a checkout (repeat the option)"
        )
        command.add_argument(
            "--backend", choices=["both", "sounddevice", "simpleaudio"], default="both",
            help="soak: which back-end",
        )  # fmt: skip
    args = parser.parse_args(argv)
    compile_package()
    _, run, show = BENCHES[args.bench]
    report = run(args)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        show(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
