"""The safety note: each protocol's own (or the general one shipped for its language),
translated, and shown where a session starts: `protocols show`, `run` (one line before
the first sound), `script` (its first line), `script --json` and the export's timeline."""

import json
import os
import subprocess
import sys

import pytest
from probe import ffprobe

from voice_coach.cli import main
from voice_coach.core.protocol import in_language
from voice_coach.files.loader import builtin_names, load_protocol, parse_protocol, shipped_words

BACK_NOTE = "numbness or weakness"
MINE = """
name = "pelvic-floor"
description = "Lifts."
{safety}
[session]
reps = 2
lead_in_s = 0
[[phases]]
name = "lift"
seconds = 1
say = "Lift"
[cues]
end = "Done."
[translations.de]
phases.lift.say = "Heben"
cues.end = "Fertig."
{de_safety}
"""


def mine(safety: str = "", de_safety: str = "") -> bytes:
    return MINE.format(safety=safety, de_safety=de_safety).encode()


pytestmark = pytest.mark.usefixtures("warm_cache")


def test_a_protocol_without_a_note_gets_the_general_one_of_its_language_not_the_back():
    protocol = parse_protocol(mine(), "mine.toml", "mine.toml")
    assert protocol.safety == shipped_words("en").safety
    assert "not medical advice" in protocol.safety and "back" not in protocol.safety
    german = in_language(protocol, "de")
    assert german.safety == shipped_words("de").safety and "Rücken" not in german.safety
    assert "Schmerzen" in german.safety


def test_a_protocol_carries_its_own_note_and_its_translation():
    protocol = parse_protocol(
        mine('safety = """Stop if it hurts.\n  Ask your midwife."""', 'safety = "Hör auf."'),
        "mine.toml",
        "mine.toml",
    )
    assert protocol.safety == "Stop if it hurts. Ask your midwife."  # one line wherever shown
    assert in_language(protocol, "de").safety == "Hör auf."


def test_an_untranslated_own_note_is_not_replaced_by_the_general_one():
    protocol = parse_protocol(mine('safety = "Ask your midwife."'), "mine.toml", "mine.toml")
    assert in_language(protocol, "de").safety == "Ask your midwife."


@pytest.mark.parametrize("bad", ['safety = "a\\u001b[31mred"', "safety = 3"])
def test_a_bad_note_is_a_protocol_error(bad, capsys, tmp_path):
    path = tmp_path / "mine.toml"
    path.write_bytes(mine(bad))
    assert main(["protocols", "show", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "safety" in err


@pytest.mark.parametrize("name", builtin_names())
@pytest.mark.parametrize("language", ["en", "de", "es", "fr"])
def test_every_builtin_has_the_back_note_in_every_language(name, language):
    """Today's note is the built-ins' own, translated; the general one never stands in."""
    protocol = in_language(load_protocol(name), language)
    assert protocol.safety != shipped_words(language).safety
    assert protocol.safety == in_language(load_protocol("glute-squeeze"), language).safety
    words = {"en": BACK_NOTE, "de": "Taubheit", "es": "entumecimiento", "fr": "engourdissement"}
    assert words[language] in protocol.safety


def test_protocols_show_prints_the_note_in_the_language_asked(capsys):
    assert main(["protocols", "show", "glute-squeeze", "--lang", "fr"]) == 0
    text = capsys.readouterr().out
    note = in_language(load_protocol("glute-squeeze"), "fr").safety
    assert text.rstrip().splitlines()[-1] == f"Sécurité : {note}"  # --lang: the screens too


def test_script_says_the_note_first_and_json_carries_it(capsys, tmp_path):
    path = tmp_path / "mine.toml"
    path.write_bytes(mine('safety = "Ask your midwife."'))
    assert main(["script", str(path)]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "Safety: Ask your midwife."
    assert main(["script", str(path), "--json", "--lang", "de"]) == 0
    assert json.loads(capsys.readouterr().out)["safety"] == "Ask your midwife."
    assert main(["script", "--json", "--lang", "es"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["safety"] == in_language(load_protocol("glute-squeeze"), "es").safety


def test_the_exported_timeline_carries_the_note(tmp_path, capsys):
    path = tmp_path / "mine.toml"
    path.write_bytes(mine('safety = "Ask your midwife."'))
    out = tmp_path / "s.wav"
    assert main(["export", str(path), "-o", str(out), "--timeline", "--quiet"]) == 0
    assert json.loads((tmp_path / "s.json").read_text())["safety"] == "Ask your midwife."


@pytest.mark.pulse
def test_run_prints_the_note_before_the_first_cue_and_quiet_hides_it(tmp_path, pulse_server):
    path = tmp_path / "mine.toml"
    path.write_bytes(mine('safety = "Ask your midwife."'))
    env = {**os.environ, "VOICE_COACH_CACHE_DIR": str(tmp_path / "cache")}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "voice_coach", "run", str(path), "--lang", "de", *args],
            env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
        )  # fmt: skip

    played = run()
    assert played.returncode == 0, played.stderr
    lines = played.stdout.splitlines()
    assert lines[0] == "Sicherheit: Ask your midwife.", lines  # --lang de: German screens
    assert any("Heben" in line for line in lines[1:]) and lines[-1] == "Einheit geschafft."
    quiet = run("--quiet")
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stdout == ""


@pytest.mark.parametrize("fmt", ["mp3", "ogg"])
def test_an_exported_file_carries_the_protocols_own_note_in_the_language_asked(tmp_path, fmt):
    """Read back by ffprobe, not by the library that wrote the tags."""
    path = tmp_path / "mine.toml"
    path.write_bytes(mine('safety = "Ask your midwife."', 'safety = "Frag deine Hebamme."'))
    out = tmp_path / f"s.{fmt}"
    assert main(["export", str(path), "-o", str(out), "--lang", "de", "--quiet"]) == 0
    probe = ffprobe(out)
    tags = {**probe["format"].get("tags", {}), **probe["streams"][0].get("tags", {})}
    comments = [value for key, value in tags.items() if key.lower() == "comment"]
    assert comments == ["Frag deine Hebamme."], tags
