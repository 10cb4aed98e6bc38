"""No screen bypasses the catalogs: every command, and a live session on a terminal, run
in a pseudo-language made from the template, where every message is accented and
bracketed (``⟦Séssíón cómplété.⟧``). A line with English words outside the brackets
that are not the user's data (a protocol's words, a path, a voice's name) is a string
that never went through ``_()``.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest
from babel.dates import get_day_names, get_month_names
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo

from voice_coach.coach.programs import builtin_program_names, load_program
from voice_coach.files.loader import (
    builtin_answer_words,
    builtin_names,
    load_protocol,
    shipped_words,
)
from voice_coach.live import KEY_HELP

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import catalogs  # noqa: E402 (scripts/ is not a package)

PSEUDO = "qps"  # the name pseudo-locales go by
ACCENTS = str.maketrans("aeiouyAEIOUYcnCN", "áéíóúýÁÉÍÓÚÝçñÇÑ")
MARKED = re.compile(r"⟦[^⟦⟧]*⟧")  # innermost first: a message may hold another
WORD = re.compile(r"[A-Za-z]{3,}")


def pseudo(text: str) -> str:
    """``text`` accented and bracketed, its ``{fields}`` and ``{{ }}`` kept as they are."""
    parts = re.split(r"(\{\{|\}\}|\{[^{}]*\})", text)
    return "⟦" + "".join(p if p[:1] in "{}" else p.translate(ACCENTS) for p in parts) + "⟧"


@pytest.fixture(scope="module")
def pseudo_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of a user whose language is the pseudo-language."""
    root = tmp_path_factory.mktemp("locale")
    catalog = Catalog(locale="en")
    for message in catalogs.read(catalogs.TEMPLATE):
        if not message.id:
            continue
        if isinstance(message.id, tuple):
            catalog.add(message.id, tuple(pseudo(each) for each in message.id))
        else:
            catalog.add(message.id, pseudo(message.id))
    folder = root / PSEUDO / "LC_MESSAGES"
    folder.mkdir(parents=True)
    with (folder / "voice_coach.mo").open("wb") as file:
        write_mo(file, catalog)
    return {"LANGUAGE": PSEUDO, "LANG": "C.UTF-8", "VOICE_COACH_LOCALE_DIR": str(root)}


