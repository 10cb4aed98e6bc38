"""Choosing a voice from what the user typed: pure, on a list shaped like espeak-ng's."""

import pytest

from voice_coach.errors import UsageError
from voice_coach.speech.voices import (
    Voice,
    closest,
    filter_by_language,
    match_voice,
    normalize_language,
    voice_for_language,
)

ESPEAK_LIKE = [
    Voice("gmw/de", "German", ("de",), "male"),
    Voice("gmw/en-029", "English (Caribbean)", ("en-029",), "male"),
    Voice("gmw/en-gb-scotland", "English (Scotland)", ("en-gb-scotland",), "male"),
    Voice("gmw/en-us", "English (America)", ("en-us",), "male"),
    Voice("gmw/en", "English (Great Britain)", ("en-gb",), "male"),
    Voice("roa/es-419", "Spanish (Latin America)", ("es-419",), "male"),
    Voice("roa/es", "Spanish (Spain)", ("es",), "male"),
    Voice("roa/fr-be", "French (Belgium)", ("fr-be",), "male"),
    Voice("roa/fr-ch", "French (Switzerland)", ("fr-ch",), "male"),
    Voice("roa/fr", "French (France)", ("fr-fr",), "male"),
    Voice("eu", "Basque", ("eu",), "female"),
]


def ids(voices):
    return [voice.id for voice in voices]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("gmw/de", "gmw/de"),
        ("GMW/EN-US", "gmw/en-us"),
        ("german", "gmw/de"),
        ("English (America)", "gmw/en-us"),
        ("  Spanish (Latin America) ", "roa/es-419"),
        ("de", "gmw/de"),
        ("en", "gmw/en"),
        ("en-us", "gmw/en-us"),
        ("en_US", "gmw/en-us"),
        ("es", "roa/es"),
        ("fr", "roa/fr"),
        ("fr-ch", "roa/fr-ch"),
        ("en-gb", "gmw/en"),
    ],
)
def test_match_voice_by_id_then_name_then_language(query, expected):
    assert match_voice(query, ESPEAK_LIKE).id == expected


def test_id_beats_name_and_name_beats_language():
    voices = [
        Voice("speaks-de", "en", ("de",), None),
        Voice("en", "Plain", ("fr",), None),
        Voice("english", "English", ("en",), None),
    ]
    assert match_voice("en", voices).id == "en"
    assert match_voice("EN", voices[::-1]).id == "en"
    assert match_voice("en", [voices[0], voices[2]]).id == "speaks-de"
    assert match_voice("de", voices).id == "speaks-de"


def test_exact_id_beats_an_id_that_differs_only_in_case():
    voices = [Voice("Anna", "Anna (compact)", ("de",), None), Voice("anna", "Anna", ("de",), None)]
    assert match_voice("anna", voices).name == "Anna"
    assert match_voice("Anna", voices).name == "Anna (compact)"


def test_no_match_shows_the_closest_ids_names_and_languages():
    with pytest.raises(UsageError) as caught:
        match_voice("Germen", ESPEAK_LIKE)
    assert "Germen" in caught.value.message
    assert "German" in caught.value.message
    assert caught.value.hint == "List them with: voice-coach voices"
    assert caught.value.exit_code == 2
    with pytest.raises(UsageError, match=r"gmw/en-us"):
        match_voice("gmw/en-uss", ESPEAK_LIKE)


def test_no_match_without_anything_close_still_points_to_the_list():
    with pytest.raises(UsageError, match="No installed voice matches 'zz-top-42'") as caught:
        match_voice("zz-top-42", ESPEAK_LIKE)
    assert "Closest" not in caught.value.message
    assert caught.value.hint


def test_a_bare_language_finds_regional_voices_but_not_other_languages():
    english = filter_by_language(ESPEAK_LIKE, "en")
    assert ids(english) == ["gmw/en", "gmw/en-us", "gmw/en-029", "gmw/en-gb-scotland"]
    assert filter_by_language(ESPEAK_LIKE, "e") == []


def test_exact_language_beats_regional():
    voices = [Voice("b", "B", ("de-at",), None), Voice("a", "A", ("de",), None)]
    assert ids(filter_by_language(voices, "de")) == ["a", "b"]


def test_home_region_beats_other_regions_when_no_voice_is_named_for_the_language():
    voices = [
        Voice("x1", "Belgian", ("fr-be",), None),
        Voice("x2", "Parisian", ("fr-fr",), None),
        Voice("x3", "Swiss", ("fr-ch",), None),
    ]
    assert voice_for_language("fr", voices).id == "x2"


def test_voice_for_language_refuses_an_unspoken_language_and_suggests_codes():
    assert voice_for_language("DE", ESPEAK_LIKE).id == "gmw/de"
    with pytest.raises(UsageError, match="No installed voice speaks 'fi'") as caught:
        voice_for_language("fi", ESPEAK_LIKE)
    assert caught.value.hint
    with pytest.raises(UsageError, match=r"Closest: .*en-us"):
        voice_for_language("en-uz", ESPEAK_LIKE)


def test_closest_returns_original_spelling():
    assert closest("english (america", ESPEAK_LIKE)[0] == "English (America)"


def test_normalize_language():
    assert normalize_language(" EN_us ") == "en-us"


JOE = Voice("piper:en_US-joe-medium", "joe", ("en-us",), None, engine="piper")


def test_a_neural_voice_comes_first_for_its_language_only():
    voices = [*ESPEAK_LIKE, JOE]
    assert voice_for_language("en", voices) == JOE
    assert match_voice("en", voices) == JOE
    assert match_voice("en-us", voices) == JOE
    assert match_voice("joe", voices) == JOE
    assert match_voice("gmw/en", voices).engine == "espeak-ng"
    assert voice_for_language("de", voices).id == "gmw/de"
    assert ids(filter_by_language(voices, "en"))[:2] == [JOE.id, "gmw/en"]
    assert JOE.neural and not ESPEAK_LIKE[0].neural
