"""Coach benchmarks: history and stats on a big log, and what logging costs a live start.

``history``: a log of --sessions generated sessions (100,000 by default: 30 a day for
about nine years), then ``voice-coach history --json`` and ``voice-coach stats`` timed as
fresh processes, start-up included, their runs taking turns.

``log-first-sound``: launch to first sound of ``run --reps 1`` with the log and with
``--no-log``, runs taking turns, each heard in a recording of the PulseAudio null sink.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path


def make_log(path: Path, sessions: int, seed: int = 7) -> None:
    """A log as a user's would look after years: several sessions most days, some
    quit, some rated, a few programs, two time zones."""
    from voice_coach.coach.log import PracticeLog

    PracticeLog(path).close()  # the schema, as the program makes it
    rng = random.Random(seed)
    zones = [timezone(timedelta(hours=1)), timezone(timedelta(hours=-5))]
    start = datetime(2017, 1, 1, 7, 0, tzinfo=zones[0])
    rows = []
    when = start
    for _ in range(sessions):
        when += timedelta(minutes=rng.choice([20, 90, 240, 600, 1440]))
        local = when.astimezone(rng.choice(zones)).replace(microsecond=0)
        reps = rng.choice([5, 7, 10])
        ended = rng.choices(["completed", "quit", "interrupted", "logged"], [80, 10, 5, 5])[0]
        done = reps if ended in ("completed", "logged") else rng.randrange(reps)
        program = rng.choice([None, "glute-squeeze-daily"])
        rows.append(
            (
                local.isoformat(), local.timestamp(),
                (local + timedelta(minutes=1)).isoformat(), "glute-squeeze", program,
                1 if program else None, reps, 1, 3.0, 3.0, 1.0, "en", None, done,
                rng.choice([0, 0, 0, 1]), ended, rng.choice([None, None, *range(11)]),
            )
        )  # fmt: skip
    db = sqlite3.connect(path)
    with db:
        db.executemany(
            "INSERT INTO sessions (started_at, started_utc, ended_at, protocol, program, stage, "
            "reps_planned, sets, hold_s, relax_s, pace, language, voice, reps_done, skipped, "
            "ended, pain) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
    db.close()


def timed(command: list[str], env: dict[str, str]) -> tuple[float, bytes]:
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, check=True)
    return time.perf_counter() - started, done.stdout


def figures(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def bench_history(sessions: int, runs: int) -> dict[str, object]:
    commands = {
        "history --json": ["history", "--json"],
        "history --csv": ["history", "--csv"],
        "history (latest 20)": ["history"],
        "stats": ["stats"],
    }
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env = {**os.environ, "VOICE_COACH_DATA_DIR": str(folder)}
        built = time.perf_counter()
        make_log(folder / "log.sqlite3", sessions)
        build_s = time.perf_counter() - built
        _, out = timed([sys.executable, "-m", "voice_coach", "history", "--json"], env)
        rows = json.loads(out)
        assert len(rows) == sessions, (len(rows), sessions)
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(runs):  # by turns, so a busy moment of the machine falls on all
            for name, args in commands.items():
                took, _ = timed([sys.executable, "-m", "voice_coach", *args], env)
                times[name].append(took)
        return {
            "sessions": sessions,
            "log_bytes": (folder / "log.sqlite3").stat().st_size,
            "json_bytes": len(out),
            "build_s": build_s,
            "runs": runs,
            "wall_s": {name: figures(values) for name, values in times.items()},
        }


def bench_log_first_sound(runs: int) -> dict[str, object]:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_live import launch_to_first_sound, start_server, unload_sinks, voice_coach

    server = start_server()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            env = {
                **os.environ,
                "PULSE_SERVER": server,
                "VOICE_COACH_CACHE_DIR": str(folder / "cache"),
                "VOICE_COACH_DATA_DIR": str(folder / "data"),
                "VOICE_COACH_CONFIG": str(folder / "config.toml"),
            }
            subprocess.run(voice_coach(["script"]), env=env, check=True, capture_output=True)
            make_log(folder / "data" / "log.sqlite3", 100_000)
            commands = {
                "run (logged)": voice_coach(["run", "--quiet", "--reps", "1"]),
                "run --no-log": voice_coach(["run", "--quiet", "--reps", "1", "--no-log"]),
            }
            times: dict[str, list[float]] = {name: [] for name in commands}
            for _ in range(runs):
                for name, command in commands.items():
                    times[name] += launch_to_first_sound(server, folder, command, env, 1)
            with sqlite3.connect(folder / "data" / "log.sqlite3") as db:
                logged = db.execute("SELECT count(*) FROM sessions").fetchone()[0] - 100_000
    finally:
        unload_sinks(server)
    return {
        "runs": runs,
        "logged_sessions": logged,
        "launch_to_first_sound_s": {name: figures(values) for name, values in times.items()},
        "all_s": times,
    }
