"""Every screen in the user's language: the catalogs, the choice of language, plurals.

The catalogs are checked as files (complete, current with the code, the same fields as
the English), and the program is run as a user runs it: under a German, Spanish or
French locale with no ``--lang``, in a fresh process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from voice_coach.coach.settings import Settings, choose_language
from voice_coach.coach.stats import days_words, sessions_words
from voice_coach.i18n import LOCALE_DIR, language_code, locale_language, ngettext, use_language

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import catalogs  # noqa: E402 (scripts/ is not a package)

SHIPPED = ("de", "es", "fr")
LOCALES = {"de": "de_DE.UTF-8", "es": "es_ES.UTF-8", "fr": "fr_FR.UTF-8"}


fields = catalogs.fields


# --- which language ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, (None, None)),
        ({"LANG": "de_DE.UTF-8"}, ("de", "LANG")),
        ({"LANG": "C.UTF-8"}, (None, "LANG")),
        ({"LANG": "POSIX"}, (None, "LANG")),
        ({"LANG": "de_DE.UTF-8", "LC_MESSAGES": "fr_FR.UTF-8"}, ("fr", "LC_MESSAGES")),
        ({"LANG": "de_DE.UTF-8", "LC_MESSAGES": "fr_FR", "LC_ALL": "es_MX"}, ("es", "LC_ALL")),
        ({"LANGUAGE": "fr:de", "LANG": "de_DE.UTF-8"}, ("fr", "LANGUAGE")),
        ({"LANGUAGE": "", "LC_ALL": "", "LANG": "es_ES@euro"}, ("es", "LANG")),
        ({"LANGUAGE": "C", "LANG": "fr_FR.UTF-8"}, ("fr", "LANG")),  # as gettext ignores it
        ({"LANG": "es-419"}, ("es", "LANG")),
    ],
)
def test_the_locale_names_the_language_in_gettext_s_order(environ, expected):
    assert locale_language(environ) == expected


def test_lang_then_the_settings_file_then_the_locale_then_english(tmp_path):
    german = {"LANG": "de_DE.UTF-8"}
    settings = Settings(tmp_path / "config.toml", True, {"lang": "es"})
    assert choose_language("fr", settings, german).code == "fr"
    assert choose_language("fr", settings, german).source == "option"
    assert choose_language(None, settings, german).code == "es"
    assert choose_language(None, Settings(tmp_path), german).code == "de"
    assert choose_language(None, Settings(tmp_path), german).source == "locale"
    assert choose_language(None, None, {"LANG": "C"}).code is None
    assert not choose_language(None, None, german).strict, "a locale only prefers"
    assert language_code("pt_BR.UTF-8") == "pt"


# --- plural forms --------------------------------------------------------------------------

PLURALS = {  # n -> "{n} session" in each language, for 0, 1, 2 and 5
    "de": ["0 Einheiten", "1 Einheit", "2 Einheiten", "5 Einheiten"],
    "es": ["0 sesiones", "1 sesión", "2 sesiones", "5 sesiones"],
    "fr": ["0 séance", "1 séance", "2 séances", "5 séances"],  # French: 0 is singular
    "en": ["0 sessions", "1 session", "2 sessions", "5 sessions"],
}
DAYS = {
    "de": ["0 Tage", "1 Tag", "2 Tage", "5 Tage"],
    "es": ["0 días", "1 día", "2 días", "5 días"],
    "fr": ["0 jour", "1 jour", "2 jours", "5 jours"],
    "en": ["0 days", "1 day", "2 days", "5 days"],
}


@pytest.mark.parametrize("language", [*SHIPPED, "en"])
def test_counts_take_the_language_s_plural_form_for_0_1_2_and_5(language):
    assert use_language(language)
    try:
        assert [sessions_words(n) for n in (0, 1, 2, 5)] == PLURALS[language]
        assert [days_words(n) for n in (0, 1, 2, 5)] == DAYS[language]
        reps = [ngettext("{n} rep", "{n} reps", n).format(n=n) for n in (1, 2)]
        assert reps[0] != reps[1], reps
    finally:
        use_language(None)


# --- the catalogs as files -----------------------------------------------------------------


def test_every_message_of_the_template_is_translated_in_every_language():
    assert sorted(path.parent.parent.name for path in catalogs.po_files()) == list(SHIPPED)
    assert catalogs.problems() == []


def test_the_template_holds_exactly_the_messages_of_the_code(tmp_path, monkeypatch):
    """Extracting again changes nothing: a message added to the code without
    ``scripts/catalogs.py extract`` (and so without a translation) fails here."""
    committed = {message.id for message in catalogs.read(catalogs.TEMPLATE) if message.id}
    monkeypatch.setattr(catalogs, "TEMPLATE", tmp_path / "fresh.pot")
    monkeypatch.setattr(catalogs, "po_files", lambda locale=None: [])
    catalogs.extract()
    fresh = {message.id for message in catalogs.read(tmp_path / "fresh.pot") if message.id}
    assert fresh - committed == set(), "in the code, not in the template: run extract"
    assert committed - fresh == set(), "in the template, no longer in the code: run extract"
    assert len(fresh) > 300


@pytest.mark.parametrize("language", SHIPPED)
def test_each_translation_keeps_the_fields_of_its_message(language):
    catalog = catalogs.read(LOCALE_DIR / language / "LC_MESSAGES" / "voice_coach.po")
    assert catalog.num_plurals >= 2
    for message in catalog:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        forms = message.string if isinstance(message.string, tuple) else (message.string,)
        for form in forms:
            assert fields(form) in [fields(each) for each in ids], (message.id, form)
            form.format(**{name.split(":")[0].split("!")[0]: 1 for name in fields(form)})


@pytest.mark.parametrize("language", SHIPPED)
def test_the_installed_mo_is_compiled_from_the_po(language):
    """``scripts/setup`` (pip install -e .) compiled the catalogs: the .mo says what the
    .po says. Stale after an edit of the .po: run scripts/setup or catalogs.py compile."""
    folder = LOCALE_DIR / language / "LC_MESSAGES"

    def table(messages: object) -> dict[object, tuple[str, ...]]:
        return {
            m.id if isinstance(m.id, str) else tuple(m.id): tuple(m.string)
            if isinstance(m.string, list | tuple)
            else (m.string,)
            for m in messages  # type: ignore[attr-defined]
            if m.id
        }

    with (folder / "voice_coach.mo").open("rb") as file:
        compiled = table(read_mo(file))
    with (folder / "voice_coach.po").open("rb") as file:
        source = table(read_po(file))
    assert compiled == source


def test_a_broken_po_fails_the_build_not_the_user(tmp_path):
    folder = tmp_path / "de" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    po = folder / "voice_coach.po"
    po.write_text('msgid "a"\nmsgstr "b"\nnonsense\n', encoding="utf-8")
    with pytest.raises(Exception, match="misformatted"):
        catalogs.compile_all(tmp_path)
    header = 'msgid ""\nmsgstr "Plural-Forms: nplurals=2; plural=(n != 1);\\n"\n\n'
    po.write_text(
        header + 'msgid "{n} day"\nmsgid_plural "{n} days"\n'
        'msgstr[0] "{n} Tag"\nmsgstr[1] "{m} Tage"\n',
        encoding="utf-8",
    )
    with pytest.raises(SystemExit, match="fields differ"):
        catalogs.compile_all(tmp_path)  # shown, "{m}" would be a KeyError for the user
    assert not (folder / "voice_coach.mo").exists()
    po.write_text(header + 'msgid "{n} day"\nmsgstr "{n} Tag"\n', encoding="utf-8")
    assert catalogs.compile_all(tmp_path) == [folder / "voice_coach.mo"]


# --- the program under a locale, as a user runs it ------------------------------------------


def voice_coach(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "voice_coach", *args],
        env={**os.environ, **env}, capture_output=True, text=True, cwd=cwd, timeout=120,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip


# What each command shows first, in each language (the catalogs' words, not English).
EXPECTED = {
    "de": {
        "today": "Gesäß anspannen, ein paar Mal am Tag: Stufe 1 von 3; 0 von 3 Einheiten heute",
        "show": "Schmerzen (0, keine Schmerzen, bis 10, die stärksten vorstellbaren Schmerzen):",
        "logged": "Eingetragen: #1",
        "answer": "Hör für heute hier auf.",
        "stats": "Übungstage: 1 (1 Einheit)",
        "said": "Anspannen",
        "config": "deine Spracheinstellung (LANG)",
    },
    "es": {
        "today": "Apretar los glúteos, unas cuantas veces al día: nivel 1 de 3; 0 de 3 sesiones",
        "show": "Dolor (0, nada de dolor, a 10, el peor dolor imaginable):",
        "logged": "Registrada: #1",
        "answer": "Para aquí por hoy.",
        "stats": "Días de práctica: 1 (1 sesión)",
        "said": "Aprieta",
        "config": "tu configuración regional (LANG)",
    },
    "fr": {
        "today": "Serrer les fessiers, quelques fois par jour : palier 1 sur 3 ; 0 sur 3 séances",
        "show": "Douleur (0, aucune douleur, à 10, la pire douleur imaginable) :",
        "logged": "Notée : #1",
        "answer": "Arrêtez-vous là pour aujourd'hui.",
        "stats": "Jours de pratique : 1 (1 séance)",
        "said": "Serrez",
        "config": "vos paramètres régionaux (LANG)",
    },
}


@pytest.mark.parametrize("language", SHIPPED)
def test_under_a_locale_with_no_lang_the_screens_and_the_session_are_in_its_language(
    language, tmp_path, warm_cache
):
    env = {"LANG": LOCALES[language]}
    expected = EXPECTED[language]

    def ok(*args: str) -> str:
        done = voice_coach(list(args), env, tmp_path)
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr
        return done.stdout

    assert ok("today", "glute-squeeze-daily").startswith(expected["today"])
    assert expected["show"] in ok("programs", "show", "glute-squeeze-daily")
    logged = ok("log", "--pain", "8").splitlines()
    assert logged[0].startswith(expected["logged"]) and logged[1] == expected["answer"]
    assert ok("stats").startswith(expected["stats"])
    script = json.loads(ok("script", "--json"))
    assert script["voice"]["id"] and language in script["voice"]["id"].lower(), script["voice"]
    assert any(expected["said"] in (cue["text"] or "") for cue in script["cues"])
    assert expected["config"] in ok("config", "show")


def test_a_locale_with_no_catalog_is_english_and_says_so_once(tmp_path, warm_cache):
    env = {"LANG": "it_IT.UTF-8"}
    done = voice_coach(["script"], env, tmp_path)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert done.stdout.startswith("Safety: ") and "Squeeze" in done.stdout
    shown = voice_coach(["config", "show"], env, tmp_path)
    (line,) = [line for line in shown.stdout.splitlines() if line.startswith("lang ")]
    assert "your locale (LANG); no screens in it: shown in English" in line, line


def test_lang_for_a_language_nothing_ships_stays_a_one_line_error(tmp_path):
    done = voice_coach(["script", "--lang", "xx"], {"LANG": "de_DE.UTF-8"}, tmp_path)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "'xx'" in done.stderr, done.stderr


def test_the_album_feed_is_described_in_the_album_s_language(tmp_path, warm_cache):
    import feedparser

    album = tmp_path / "album"
    done = voice_coach(
        ["export", "glute-squeeze-queue", "--album", str(album), "--lang", "de",
         "--base-url", "https://example.org/a/", "--quiet"],
        {"LANG": "C.UTF-8"}, tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    feed = feedparser.parse((album / "feed.xml").read_bytes()).feed
    assert feed.language == "de"
    assert feed.description == "album: Übungseinheiten, gesprochen von voice-coach."


RUN_WORDS = {  # the safety label, a cue said, and the last line of a live session
    "de": ("Sicherheit: ", "Anspannen", "Einheit geschafft."),
    "es": ("Seguridad: ", "Aprieta", "Sesión completada."),
    "fr": ("Sécurité : ", "Serrez", "Séance terminée."),
}


@pytest.mark.pulse
@pytest.mark.parametrize("language", SHIPPED)
def test_run_under_a_locale_speaks_and_shows_its_language(language, tmp_path, pulse_server):
    done = voice_coach(
        ["run", "glute-squeeze-queue", "--reps", "1", "--no-log"],
        {"LANG": LOCALES[language]},
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    safety, said, last = RUN_WORDS[language]
    lines = done.stdout.splitlines()
    assert lines[0].startswith(safety), lines
    assert any(said in line for line in lines[1:-1]), lines  # each cue as it is heard
    assert lines[-1] == last
