"""Protocol files: the built-ins, the README's example, and a catalogue of bad files.

Every bad file must give one ProtocolError line (exit status 2) that names the file and
the field, and says what would be right. Add a row to BAD to cover a new mistake.
"""

import re
from pathlib import Path

import pytest

from voice_coach.errors import ProtocolError
from voice_coach.files.loader import builtin_names, load_protocol, parse_protocol

ROOT = Path(__file__).resolve().parents[2]

GOOD = """
name = "calf-raises"
description = "Slow calf raises."
language = "en"
[session]
reps = 8
[[phases]]
name = "up"
seconds = 2
say = "Up"
[[phases]]
name = "down"
seconds = 3
say = "Down"
"""


def with_lines(*replacements: tuple[str, str], extra: str = "") -> str:
    text = GOOD
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new)
    return text + extra


BAD = [
    ("not toml", 'name = "x"\nreps = = 3\n', ["not valid TOML", "line 2"]),
    ("unknown top key", with_lines(extra='\ndescripton2 = "x"\n'), ["descripton2", "unknown key"]),
    ("typo of session", with_lines(("[session]", "[sesion]")), ["sesion", "did you mean session"]),
    ("typo in session", with_lines(("reps = 8", "repz = 8")), ["session.repz", "session.reps"]),
    ("typo in a phase", with_lines(("seconds = 2", "secnds = 2")), ["phases[1].secnds", "seconds"]),
    ("typo in cues", with_lines(extra='[cues]\nstrat = "Go"\n'), ["cues.strat", "cues.start"]),
    ("missing name", with_lines(('name = "calf-raises"\n', "")), ["name", "missing"]),
    ("missing description", with_lines(('description = "Slow calf raises."', "")), ["description"]),
    ("missing phases", GOOD.split("[[phases]]")[0], ["phases", "at least one phase"]),
    ("empty phase list", 'name = "x"\ndescription = "y"\nphases = []\n', ["phases", "empty"]),
    ("missing phase name", with_lines(('name = "up"\n', "")), ["phases[1].name", "missing"]),
    ("missing seconds", with_lines(("seconds = 2\n", "")), ["phases[1].seconds", "missing"]),
    (
        "seconds as text",
        with_lines(("seconds = 2", 'seconds = "2"')),
        ["phases[1].seconds", "number"],
    ),
    ("zero seconds", with_lines(("seconds = 2", "seconds = 0")), ["phases[1].seconds", "from 0.5"]),
    ("negative seconds", with_lines(("seconds = 2", "seconds = -3")), ["phases[1].seconds"]),
    ("nan seconds", with_lines(("seconds = 2", "seconds = nan")), ["phases[1].seconds"]),
    ("inf seconds", with_lines(("seconds = 2", "seconds = inf")), ["phases[1].seconds"]),
    ("tiny phase", with_lines(("seconds = 2", "seconds = 0.001")), ["phases[1].seconds"]),
    ("zero reps", with_lines(("reps = 8", "reps = 0")), ["session.reps", "from 1"]),
    ("negative sets", with_lines(extra="").replace("reps = 8", "reps = 8\nsets = -1"), ["sets"]),
    ("reps as float", with_lines(("reps = 8", "reps = 8.5")), ["session.reps", "whole number"]),
    ("absurd session", with_lines(("reps = 8", "reps = 1000\nsets = 100")), ["hours", "limit"]),
    ("long text", with_lines(('say = "Up"', f'say = "{"a" * 301}"')), ["phases[1].say", "300"]),
    ("placeholder", with_lines(('say = "Up"', 'say = "Up {foo}"')), ["{foo}", "placeholder"]),
    ("markup", with_lines(('say = "Up"', 'say = "<break time=\\"9s\\"/>"')), ["phases[1].say"]),
    ("control chars", with_lines(('say = "Up"', 'say = "Up\\u0007"')), ["control characters"]),
    ("duplicate phase", with_lines(('name = "down"', 'name = "up"')), ["used twice"]),
    ("bad kind", with_lines(('say = "Up"', 'say = "Up"\nkind = "squeeze"')), ["kind", "hold"]),
    ("bad count", with_lines(('say = "Up"', 'say = "Up"\ncount = "sideways"')), ["count", "up"]),
    (
        "translation of unknown phase",
        with_lines(extra='[translations.de]\nphases.sideways.say = "Seitwärts"\n'),
        ["translations.de.phases.sideways"],
    ),
    (
        "translation typo",
        with_lines(extra='[translations.de]\ntitel = "Waden"\n'),
        ["translations.de.titel", "title"],
    ),
    ("translation not a table", 'translations = { de = "x" }\n' + GOOD, ["translations.de"]),
    (
        "unknown tone",
        with_lines(('say = "Up"', 'say = "Up"\ntone = "bell"')),
        ["phases[1].tone", "phase 'up'", "'bell'", "tones: squeeze, relax, start"],
    ),
    (
        "placeholder spec",
        with_lines(('say = "Up"', 'say = "Up {rest:999999}"')),
        ["phases[1].say", "plainly"],
    ),
    (
        "no rep at the start",
        with_lines(extra='[cues]\nstart = "Rep {rep}"\n'),
        ["cues.start", "{rep} has no value", "{reps}, {rest}, {sets}"],
    ),
    (
        "no set at the end",
        with_lines(extra='[cues]\nend = "Set {set} done"\n'),
        ["cues.end", "{set} has no value"],
    ),
    (
        "no rep in last one",
        with_lines(extra='[cues]\nlast_rep = "Rep {rep}"\n'),
        ["cues.last_rep", "{rep} has no value"],
    ),
    (
        "translated placeholder",
        with_lines(extra='[translations.de]\ncues.rest = "{rep} Pause"\n'),
        ["translations.de.cues.rest", "{rep} has no value"],
    ),
    (
        "translated unknown",
        with_lines(extra='[translations.de]\nphases.up.say = "{wdh}"\n'),
        ["translations.de.phases.up.say", "unknown placeholder {wdh}"],
    ),
    (
        "placeholder in a count word",
        with_lines(('language = "en"', 'language = "en"\nnumbers = ["{rep}"]')),
        ["numbers[1]", "{rep} has no value"],
    ),
    (
        "safety control chars",
        with_lines(('language = "en"', 'language = "en"\nsafety = "a\\u001b[31m"')),
        ["safety", "control characters"],
    ),
    (
        "too many phases",
        "".join([GOOD, *(f'[[phases]]\nname = "p{i}"\nseconds = 1\n' for i in range(20))]),
        ["limit is 20"],
    ),
]


