"""Words in every language: no silent English, placeholders said with their values, counts
left out (with a note) where a language has no count words, and every built-in complete
in every shipped language."""

import re
import subprocess

import pytest

from voice_coach.cli import main
from voice_coach.core.protocol import Pace, apply_pace, in_language, untranslated
from voice_coach.core.timeline import build_timeline, session_texts, unspoken_counts
from voice_coach.errors import FieldError, ProtocolError
from voice_coach.files.loader import (
    builtin_answer_words,
    builtin_names,
    load_protocol,
    parse_protocol,
    shipped_words,
)
from voice_coach.session import SessionOptions, prepare_session

SHIPPED = ("en", "de", "es", "fr")
MINE = """
name = "pelvic-floor"
description = "Lifts."
[session]
reps = 4
sets = 2
rest_s = 6
lead_in_s = 3
[[phases]]
name = "lift"
seconds = 3
say = "Lift"
count = "up"
[[phases]]
name = "release"
seconds = 3
say = "Let go"
[cues]
start = "Pelvic floor."
set_start = "Set {set} of {sets}."
halfway = "Halfway there."
last_rep = "Last one."
rest = "Rest for {rest} seconds."
end = "Done."
"""


def mine(extra: str = "") -> object:
    return parse_protocol((MINE + extra).encode(), "mine.toml", "mine.toml")


pytestmark = pytest.mark.usefixtures("warm_cache")


def test_standard_cues_a_translation_leaves_out_are_said_in_its_language():
    german = in_language(
        mine(
            '[translations.de]\nphases.lift.say = "Heben"\nphases.release.say = "Loslassen"\n'
            'cues.start = "Beckenboden."\ncues.end = "Fertig."\n'
        ),
        "de",
    )
    texts = session_texts(german)
    shipped = shipped_words("de").cues
    assert "Satz 1 von 2." in texts and "Satz 2 von 2." in texts
    assert shipped["halfway"] in texts and shipped["last_rep"] in texts
    assert shipped["rest"].format(rest=6) in texts
    assert "zwei" in texts and "two" not in texts
    english = set(session_texts(mine()))
    assert not english & set(texts), english & set(texts)


