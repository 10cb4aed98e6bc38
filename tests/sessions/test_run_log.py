"""`voice-coach run` keeps its practice log: real processes, a real SQLite file, the
session played into the PulseAudio null sink, and a pseudo-terminal where a person would
sit (for `q` and the question at the end)."""

import json
import os
import pty
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from pulse import record_while
from terminal import Terminal

from voice_coach.coach.log import PracticeLog
from voice_coach.coach.rating import ask_rating

SHORT = ["--reps", "2", "--hold", "2", "--relax", "2"]
# The 0-10 numeric rating scale, both ends named.
QUESTION = re.escape(
    "How much does your back hurt now, from 0, no pain, to 10, the worst pain you can imagine?"
)


@pytest.fixture
def env(pulse_server, warm_cache) -> dict[str, str]:
    """This test's own user folders (a warm phrase cache, an empty log), and the sink."""
    return dict(os.environ)


def entries(env):
    with PracticeLog(Path(env["VOICE_COACH_DATA_DIR"]) / "log.sqlite3", create=False) as log:
        return log.entries(oldest_first=True)


def plain_run(argv: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "voice_coach", "run", *argv],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def read_until(stream, text: str, timeout_s: float = 60) -> list[str]:
    """Lines up to the cue line (``0:07  TEXT``) that says exactly ``text``."""
    lines, deadline = [], time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = stream.readline()
        assert line, f"ended before {text!r}: {lines}"
        lines.append(line)
        if re.fullmatch(r"\d+:\d\d\s+" + re.escape(text), line.strip()):
            return lines
    raise AssertionError(f"no {text!r} in time: {lines}")


@pytest.mark.pulse
def test_a_live_session_is_logged_with_its_reps_and_how_it_ended(pulse_server, env):
    result = {}

    def play() -> None:
        run = plain_run(SHORT, env)
        result["out"], result["err"] = run.communicate(timeout=90)
        result["code"] = run.returncode

    samples, _rate = record_while(play, pulse_server)
    assert result["code"] == 0, result["err"]
    assert result["err"] == "" and "Session complete." in result["out"]
    assert np.max(np.abs(samples)) > 0.1, "the session was heard"
    (entry,) = entries(env)
    assert entry.ended == "completed" and entry.ended_at is not None
    assert (entry.reps_done, entry.shape.reps_planned, entry.skipped) == (2, 2, 0)
    assert (entry.shape.hold_s, entry.shape.relax_s) == (2.0, 2.0)
    assert entry.pain is None, "no terminal, no question"
    assert entry.ended_at >= entry.started_at


@pytest.mark.pulse
def test_no_log_leaves_no_entry(pulse_server, env):
    run = plain_run([*SHORT, "--reps", "1", "--no-log", "--quiet"], env)
    _out, err = run.communicate(timeout=90)
    assert run.returncode == 0, err
    assert entries(env) == []


@pytest.mark.pulse
def test_ctrl_c_marks_it_interrupted_with_the_reps_done(pulse_server, env):
    run = plain_run(["--reps", "4", "--hold", "2", "--relax", "3"], env)
    # The second "Squeeze" is said as rep 2 begins: rep 1 is done, rep 2 is not.
    lines = read_until(run.stdout, "Squeeze")
    lines += read_until(run.stdout, "Squeeze")
    run.send_signal(signal.SIGINT)
    _out, err = run.communicate(timeout=30)
    assert run.returncode == 130, err
    (entry,) = entries(env)
    assert entry.ended == "interrupted" and entry.reps_done == 1 and entry.ended_at is not None


@pytest.mark.pulse
def test_q_ends_it_early_with_the_reps_done_and_n_counts_a_skip(pulse_server, env):
    terminal = Terminal(
        ["run", "--reps", "4", "--sets", "2", "--rest", "6", "--hold", "2", "--relax", "3"], env
    )
    terminal.wait_for(r"rep 2 of 4", 60)
    terminal.type("n")  # skip the rest of set 1 (reps 2 to 4)
    terminal.wait_for(r"set 2 of 2", 30)
    terminal.wait_for(r"rep 2 of 4 · set 2 of 2", 30)
    terminal.type("q")
    terminal.wait_for(QUESTION, 30)
    terminal.type("\n")
    code, err = terminal.finish()
    assert code == 0, (err, terminal.shown[-500:])
    (entry,) = entries(env)
    assert entry.ended == "quit" and entry.skipped == 1
    assert entry.reps_done == 2, "rep 1 of each set; the skipped and the quit ones are not done"
    assert entry.shape.reps_planned == 8 and entry.pain is None


