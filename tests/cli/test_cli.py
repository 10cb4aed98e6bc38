"""Every command through typer's runner (success) and through main() (exit codes and the
one-line errors a user sees), plus the installed entry points as real processes."""

import itertools
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from voice_coach import __version__
from voice_coach.cli import app, main
from voice_coach.cli.startup import narrowed
from voice_coach.files.loader import load_protocol

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]


pytestmark = pytest.mark.usefixtures("warm_cache")


def ok(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def fails(capsys, code: int, *args: str) -> str:
    assert main(list(args)) == code
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("voice-coach: error: "), err
    return err


def test_protocols_lists_the_builtins_with_dose_and_length():
    lines = ok("protocols").splitlines()
    assert [line.split()[0] for line in lines] == [
        "glute-squeeze",
        "glute-squeeze-queue",
        "glute-squeeze-sets",
    ]
    assert "10 x 1" in lines[0] and "1:0" in lines[0]
    assert "8 x 3" in lines[2]


@pytest.mark.parametrize("name", ["glute-squeeze", "glute-squeeze-queue", "glute-squeeze-sets"])
def test_protocols_show_explains_what_why_pace_and_safety(name):
    text = ok("protocols", "show", name)
    protocol = load_protocol(name)
    pace = text.split("Pace:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    for phase, line in zip(protocol.phases, pace, strict=False):
        assert line.split()[:2] == [phase.name, f"{phase.seconds:g}"], (phase, line)
    reps = f"{protocol.reps} reps x {protocol.sets} set"
    assert any(line.strip().startswith(reps) for line in pace), pace
    assert "Why" in text or "blood" in text
    assert "not medical advice" in text and "numbness or weakness" in text


def test_protocols_show_a_file_and_a_bad_name(tmp_path, capsys):
    path = tmp_path / "mine.toml"
    path.write_text('name = "mine"\ndescription = "d"\n[[phases]]\nname = "a"\nseconds = 2\n')
    assert "mine" in ok("protocols", "show", str(path))
    assert "did you mean glute-squeeze-sets" in fails(
        capsys, 2, "protocols", "show", "glute-squeeze-set"
    )


def test_version_and_help():
    assert ok("--version").strip() == f"voice-coach {__version__}"
    assert "run" in ok() and "export" in ok()


def test_script_prints_timed_lines_and_the_total():
    lines = ok("script").splitlines()
    assert lines[0].startswith("Safety: General information, not medical advice.")
    assert lines[1] == " 0:00.0  (tone: start)"
    assert any(line.endswith("  Squeeze") and line.strip().startswith("0:06.") for line in lines)
    assert "total 1:" in lines[-1]


def test_script_json_is_the_contract_and_matches_the_text():
    data = json.loads(ok("script", "--json"))
    assert data["protocol"] == "glute-squeeze" and data["duration_s"] > 60
    assert [c["at_s"] for c in data["cues"]] == sorted(c["at_s"] for c in data["cues"])
    text = ok("script").splitlines()
    assert len(text) == len(data["cues"]) + 2  # the safety note first, the total last
    assert all(
        c["kind"] in ("say", "tone") and {"phase", "rep", "set", "text"} <= set(c)
        for c in data["cues"]
    )


def squeezes(*args: str) -> list[float]:
    data = json.loads(ok("script", "--json", *args))
    return [c["at_s"] for c in data["cues"] if c["tone"] == "squeeze"]


def test_pace_options_change_the_times():
    assert squeezes()[:2] == [6.0, 12.0]
    assert squeezes("--hold", "4")[:2] == [6.0, 13.0]
    assert squeezes("--phase", "relax=5")[:2] == [6.0, 14.0]
    assert squeezes("--pace", "slow")[:2] == [9.0, 18.0]
    assert squeezes("--pace", "1.25")[:2] == [7.5, 15.0]
    assert len(squeezes("--reps", "5")) == 5
    assert squeezes("--lead-in", "8")[0] == 8.0


def test_language_and_cue_style():
    german = json.loads(ok("script", "--json", "--lang", "de"))
    texts = {c["text"] for c in german["cues"]}
    assert "Anspannen" in texts and "Squeeze" not in texts
    tones = json.loads(ok("script", "--json", "--cues", "tones"))
    assert all(c["kind"] == "tone" for c in tones["cues"])


def test_overlap_is_an_error_until_allowed(capsys):
    err = fails(capsys, 2, "script", "--rate", "80")
    assert "needs" in err and "has" in err and "--rate" in err and "--allow-overlap" in err
    assert main(["script", "--rate", "80", "--allow-overlap"]) == 0


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["script", "--pace", "quick"], "--pace"),
        (["script", "--phase", "squeeze"], "NAME=SECONDS"),
        (["script", "--phase", "hold=3"], "no phase 'hold'"),
        (["script", "--reps", "0"], "--reps"),
        (["script", "--cues", "x"], "--cues"),
        (["script", "--volume", "2"], "--volume"),
        (["script", "--rate", "5"], "rate"),
        (["script", "--voice", "klingon-xx"], "No installed voice"),
        (["script", "nothing-here"], "no such file"),
        (["run", "--backend", "winamp"], "--backend"),
        (["voices", "--lang", "xx"], "no installed voice"),
        (["export", "--format", "aiff"], "--format"),
    ],
)
def test_bad_options_are_one_line_and_exit_2(capsys, args, words):
    assert words.lower() in fails(capsys, 2, *args).lower()


