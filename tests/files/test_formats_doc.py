"""The README's promises about protocols, checked against the code and the files: its
example protocol runs as written in English and German, its table of built-ins gives
what the files and `protocols` give, and its tables of tones and placeholders list what
the loader accepts."""

import re
from pathlib import Path

import pytest

from voice_coach.audio.tones import TONE_NAMES
from voice_coach.cli import main
from voice_coach.cli.options import listed_length
from voice_coach.core.protocol import PLACEHOLDERS, TEMPLATE_FIELDS, Pace, apply_pace, in_language
from voice_coach.files.loader import builtin_names, load_protocol
from voice_coach.session import SessionOptions, prepare_session

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "docs" / "formats.md").read_text(encoding="utf-8")

pytestmark = pytest.mark.usefixtures("warm_cache")


def table_after(heading: str) -> list[list[str]]:
    """The rows of the first Markdown table after ``heading``, cells stripped."""
    section = README[README.index(heading) :]
    lines = re.search(r"\n(\|.*\|\n)+", section)
    assert lines, f"no table after {heading!r}"
    rows = [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in lines.group(0).strip().splitlines()
    ]
    return rows[2:]  # past the header and its rule


@pytest.fixture
def example(tmp_path) -> Path:
    found = re.search(r"```toml\n(.*?)```", README, re.S)
    assert found, "the README has a TOML example"
    path = tmp_path / "example.toml"
    path.write_text(found.group(1), encoding="utf-8")
    return path


@pytest.mark.parametrize("language", ["en", "de"])
def test_the_example_protocol_runs_as_written_without_overlap(example, language):
    """Spoken with the real voices and timed: prepare_session stops at the first word that
    runs into the next cue (the README's example once did: 'Lift and hold' 0.90 s of 0.78)."""
    prepared = prepare_session(str(example), SessionOptions(language=language))
    said = {cue.text for cue in prepared.timeline.cues if cue.kind == "say"}
    assert prepared.timeline.sets == 2 and len(said) > 10
    if language == "de":
        english = prepare_session(str(example), SessionOptions())
        heard_in_english = {cue.text for cue in english.timeline.cues if cue.kind == "say"}
        assert not said & heard_in_english, said & heard_in_english
        assert {"Anheben", "Satz 1 von 2.", "Halbzeit."} <= said
        assert prepared.protocol.safety.startswith("Keine medizinische Beratung.")


def test_the_builtins_table_agrees_with_the_files_and_the_protocols_command(capsys):
    rows = table_after("### The built-ins")
    assert [row[0].strip("`") for row in rows] == builtin_names()
    assert main(["protocols"]) == 0
    listed = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    for name, dose, phases, rest, length, _what in rows:
        protocol = apply_pace(load_protocol(name.strip("`")), Pace())
        assert dose == f"{protocol.reps} x {protocol.sets}", name
        assert phases == ", ".join(
            f"{p.name} {p.seconds:g}" + (f" (counted {p.count})" if p.count else "")
            for p in protocol.phases
        ), name
        assert rest == (f"{protocol.rest_s:g} s" if protocol.sets > 1 else "-"), name
        assert length == listed_length(protocol), name
        shown = listed[name.strip("`")].split()
        assert shown[1:4] == [str(protocol.reps), "x", str(protocol.sets)] and shown[4] == length
        assert main(["protocols", "show", name.strip("`")]) == 0
        assert f"about {length}" in capsys.readouterr().out


def test_the_tones_table_names_every_tone_and_no_other():
    assert [row[0].strip("`") for row in table_after("### Tones")] == list(TONE_NAMES)


def test_the_placeholders_table_says_where_each_has_a_value():
    rows = table_after("### Placeholders")
    assert [row[0].strip("`{}") for row in rows] == sorted(
        TEMPLATE_FIELDS, key=["reps", "sets", "rest", "set", "rep"].index
    )
    for placeholder, _value, where in rows:
        name = placeholder.strip("`{}")
        if where == "every spoken text":
            places = set(PLACEHOLDERS)
        else:
            places = set(re.findall(r"`(\w+)`", where))
            places |= {"say"} if where.startswith("phase words") else set()
        assert places == {key for key, fields in PLACEHOLDERS.items() if name in fields}, name


def test_the_example_in_a_language_it_has_no_words_for_is_a_clear_error(example, capsys):
    assert main(["script", str(example), "--lang", "fr"]) == 2
    assert "n'a pas de mots pour la langue 'fr'" in capsys.readouterr().err  # said in French
    german = in_language(load_protocol(example), "de")
    assert german.phases[0].say == "Anheben"