@pytest.mark.pulse
@pytest.mark.parametrize(
    ("typed", "pain", "safety"),
    [("2\n", 2, False), ("\n", None, False), ("eleven\n8\n", 8, True)],
    ids=["a number", "Enter alone", "asked again, then high"],
)
def test_the_pain_question_is_shown_spoken_and_kept(pulse_server, env, typed, pain, safety):
    result = {}

    def play(tap) -> None:
        terminal = Terminal(["run", *SHORT[2:], "--reps", "1"], env)
        terminal.wait_for(QUESTION, 60)
        result["asked_at"] = time.monotonic()
        time.sleep(1.0)  # while it is said
        for line in typed.splitlines(keepends=True):
            time.sleep(0.3)
            terminal.type(line)
        result["answered_frame"] = tap.frames()
        result["code"], result["err"] = terminal.finish()
        result["shown"] = terminal.shown

    samples, rate = record_while(play, pulse_server, tail_s=0.5, tap=True)
    assert result["code"] == 0, result
    (entry,) = entries(env)
    assert entry.pain == pain and entry.ended == "completed"
    # run shows the safety note before the session; after the answer, only when it is high.
    answered = result["shown"][result["shown"].index("How much does your back hurt now") :]
    assert ("General information, not medical advice" in answered) == safety, answered
    after_answer = [
        line.strip() for line in answered.split("skips) ")[-1].split("skip: ")[-1].splitlines()
    ]
    after_answer = [line for line in after_answer if line]
    if typed.startswith("eleven"):
        assert "A whole number from 0 to 10" in answered
        assert after_answer[:2] == ["8", "Stop here for today."], "safety first: " + answered
    else:
        assert after_answer[1:] == [], answered
    # The question was heard, after the session: sound in the recording later than the
    # session's whole length after its first sound.
    script = subprocess.run(
        [sys.executable, "-m", "voice_coach", "script", "--json", *SHORT[2:], "--reps", "1"],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    session_s = json.loads(script.stdout)["duration_s"]
    loud = np.flatnonzero(np.abs(samples) > 0.05)
    assert loud.size, "nothing was heard"
    after = (loud[-1] - loud[0]) / rate - session_s
    assert after > 0.3, f"no sound after the session ({after:.2f} s): the question was not said"
    # A worrying rating is answered aloud too (the safety note: several seconds of speech,
    # heard before run ends); any other answer ends what is said (the question's fade, at
    # most a few ms, is allowed for).
    from voice_coach.audio.playback import DEVICE_LATENCY_S

    # What the device still held when the question was cut off is heard after the answer.
    answer_frame = result["answered_frame"] + round((DEVICE_LATENCY_S + 0.1) * rate)
    said_after = np.flatnonzero(np.abs(samples[answer_frame:]) > 0.05)
    heard_s = (said_after[-1] - said_after[0]) / rate if said_after.size else 0.0
    if safety:
        assert heard_s > 3.0, f"the safety note was not said ({heard_s:.2f} s heard after it)"
        first = first_phrase_match(samples[answer_frame:], rate, said_after[0])
        assert first["Stop here for today."] > 0.9, first
        assert first["Stop here for today."] > first["That is high."] + 0.2, first
    else:
        assert said_after.size == 0, f"{heard_s:.2f} s heard after the answer"


def first_phrase_match(heard: np.ndarray, rate: int, start: int) -> dict[str, float]:
    """How well each answer's clip, rendered alone in the session's voice, matches the
    first phrase heard (the best normalised cross-correlation within 0.2 s of where
    sound starts): the phrase said first is the one that matches."""
    from voice_coach.session import SessionOptions, prepare_session, spoken_phrase

    options = SessionOptions()
    prepared = prepare_session("glute-squeeze", options)
    matches = {}
    for text in ("Stop here for today.", "That is high."):
        phrase = spoken_phrase(prepared, options, text, rate)
        clip = phrase.read(0, phrase.total_frames)
        clip = clip.mean(axis=1) if clip.ndim > 1 else clip
        loud = np.flatnonzero(np.abs(clip) > 0.05)
        clip = clip[loud[0] : loud[0] + round(0.6 * rate)]
        window = heard[max(0, start - round(0.2 * rate)) : start + round(0.2 * rate) + len(clip)]
        dots = np.correlate(window, clip, mode="valid")
        energy = np.cumsum(np.concatenate([[0.0], window.astype(np.float64) ** 2]))
        parts = np.sqrt(energy[len(clip) :] - energy[: -len(clip)])
        matches[text] = float(np.max(dots / (parts * np.linalg.norm(clip) + 1e-12)))
    return matches


def test_the_pain_question_times_out_and_takes_enter_alone_through_a_pty():
    def ask(typed: bytes | None, timeout_s: float) -> tuple[int | None, str, float]:
        parent, child = pty.openpty()
        shown: list[str] = []
        if typed is not None:
            os.write(parent, typed)
        started = time.monotonic()
        try:
            answer = ask_rating("How is it?", child, shown.append, timeout_s)
        finally:
            os.close(parent)
            os.close(child)
        return answer, "".join(shown), time.monotonic() - started

    answer, shown, took = ask(None, 0.5)
    assert answer is None and "not rated" in shown and 0.45 < took < 2.0
    assert ask(b"\n", 5)[0] is None
    answer, _shown, took = ask(b"7\n", 5)
    assert answer == 7 and took < 1.0
    answer, shown, _took = ask(b"11\n-1\n 4 \n", 5)
    assert answer == 4 and shown.count("A whole number from 0 to 10") == 2


@pytest.mark.pulse
def test_kill_9_mid_session_leaves_it_unfinished_and_the_log_whole(pulse_server, env):
    first = plain_run([*SHORT, "--reps", "1", "--quiet"], env)
    assert first.wait(timeout=90) == 0
    run = plain_run(SHORT, env)
    read_until(run.stdout, "Squeeze")
    time.sleep(0.5)
    run.send_signal(signal.SIGKILL)
    run.wait(timeout=30)
    done, killed = entries(env)
    assert done.ended == "completed"
    assert killed.ended == "unfinished" and killed.ended_at is None
    run = plain_run([*SHORT, "--reps", "1", "--quiet"], env)
    assert run.wait(timeout=90) == 0, "the next session logs as before"
    assert [e.ended for e in entries(env)] == ["completed", "unfinished", "completed"]


@pytest.mark.pulse
def test_a_log_that_cannot_be_written_never_stops_a_session(pulse_server, env, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    run = plain_run([*SHORT, "--reps", "1"], {**env, "VOICE_COACH_DATA_DIR": str(blocker)})
    out, err = run.communicate(timeout=90)
    assert run.returncode == 0, err
    assert "Session complete." in out
    assert err.count("\n") == 1 and "this session was not logged" in err