def test_voices_lists_and_filters():
    listed = ok("voices")
    assert "gmw/en" in listed and "voices" in listed.splitlines()[-1]
    assert ok("voices", "--lang", "de").splitlines()[0].startswith("gmw/de")
    data = json.loads(ok("voices", "--json"))
    assert {"id", "name", "languages"} <= set(data[0])


@pytest.mark.parametrize(
    "entry",
    [["-m", "voice_coach"], ["-c", "from voice_coach.cli import entry_point; entry_point()"]],
)
def test_entry_points_as_processes(tmp_path, entry):
    env_args = {"capture_output": True, "text": True, "timeout": 60}
    good = subprocess.run([sys.executable, *entry, "protocols"], **env_args)
    assert good.returncode == 0 and "glute-squeeze" in good.stdout
    bad = subprocess.run([sys.executable, *entry, "script", "--reps", "-3"], **env_args)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr


def test_installed_command_exists():
    command = ROOT / ".venv" / "bin" / "voice-coach"
    if not command.exists():
        pytest.skip("not installed in .venv (run ./scripts/setup)")
    done = subprocess.run([str(command), "--version"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and __version__ in done.stdout


def test_a_bug_is_one_line_not_a_traceback(capsys, monkeypatch):
    """A failure no input can provoke (a bug) is stood in for by a loader that breaks."""

    def broken(*_args, **_kwargs):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr("voice_coach.cli.session_commands.load_protocol", broken)
    assert main(["protocols"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "internal error: RuntimeError: boom second line" in err
    monkeypatch.setenv("VOICE_COACH_DEBUG", "1")
    with pytest.raises(RuntimeError):
        main(["protocols"])


def threads_after(code: str, **env: str) -> int:
    probe = f"import os\n{code}\nprint(len(os.listdir('/proc/self/task')))"
    environment = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"} | env
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=environment, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return int(done.stdout)


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux's /proc")
def test_the_cli_starts_no_blas_threads_unless_the_user_asks():
    """numpy's OpenBLAS starts a spinning thread per core as it loads (measured: ~150 ms of
    CPU per start); voice-coach does no linear algebra, so its CLI asks for none, and a
    user's own OPENBLAS_NUM_THREADS still wins."""
    if (os.cpu_count() or 1) > 1:  # where it would start more, show that it does
        assert threads_after("import numpy") > 1
    assert threads_after("import voice_coach.cli") == 1
    if (os.cpu_count() or 1) > 1:
        assert threads_after("import voice_coach.cli", OPENBLAS_NUM_THREADS="2") == 2


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_full_standard_output_is_a_one_line_error_not_a_bug_report():
    with Path("/dev/full").open("wb") as full:
        done = subprocess.run(
            [sys.executable, "-m", "voice_coach", "script"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    assert done.returncode == 1, done.stderr
    assert done.stderr == (
        "voice-coach: error: standard output could not be written "
        "(no space left: the disk is full)\n"
    )


def test_a_reader_that_stops_early_ends_the_command_quietly():
    """``voice-coach script | head -c 10``: two real processes and a real pipe; the
    reader's choice, so exit 0 and nothing on stderr (as an export to a pipe)."""
    script = subprocess.Popen(
        [sys.executable, "-m", "voice_coach", "script", "--reps", "1000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    head = subprocess.run(["head", "-c", "10"], stdin=script.stdout, capture_output=True)
    script.stdout.close()
    code = script.wait(timeout=120)
    assert len(head.stdout) == 10
    assert (code, script.stderr.read()) == (0, b"")


@pytest.mark.skipif(
    not sys.dont_write_bytecode,
    reason="Python writes bytecode on first import here, so no start after it compiles",
)
def test_a_start_compiles_none_of_our_modules():
    """Where Python may not write bytecode (PYTHONDONTWRITEBYTECODE, as on this project's
    machines), modules an editable install leaves as source are compiled on every start
    (about 40 ms): ``scripts/setup`` compiles them. ``python -v`` says where each
    module's code came from."""
    done = subprocess.run(
        [sys.executable, "-v", "-c", "import voice_coach.cli, voice_coach.files.export"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = [line for line in done.stderr.splitlines() if line.startswith("# code object from")]
    ours = [line for line in loaded if "voice_coach" in line]
    assert len(ours) > 5
    compiled = [line for line in ours if not line.rstrip("'").endswith(".pyc")]
    assert compiled == [], "compiled at start (run ./scripts/setup): " + "; ".join(compiled)


@pytest.mark.parametrize("engine", ["espeak-ng", "piper"])
def test_an_encouragement_with_no_room_is_left_out_with_a_note(capsys, engine):
    """`--reps 7 --hold 4 --relax 2` was refused ('Halfway there.' needed 0.74 s and had
    0.67 s with Piper): it plays. With a 1.2 s relax no encouragement fits after "And
    relax": each is left out, said in one note, and every required word stays."""
    assert main(["script", "--reps", "7", "--hold", "4", "--relax", "2", "--engine", engine]) == 0
    capsys.readouterr()
    args = ["script", "--json", "--reps", "7", "--hold", "4", "--relax", "1.2", "--engine", engine]
    assert main(args) == 0
    captured = capsys.readouterr()
    cues = json.loads(captured.out)["cues"]
    assert [c["rep"] for c in cues if c["text"] == "Squeeze"] == [1, 2, 3, 4, 5, 6, 7]
    assert [c["rep"] for c in cues if c["text"] == "And relax"] == [1, 2, 3, 4, 5, 6, 7]
    said = [c for c in cues if c["kind"] == "say"]
    for cue, after in itertools.pairwise(said):
        assert cue["at_s"] + cue["duration_s"] <= after["at_s"] + 1e-9, (cue, after)
    assert not {"Halfway there.", "Last one."} & {c["text"] for c in cues}
    assert captured.err.count("\n") == 1 and captured.err.startswith(
        "voice-coach: note: left out, with no room before the next cue: "
        "'Halfway there.' (rep 3), 'Last one.' (rep 6)"
    ), captured.err


def test_the_hint_of_a_refused_session_names_a_duration_that_works(capsys):
    err = fails(capsys, 2, "script", "--relax", "0.5", "--engine", "espeak-ng")
    hint = re.search(r"--phase relax=([\d.]+)", err)
    assert hint, err
    assert round(float(hint[1]) * 10, 6) == round(float(hint[1]) * 10), "tenths"
    assert main(["script", "--phase", f"relax={hint[1]}", "--engine", "espeak-ng"]) == 0
    shorter = f"relax={float(hint[1]) - 0.2:.1f}"
    capsys.readouterr()
    assert main(["script", "--phase", shorter, "--engine", "espeak-ng"]) == 2, "the least"
    capsys.readouterr()
    err = fails(capsys, 2, "script", "--pace", "2", "--relax", "0.25", "--engine", "espeak-ng")
    paced = re.search(r"--phase relax=([\d.]+)", err)
    assert main(["script", "--pace", "2", "--phase", f"relax={paced[1]}", "--engine",
                 "espeak-ng"]) == 0  # fmt: skip


def run_with(which: typer.Typer, args: list[str], capsys) -> tuple[str, str]:
    """What a start with ``which`` as the app shows for ``args``: output, or the error."""
    command = typer.main.get_command(which)
    try:
        command.main(args=args, prog_name="voice-coach", standalone_mode=False)
    except Exception as exc:  # click's usage errors, exactly as main() would get them
        error = exc
        message = error.format_message() if hasattr(error, "format_message") else str(error)
        return capsys.readouterr().out, f"{type(error).__name__}: {message}"
    return capsys.readouterr().out, ""


@pytest.mark.parametrize("name", ["script", "run", "export", "voices", "doctor", "protocols"])
def test_a_start_builds_only_its_own_command_and_reads_the_same(name, capsys):
    """Only the command a start runs is built (typer reads every command's options on
    each start); what the user sees, help and usage errors, is the same as with all."""
    narrow = narrowed(app, [name, "--help"])
    assert narrow is not app
    built = [info.callback.__name__ for info in narrow.registered_commands]
    built += [info.name for info in narrow.registered_groups]
    assert built == [name]
    assert len(narrow.registered_groups) < len(app.registered_groups)
    for args in ([name, "--help"], [name, "--no-such-option"], [name, "--rate", "x"]):
        assert run_with(narrow, args, capsys) == run_with(app, args, capsys), args


@pytest.mark.parametrize("argv", [[], ["--help"], ["--version"], ["exprot"]])
def test_anything_but_a_command_gets_the_whole_app(argv):
    assert narrowed(app, argv) is app
