"""The settings file: defaults the command line overrides, and where each value came from."""

import json

import pytest

from voice_coach.cli import main


@pytest.fixture
def settings(tmp_path, monkeypatch, warm_cache):
    path = tmp_path / "config.toml"
    monkeypatch.setenv("VOICE_COACH_CONFIG", str(path))
    monkeypatch.setenv("VOICE_COACH_DATA_DIR", str(tmp_path / "data"))
    return path


def timeline(capsys, *argv):
    assert main(["script", "--json", *argv]) == 0
    return json.loads(capsys.readouterr().out)


def test_config_show_says_where_each_value_comes_from(settings, capsys):
    assert main(["config", "show"]) == 0
    shown = capsys.readouterr().out
    assert "no such file" in shown and "pace     normal" in shown and "default" in shown
    settings.write_text('pace = "slow"\nvolume = 0.5\nprogram = "glute-squeeze-daily"\n')
    assert main(["config", "show"]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[1:]}
    assert lines["pace"].split()[1:] == ["slow", "settings", "file"]
    assert lines["volume"].split()[1:] == ["0.5", "settings", "file"]
    assert lines["program"].split()[1:] == ["glute-squeeze-daily", "settings", "file"]
    assert lines["cues"].split()[1:] == ["both", "default"]
    assert lines["others"].split()[1:] == ["duck", "default"]
    assert lines["duck_db"].split()[1:] == ["15.0", "default"]
    settings.write_text('others = "pause"\nduck_db = 9\n')
    assert main(["config", "show"]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[1:]}
    assert lines["others"].split()[1:] == ["pause", "settings", "file"]
    assert lines["duck_db"].split()[1:] == ["9.0", "settings", "file"]


def test_settings_are_defaults_and_the_command_line_overrides(settings, capsys):
    plain = timeline(capsys)
    settings.write_text('pace = "slow"\ncues = "tones"\n')
    slow = timeline(capsys)
    assert slow["duration_s"] > plain["duration_s"] * 1.3
    assert all(cue["kind"] == "tone" for cue in slow["cues"])
    back = timeline(capsys, "--pace", "normal", "--cues", "both")
    assert back == plain


def test_a_default_program_plays_without_a_name_and_a_name_wins(settings, capsys):
    settings.write_text('program = "glute-squeeze-daily"\n')
    reps = {cue["rep"] for cue in timeline(capsys)["cues"] if cue["rep"]}
    assert reps == set(range(1, 6)), "the program's first stage: 5 reps"
    reps = {cue["rep"] for cue in timeline(capsys, "glute-squeeze")["cues"] if cue["rep"]}
    assert reps == set(range(1, 11)), "a protocol named on the command line is played as is"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('pace = "zippy"', "pace: must be a preset or a factor from 0.25 to 4, got 'zippy'"),
        ("pace = 9", "pace: must be a preset or a factor from 0.25 to 4, got '9'"),
        ('cues = "loud"', "cues: must be one of voice, tones, both"),
        ("volume = 2", "volume: must be a number from 0 to 1"),
        ("volume = nan", "volume: must be a number from 0 to 1"),
        ("rate = 'fast'", "rate: must be a whole number"),
        ('lang = ""', "lang: must be text"),
        ('paec = "slow"', "paec: unknown key; did you mean pace?"),
        ("pace = ", "is not valid TOML"),
        ("reps = 5", "reps: unknown key"),
        ('others = "loud"', "others: must be one of duck, pause, keep"),
        ("duck_db = 50", "duck_db: must be a number of decibels from 3 to 40"),
        ("duck_db = true", "duck_db: must be a number of decibels from 3 to 40"),
    ],
)
def test_a_broken_settings_file_is_one_line_exit_2(settings, capsys, text, message):
    settings.write_text(text)
    for argv in (["config", "show"], ["script"], ["run", "--quiet"], ["today"]):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and str(settings) in err and message in err, err


def test_a_settings_program_that_does_not_exist_is_exit_2(settings, capsys):
    settings.write_text('program = "nope"\n')
    assert main(["script"]) == 2
    assert "no such file or built-in program" in capsys.readouterr().err


def test_the_readme_example_is_a_valid_settings_file(settings, capsys):
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "docs" / "formats.md").read_text(
        encoding="utf-8"
    )
    section = readme[readme.index("## Settings") :]
    settings.write_text(re.search(r"```toml\n(.*?)```", section, re.S).group(1))
    assert main(["config", "show"]) == 0
    shown = capsys.readouterr().out
    assert "lang     de" in shown and "engine   espeak-ng" in shown


def test_the_engine_setting_reaches_the_session(settings, capsys):
    """In a process of its own: espeak-ng's words depend on what it said before in the
    same process, and tests/speech/test_speech.py measures them to the percent."""
    import os
    import subprocess
    import sys

    settings.write_text('engine = "espeak-ng"\n')
    script = subprocess.run(
        [sys.executable, "-m", "voice_coach", "script", "--json"],
        env=dict(os.environ), capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    assert json.loads(script.stdout)["voice"]["engine"] == "espeak-ng"
    assert main(["config", "show"]) == 0
    assert "engine   espeak-ng" in capsys.readouterr().out