@pytest.mark.parametrize(("text", "words"), [(t, w) for _, t, w in BAD], ids=[i for i, _, _ in BAD])
def test_a_bad_protocol_file_is_one_clear_line(tmp_path, text, words):
    path = tmp_path / "mine.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ProtocolError) as caught:
        load_protocol(path)
    line = caught.value.one_line()
    assert caught.value.exit_code == 2
    assert "\n" not in line and str(path) in line, line
    for word in words:
        assert word.lower() in line.lower(), (word, line)


def test_missing_file_and_folder_and_bad_bytes(tmp_path):
    with pytest.raises(ProtocolError, match="no such file or built-in"):
        load_protocol(tmp_path / "nope.toml")
    with pytest.raises(ProtocolError) as caught:
        load_protocol("glute-squeez")
    assert "did you mean glute-squeeze" in caught.value.one_line()
    with pytest.raises(ProtocolError, match="is a folder"):
        load_protocol(tmp_path)
    latin = tmp_path / "latin.toml"
    latin.write_bytes(GOOD.replace("Slow", "Sl\xf6w").encode("latin-1"))
    with pytest.raises(ProtocolError, match="not UTF-8"):
        load_protocol(latin)


def test_all_builtins_load_within_the_articles_dose():
    names = builtin_names()
    assert names[0] == "glute-squeeze"
    assert set(names) == {"glute-squeeze", "glute-squeeze-queue", "glute-squeeze-sets"}
    for name in names:
        protocol = load_protocol(name)
        assert 5 <= protocol.reps <= 10, name
        assert set(protocol.languages) >= {"en", "de", "es", "fr"}
        assert [p.kind for p in protocol.phases] == ["hold", "relax"]


def test_default_session_is_ten_squeezes_of_about_a_minute():
    protocol = load_protocol(None)
    assert protocol.name == "glute-squeeze" and protocol.reps == 10 and protocol.sets == 1
    assert 50 <= protocol.lead_in_s + protocol.reps * protocol.rep_s <= 75


def test_the_readme_example_loads_as_documented(tmp_path):
    readme = (ROOT / "docs" / "formats.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Protocol files") :]
    example = re.search(r"```toml\n(.*?)```", section, re.S)
    assert example, "the README has a TOML example"
    path = tmp_path / "example.toml"
    path.write_text(example.group(1), encoding="utf-8")
    protocol = load_protocol(path)
    assert protocol.name == "pelvic-floor" and protocol.reps == 8 and protocol.sets == 2
    assert [(p.name, p.kind, p.count) for p in protocol.phases] == [
        ("lift", "hold", "down"),
        ("release", "relax", None),
    ]
    assert protocol.translations["de"].phases["lift"] == "Anheben"
    assert protocol.numbers[:2] == ("one", "two")


def test_numbers_default_per_language():
    protocol = parse_protocol(GOOD.replace('language = "en"', 'language = "de"').encode(), "x", "x")
    assert protocol.numbers[:3] == ("eins", "zwei", "drei")
    french = load_protocol("glute-squeeze").translations["fr"]
    assert french.numbers is not None and french.numbers[:2] == ("un", "deux")


def test_shipped_files_are_read_by_plain_name_only():
    """Built-ins are read through the package's loader; a name with a path in it never
    reaches outside the package, and what is not shipped is simply not there."""
    from voice_coach.package_data import read_package_file

    shipped = read_package_file("voice_coach.protocols", "glute-squeeze.toml")
    assert shipped is not None and b"[[phases]]" in shipped
    assert read_package_file("voice_coach.sounds", "squeeze.wav")[:4] == b"RIFF"
    for name in ("../cli.py", "../__init__.py", "/etc/passwd", "a/b.toml", "", ".hidden"):
        assert read_package_file("voice_coach.protocols", name) is None, name
    assert read_package_file("voice_coach.protocols", "missing.toml") is None


def test_every_listed_builtin_loads_by_name_and_the_languages_file_is_no_protocol(tmp_path):
    for name in builtin_names():
        assert load_protocol(name).name
    with pytest.raises(ProtocolError, match="no such file or built-in"):
        load_protocol("languages")
    with pytest.raises(ProtocolError, match="no such file or built-in"):
        load_protocol("../protocols/glute-squeeze")