def test_a_spoken_text_with_no_words_in_the_language_is_an_error_naming_each_key(capsys, tmp_path):
    protocol = mine('[translations.de]\nphases.lift.say = "Heben"\n')
    with pytest.raises(FieldError) as caught:
        in_language(protocol, "de")
    line = caught.value.one_line()
    assert caught.value.field == "allow_fallback", "named by its field, not by a flag"
    assert "phases.release.say, cues.start (" in line and "--" not in line
    assert "cues.halfway" not in line  # a standard cue: German ships it
    path = tmp_path / "mine.toml"
    path.write_text(MINE + '[translations.de]\nphases.lift.say = "Heben"\n', encoding="utf-8")
    assert main(["script", str(path), "--lang", "de"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "phases.release.say" in err
    assert (
        "(ergänze sie unter [translations.de], oder --allow-fallback, um sie wie geschrieben zu "
        "sagen)" in err
    ), "worded with its option, in the language asked"
    assert main(["script", str(path), "--lang", "de", "--allow-fallback"]) == 0
    out = capsys.readouterr().out
    assert "Let go" in out and "Heben" in out and "Satz 1 von 2." in out


def test_a_language_nothing_is_shipped_for_needs_every_text_and_counts_go_unsaid():
    italian = (
        '[translations.it]\nphases.lift.say = "Su"\nphases.release.say = "Giù"\n'
        'cues.start = "Via."\ncues.set_start = "Serie {set}."\ncues.halfway = "Metà."\n'
        'cues.rest = "Riposo."\ncues.end = "Fatto."\n'
    )
    with pytest.raises(ProtocolError, match=r"'it' words for: cues\.last_rep"):
        in_language(mine(italian), "it")
    played = in_language(mine(italian + 'cues.last_rep = "Ultima."\n'), "it")
    texts = session_texts(played)
    assert not {"one", "two", "three", "uno", "due"} & set(texts)  # no borrowed counts
    note = unspoken_counts(played)
    assert note is not None and "no count words in 'it'" in note
    assert "phase 'lift'" in note and "rest's countdown" in note
    assert unspoken_counts(played, "tones") is None  # nothing would count


def test_counts_past_the_last_count_word_are_noted_and_stop_at_twenty():
    long_hold = apply_pace(load_protocol("glute-squeeze"), Pace(hold_s=25))
    counts = [c.text for c in build_timeline(long_hold).cues if c.role == "count"]
    assert counts[:19] == list(long_hold.numbers[1:20]) and counts[19] == "two"  # rep 2
    note = unspoken_counts(long_hold)
    assert note and "go only to 20" in note and "phase 'squeeze' counts to 25" in note
    assert unspoken_counts(load_protocol("glute-squeeze")) is None
    prepared = prepare_session(None, SessionOptions(pace=Pace(hold_s=25)))
    assert note in prepared.notes


def test_every_placeholder_is_said_with_its_value_where_it_has_one():
    protocol = parse_protocol(
        (
            MINE.replace('say = "Lift"', 'say = "Lift {rep} of {reps}, set {set} of {sets}"')
            .replace('"Halfway there."', '"Half of set {set}: {rep} of {reps}."')
            .replace('"Last one."', '"Last of set {set}."')
            .replace('"Rest for {rest} seconds."', '"Set {set} done, rest {rest}."')
            .replace('"Done."', '"{sets} sets of {reps}, {rest} s rests."')
        ).encode(),
        "mine.toml",
        "mine.toml",
    )
    texts = session_texts(protocol)
    assert "Lift 3 of 4, set 2 of 2" in texts
    assert "Half of set 2: 2 of 4." in texts and "Last of set 1." in texts
    assert "Set 1 done, rest 6." in texts and "2 sets of 4, 6 s rests." in texts
    assert not [text for text in texts if "{" in text or "}" in text]


@pytest.mark.parametrize("name", builtin_names())
@pytest.mark.parametrize("language", SHIPPED[1:])
def test_every_builtin_says_every_text_in_every_shipped_language(name, language):
    """No English string in a German session: every spoken text and every shown one is
    the language's own."""
    protocol = load_protocol(name)
    words = protocol.translations[language]
    assert untranslated(protocol, words) == []
    for key in ("title", "description", "about", "safety"):
        assert getattr(words, key), (name, language, key)
    translated = in_language(protocol, language)
    english = set(session_texts(apply_pace(protocol, Pace(sets=2))))
    said = set(session_texts(apply_pace(translated, Pace(sets=2))))
    assert not english & said, english & said
    for key in ("title", "description", "about", "safety"):
        assert getattr(translated, key) != getattr(protocol, key), (name, language, key)


@pytest.mark.parametrize("name", builtin_names())
@pytest.mark.parametrize("language", SHIPPED)
@pytest.mark.parametrize("pace", ["normal", "fast"])
def test_every_builtin_fits_its_words_in_every_language_at_normal_and_fast_pace(
    name, language, pace
):
    """Spoken with the real voices: prepare_session refuses any phrase that runs into the
    next cue, so each translation must fit where the English fits."""
    factor = {"normal": 1.0, "fast": 0.75}[pace]
    prepare_session(name, SessionOptions(language=language, pace=Pace(factor=factor)))


def language_switches(language: str, text: str) -> bool:
    """Whether espeak-ng reads any word of ``text`` in another language's voice: its
    phonemes (``-x``) then mark the switch, as ``(en)`` in ``l@- (en)d'0s(fr)``, where
    the French voice says "dos" as the English word."""
    phonemes = subprocess.run(
        ["espeak-ng", "-v", language, "-q", "-x", text],
        capture_output=True, text=True, check=True, timeout=30,
    ).stdout  # fmt: skip
    return re.search(r"\((?!" + language + r"\))[a-z]{2}[a-z-]*\)", phonemes) is not None


def test_the_check_for_a_borrowed_reading_finds_one():
    assert language_switches("fr", "Le dos bien droit.")
    assert not language_switches("fr", "Redressez-vous.")


@pytest.mark.parametrize("language", SHIPPED[1:])
def test_no_spoken_word_is_read_in_another_languages_voice(language):
    """Every text a built-in says in ``language`` (sets, rests and counts included) and
    every standard cue shipped for it, read by espeak-ng's own voice for it."""
    texts = set(shipped_words(language).numbers)
    texts |= {text.format(set=1, sets=2, rest=20) for text in shipped_words(language).cues.values()}
    answers = builtin_answer_words(language)
    assert answers != builtin_answer_words("en"), "the answers to a pain rating are English"
    texts |= {text.format(before=3) for text in answers.values()}
    for name in builtin_names():
        played = apply_pace(in_language(load_protocol(name), language), Pace(sets=2))
        texts |= set(session_texts(played))
    borrowed = [text for text in sorted(texts) if language_switches(language, text)]
    assert borrowed == [], borrowed


# What the screens call the safety note and a phase's words, in each shipped language.
SAFETY = {"de": "Sicherheit: {}", "es": "Seguridad: {}", "fr": "Sécurité : {}"}
SAYS = {"de": "sagt „{}“", "es": "dice «{}»", "fr": "dit « {} »"}


@pytest.mark.parametrize("language", SHIPPED[1:])
def test_protocols_and_show_give_the_words_of_the_language_asked(language, capsys):
    assert main(["protocols", "--lang", language]) == 0
    listed = capsys.readouterr().out
    for name in builtin_names():
        words = load_protocol(name).translations[language]
        assert words.description in listed
        assert main(["protocols", "show", name, "--lang", language]) == 0
        shown = capsys.readouterr().out
        assert shown.startswith(f"{words.title} ({name})\n{words.description}\n")
        assert " ".join(words.about.split()[:6]) in shown
        assert SAFETY[language].format(words.safety) in shown
        assert all(SAYS[language].format(said) in shown for said in words.phases.values())


def test_a_first_phase_word_with_a_placeholder_is_pulled_ahead_of_its_beat_within_the_session():
    """The lead-in leaves room for the first word's onset; the word is looked up as it is
    said ("Lift 1"), not as written ("Lift {rep}"), or it would start before the session."""
    protocol = parse_protocol(
        b'name = "x"\ndescription = "d"\n[session]\nlead_in_s = 0\nreps = 2\n'
        b'[[phases]]\nname = "lift"\nseconds = 2\nsay = "Lift {rep}"\n',
        "x.toml",
        "x.toml",
    )
    lengths = {"Lift 1": 0.5, "Lift 2": 0.5}
    timeline = build_timeline(protocol, lengths, {}, "voice", {"Lift 1": 0.2, "Lift 2": 0.2})
    first = timeline.cues[0]
    assert (first.text, first.at_s) == ("Lift 1", 0.0)
    assert first.beat_s == pytest.approx(0.2)


def test_the_answers_to_a_worrying_rating_are_in_each_shipped_language_and_only_there():
    """Every shipped language has every answer English has; a language nothing is
    shipped for gets the safety note alone, never English words in its voice."""
    from dataclasses import replace

    from voice_coach.cli.feedback import safety_answer

    english = builtin_answer_words("en")
    for language in SHIPPED:
        assert set(builtin_answer_words(language)) == set(english), language
    protocol = load_protocol("glute-squeeze")
    stop = "Stop here for today."
    assert safety_answer(8, None, protocol) == [stop, "That is high.", protocol.safety]
    assert safety_answer(5, 3, protocol) == [stop, "Last time it was 3.", protocol.safety]
    assert safety_answer(4, 2, protocol) == [], "below 5, a rise is not answered"
    assert safety_answer(3, 1, protocol) == [], "1 then 3 is everyday noise"
    assert safety_answer(2, None, protocol) == []
    german = in_language(protocol, "de")
    assert safety_answer(7, 1, german)[:2] == ["Hör für heute hier auf.", "Das ist ein hoher Wert."]
    italian = replace(protocol, language="it")
    assert builtin_answer_words("it") == {}
    assert safety_answer(8, None, italian) == [protocol.safety]