def data_texts() -> list[str]:
    """What the user's files say (protocols, programs, the shipped spoken words), in
    English: shown as written, not the program's own words."""
    texts: list[str] = []
    for name in builtin_names():
        p = load_protocol(name)
        texts += [p.title, p.description, p.safety, " ".join(p.about.split())]
        texts += [phase.say or "" for phase in p.phases] + [phase.name for phase in p.phases]
        texts += [value for value in vars(p.cues).values() if isinstance(value, str)]
        texts += list(p.numbers)
    for name in builtin_program_names():
        program = load_program(name, "en")
        texts += [program.title, program.description, " ".join(program.about.split())]
    words = shipped_words("en")
    texts += [words.safety, *builtin_answer_words("en").values()]
    voices = subprocess.run(
        [sys.executable, "-m", "voice_coach", "voices", "--json"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    texts += [voice[key] for voice in json.loads(voices) for key in ("id", "name")]
    # Babel has no dates for a made-up language: the calendar's month and day names
    # are its English ones (a shipped language gets its own: tests/cli/test_languages.py).
    texts += [str(name) for name in get_month_names("abbreviated", locale="en").values()]
    texts += [str(name) for name in get_day_names("abbreviated", locale="en").values()]
    return sorted(filter(None, [*texts, PSEUDO]), key=len, reverse=True)


def english_left(line: str, data: list[str]) -> list[str]:
    """The English words of ``line`` that neither the catalogs nor the user's data made."""
    rest = line
    while MARKED.search(rest):
        rest = MARKED.sub(" ", rest)
    for text in data:
        rest = rest.replace(text, " ")
    rest = re.sub(r"(/[\w.@~+-]+)+/?", " ", rest)  # paths
    rest = re.sub(r"voice-coach(\s+--?[\w-]+(\s+[\w:./-]+)?|\s+[a-z]+)*", " ", rest)  # commands
    rest = re.sub(r"[\w.:-]*[-_:][\w.:-]*", " ", rest)  # names: glute-squeeze, piper:joe
    return [word for word in WORD.findall(rest) if word not in NOT_WORDS]


# Tokens that are data or codes in every language: option values a user types (config
# show lists them as they go in the file), file formats, units, engines, device names.
NOT_WORDS = {
    "normal", "both", "True", "False", "none", "LUFS", "dBTP", "ALSA", "pulse", "PulseAudio",
    "default", "sounddevice", "simpleaudio", "voice", "engine", "rate", "pace", "cues",
    "volume", "program", "lang", "WAV", "MP3", "FAIL", "KiB", "Piper", "joe", "medium",
    "sink", "null", "Null", "Output", "Monitor", "pyttsx", "espeak", "PID", "MPRIS", "others",
    "duck",
}  # fmt: skip


def voice_coach(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "voice_coach", *args],
        env={**os.environ, **env}, capture_output=True, text=True, cwd=cwd, timeout=180,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip


COMMANDS = [
    ["script", "--reps", "2"],
    ["protocols"],
    ["protocols", "show", "glute-squeeze-sets"],
    ["programs"],
    ["programs", "show", "glute-squeeze-daily"],
    ["today"],
    ["log", "--pain", "8", "--program", "glute-squeeze-daily"],
    ["log", "--when", "yesterday"],
    ["today"],
    ["history"],
    ["stats"],
    ["config", "show"],
    ["voices", "--lang", "de"],
    ["doctor", "--silent"],
    ["remind", "--at", "09:00", "-o", "r.ics"],
    ["report", "-o", "report.html"],
    ["export", "glute-squeeze-queue", "-o", "q.wav"],
    ["history", "backup", "backup.sqlite3"],
    ["history", "restore", "backup.sqlite3"],
    ["script", "--reps", "0"],
    ["script", "--phase", "nothing=3"],
    ["log", "--pain", "11"],
    ["history", "delete", "99"],
    ["programs", "show", "no-such-program"],
    ["export", "-o", "q.wav"],
]


def test_every_command_shows_only_catalog_words_and_the_user_s_data(
    pseudo_env, tmp_path, warm_cache
):
    data = data_texts()
    found = []
    marked = 0
    for args in COMMANDS:
        done = voice_coach(args, pseudo_env, tmp_path)
        assert "Traceback" not in done.stderr and "internal error" not in done.stderr, args
        for line in (done.stdout + done.stderr).splitlines():
            marked += "⟦" in line
            left = english_left(line, data)
            if left:
                found.append(f"{' '.join(args)}: {line!r} {left}")
    assert not found, "\n".join(found)
    assert marked > 50, "the pseudo-language was not in use"


def test_report_page_is_in_the_catalog_s_words(pseudo_env, tmp_path, warm_cache):
    assert voice_coach(["log", "--pain", "3"], pseudo_env, tmp_path).returncode == 0
    done = voice_coach(["report", "-o", "report.html"], pseudo_env, tmp_path)
    assert done.returncode == 0, done.stderr
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    text = re.sub(r"<(style|svg)\b.*?</\1>", " ", page, flags=re.S)
    text = re.sub(r"<[^>]+>", "\n", text)
    data = data_texts()
    left = [f"{line!r} {english_left(line, data)}" for line in text.splitlines()]
    assert not [line for line in left if not line.endswith(" []")], "\n".join(left)


@pytest.mark.pulse
def test_a_live_session_on_a_terminal_shows_only_catalog_words(pseudo_env, pulse_server):
    """The key help, the status line, "paused", and the end, through a pseudo-terminal."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 200, 0, 0))
    env = {**os.environ, **pseudo_env, "TERM": "xterm"}
    run = subprocess.Popen(
        [sys.executable, "-m", "voice_coach", "run", "glute-squeeze-queue", "--reps", "1",
         "--no-log"],
        stdin=slave, stdout=slave, stderr=slave, env=env,
    )  # fmt: skip
    from test_terminal import Terminal

    def shown(message: str) -> str:  # the pseudo-language's line, any time in it
        return re.escape(pseudo(message)).replace(re.escape("{time}"), r"\d+:\d\d")

    screen = Terminal(master)
    try:
        screen.wait_for(shown(KEY_HELP))
        screen.wait_for(shown("{time} left"))
        os.write(master, b" ")
        screen.wait_for(shown("Paused at {time}; space resumes"), limit_s=5)
        os.write(master, b"q")
        screen.wait_for(re.escape(pseudo("Session ended early.")), limit_s=20)
        assert run.wait(timeout=15) == 0
        screen._read(0.2)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
        os.close(slave)
        os.close(master)
    data = data_texts()
    lines = [line for line in screen.text.splitlines() if line.strip()]
    left = [(line, english_left(line, data)) for line in lines if english_left(line, data)]
    assert left == []
    assert json.dumps(lines)  # the screen as the user saw it, if the assertion above fails
