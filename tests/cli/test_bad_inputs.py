"""A catalogue of bad inputs: each row is one thing a user might type or hand us.

Every row runs the real command (``python -m voice_coach``) in a scratch "home" folder
holding a file of the user's, and checks three things: the exit status, the error on
one printable line (no traceback), and that every file of the user's is untouched. To
add a case, add a ``Case`` to ``CASES``: an id a reader understands, the arguments, the
status, and a pattern the error line must contain.

This extends the loader's own list in ``test_loader.py`` (missing file, not TOML, wrong
types...) with the hostile and the huge; the end of the file checks that cue text is
only ever text: never markup the engine obeys, never a shell command.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import soundfile as sf
from isolation import NOWHERE

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "voice_coach"

MINIMAL = """\
name = "tiny"
description = "one short rep"
[session]
reps = 1
lead_in_s = 0
[[phases]]
name = "squeeze"
kind = "hold"
seconds = 2
say = "Squeeze"
"""


def protocol(say: str = '"Squeeze"', *, reps: int = 1, seconds: float = 2, extra: str = "") -> str:
    """A one-phase protocol whose words and numbers a row can change."""
    return (
        MINIMAL.replace('say = "Squeeze"', f"say = {say}")
        .replace("reps = 1", f"reps = {reps}")
        .replace("seconds = 2", f"seconds = {seconds}")
        + extra
    )


def toml_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class Case:
    """One bad input.

    ``files`` are written into the user's folder first (name -> text or bytes);
    ``args`` may name them. ``status`` is the exit status (a tuple where the issue
    allows either, e.g. an unwritable folder may be 1 or 2). ``error`` is a regular
    expression the one error line must contain; ``None`` means success with an empty
    standard error. ``creates`` are files the command may add; nothing else may change.
    """

    id: str
    args: list[str]
    status: int | tuple[int, ...]
    error: str | None
    files: dict[str, str | bytes] = field(default_factory=dict)
    creates: tuple[str, ...] = ()
    stdout: str | None = None
    setup: Callable[[Path, contextlib.ExitStack], None] | None = None


def readonly_mount(home: Path, stack: contextlib.ExitStack) -> None:
    """A real read-only folder: a read-only tmpfs (root ignores chmod, not ``ro``)."""
    target = home / "readonly"
    target.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(target)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a read-only tmpfs here: {done.stderr.strip()}")
    stack.callback(subprocess.run, ["umount", str(target)], check=False)


SHELL = ["$(touch pwned)", "`touch pwned`", "x; touch pwned", "x | touch pwned", "x && touch pwned"]
TEN_MB = MINIMAL + "# " + "padding " * (10 * 1024 * 1024 // 8) + "\n"

CASES: list[Case] = [
    # --- huge and tiny -----------------------------------------------------------------
    Case(
        "10 MB protocol file",
        ["script", "big.toml"],
        2,
        r"big\.toml: is 10,\d{3},\d{3} bytes",
        files={"big.toml": TEN_MB},
    ),
    Case(
        "10 MB protocol file, protocols show",
        ["protocols", "show", "big.toml"],
        2,
        r"bytes; a protocol file is at most",
        files={"big.toml": TEN_MB},
    ),
    Case(
        "/dev/zero as the protocol (never ends)",
        ["protocols", "show", "/dev/zero"],
        2,
        r"/dev/zero: is [\d,]+ bytes; the limit is 262,144",
    ),
    Case(
        "100,000 reps in the file",
        ["script", "p.toml"],
        2,
        r"session\.reps: must be from 1 to 1000, got 100000",
        files={"p.toml": protocol(reps=100_000)},
    ),
    Case("--reps 100000", ["script", "--reps", "100000"], 2, r"--reps: must be from 1 to 1000"),
    Case("--sets 100000", ["script", "--sets", "100000"], 2, r"--sets: must be from 1 to 100"),
    Case(
        "a session of 167 hours",
        ["script", "--reps", "1000", "--sets", "100"],
        2,
        r"would last 167\.6 hours; the limit is 4 hours",
    ),
    Case(
        "a phase of 0.001 s in the file",
        ["script", "p.toml"],
        2,
        r"phases\[1\]\.seconds: must be from 0\.5 to 600 seconds, got 0\.001",
        files={"p.toml": protocol(seconds=0.001)},
    ),
    Case(
        "--phase squeeze=0.001",
        ["script", "--phase", "squeeze=0.001"],
        2,
        r"phase 'squeeze': must be from 0\.5",
    ),
    Case("--hold 0.001", ["script", "--hold", "0.001"], 2, r"phase 'squeeze': must be from 0\.5"),
    Case(
        "--pace 0.001",
        ["script", "--pace", "0.001"],
        2,
        r"--pace: must be a preset or a factor from 0\.25 to 4, got '0\.001'",
    ),
    Case(
        "--pace nan",
        ["script", "--pace", "nan"],
        2,
        r"--pace: must be a preset or a factor from 0\.25 to 4, got 'nan'",
    ),
    Case(
        "--volume nan", ["script", "--volume", "nan"], 2, r"--volume: must be from 0 to 1, got nan"
    ),
    Case(
        "--rate 100000",
        ["script", "--rate", "100000"],
        2,
        r"100000 wpm is out of range",
    ),
    Case(
        "a cue of 301 characters",
        ["script", "p.toml"],
        2,
        r"say: is 301 characters; the limit is 300",
        files={"p.toml": protocol(toml_string("a" * 301))},
    ),
    # --- deeply nested TOML ---------------------------------------------------------
    Case(
        "10,000 nested arrays",
        ["script", "p.toml"],
        2,
        r"nested too deeply",
        files={"p.toml": "x = " + "[" * 10_000 + "]" * 10_000 + "\n"},
    ),
    Case(
        "10,000 nested inline tables",
        ["script", "p.toml"],
        2,
        r"nested too deeply",
        files={"p.toml": "x = " + "{a = " * 10_000 + "1" + "}" * 10_000 + "\n"},
    ),
    Case(
        "a 10,000-deep table header",
        ["script", "p.toml"],
        2,
        r"p\.toml: a: unknown key",
        files={"p.toml": "[" + ".".join(["a"] * 10_000) + "]\n"},
    ),
    # --- text that is not plain words -------------------------------------------------
    Case(
        "a bell and an ANSI escape in a cue",
        ["script", "p.toml"],
        2,
        r"say: contains control characters",
        files={"p.toml": protocol('"Squeeze\\u0007\\u001b[31m now"')},
    ),
    Case(
        "an ANSI escape in the file name",
        ["script", "\x1b[31mred.toml"],
        2,
        r"\\x1b\[31mred\.toml: no such file",
    ),
    Case(
        "a file name that is not UTF-8",
        ["script", os.fsdecode(b"caf\xe9.toml")],
        2,
        r"caf\\udce9\.toml: no such file",
    ),
    Case(
        'a cue of <break time="100s"/>',
        ["script", "p.toml"],
        2,
        r"'<' and '>' are not allowed; cue words are plain text",
        files={"p.toml": protocol(toml_string('<break time="100s"/>'))},
    ),
    Case(
        "a cue of <speak>",
        ["script", "p.toml"],
        2,
        r"'<' and '>' are not allowed",
        files={"p.toml": protocol(toml_string("<speak>Squeeze</speak>"))},
    ),
    Case(
        "a cue of espeak phonemes [[h@loU]]",
        ["script", "p.toml"],
        2,
        r"contains '\[\[', which speech engines read as markup",
        files={"p.toml": protocol(toml_string("[[h@'loU]]"))},
    ),
    # --- words that ARE plain words, in any script ------------------------------------
    Case(
        "Arabic words",
        ["script", "p.toml"],
        0,
        None,
        stdout="اضغط",
        files={"p.toml": 'language = "ar"\n' + protocol(toml_string("اضغط ثم استرخ"))},
    ),
    Case(
        "Hebrew words",
        ["script", "p.toml"],
        0,
        None,
        stdout="לחץ",
        files={"p.toml": 'language = "he"\n' + protocol(toml_string("לחץ ושחרר"))},
    ),
    Case(
        "emoji words",
        ["script", "p.toml"],
        0,
        None,
        stdout="💪",
        files={"p.toml": protocol(toml_string("Squeeze 💪"))},
    ),
    Case(
        "only an emoji",
        ["script", "p.toml"],
        0,
        None,
        stdout="🎉",
        files={"p.toml": protocol(toml_string("🎉"))},
    ),
    # --- languages and voices -----------------------------------------------------------
    Case(
        "--lang xx",
        ["script", "--lang", "xx"],
        2,
        r"has no words for language 'xx'.*it has: en, de, es, fr",
    ),
    *[
        Case(
            f"--voice {text!r}",
            ["script", "--voice", text],
            2,
            r"[Vv]oice.*" + re.escape(repr(text)),
        )
        for text in SHELL
    ],
    Case(
        "voices --lang xx",
        ["voices", "--lang", "xx"],
        2,
        r"no installed voice speaks 'xx'",
    ),
    # --- run fails before any sound on a bad option (stdin is not a keyboard here) --------
    Case(
        "run --voice with shell characters",
        ["run", "--voice", "$(touch pwned)"],
        2,
        r"No installed voice matches '\$\(touch pwned\)'",
    ),
    Case(
        "run --backend with shell characters",
        ["run", "--backend", "x; touch pwned"],
        2,
        r"--backend 'x; touch pwned' must be one of: sounddevice, simpleaudio",
    ),
    Case(
        "run --reps 100000",
        ["run", "--reps", "100000"],
        2,
        r"--reps: must be from 1 to 1000",
    ),
    Case(
        "doctor --backend with shell characters",
        ["doctor", "--backend", "`touch pwned`"],
        2,
        r"--backend '`touch pwned`' must be one of",
    ),
    # --- where the audio goes ----------------------------------------------------------
    Case(
        "-o names a folder",
        ["export", "-o", "folder"],
        1,
        r"folder: is a folder; give a file name such as folder/session\.wav",
        files={"folder/keep.txt": "mine"},
    ),
    Case(
        "-o in a missing folder",
        ["export", "-o", "missing/out.wav"],
        1,
        r"missing/out\.wav: the folder missing does not exist",
    ),
    Case(
        "-o under a regular file (root's read-only folder)",
        ["export", "-o", "notes.txt/out.wav"],
        1,
        r"notes\.txt/out\.wav: notes\.txt is not a folder",
    ),
    Case(
        "-o in /proc (not writable even by root)",
        ["export", "-o", "/proc/vc-out.wav"],
        1,
        r"/proc/vc-out\.wav: could not be written",
    ),
    Case(
        "-o in a read-only mount",
        ["export", "-o", "readonly/out.wav"],
        1,
        r"readonly/out\.wav: could not be written \(Read-only file system\)",
        setup=readonly_mount,
    ),
    Case(
        "-o with shell characters is just a name",
        ["export", "-o", "$(touch pwned).wav"],
        0,
        None,
        creates=("$(touch pwned).wav",),
    ),
    Case(
        "-o with an unknown extension",
        ["export", "-o", "out.xyz"],
        2,
        r"out\.xyz: cannot tell the format from '\.xyz' \(use \.wav, \.flac, \.ogg or \.mp3",
    ),
    Case(
        "--format xyz",
        ["export", "-o", "out.wav", "--format", "xyz"],
        2,
        r"--format 'xyz' is not one of: wav, flac, ogg, mp3",
    ),
    Case(
        "an existing export without --force",
        ["export", "-o", "mine.wav"],
        2,
        r"mine\.wav: already exists; add --force to overwrite it",
        files={"mine.wav": "the user's earlier export"},
    ),
    Case(
        "an existing subtitle file without --force",
        ["export", "-o", "new.wav", "--subtitles", "srt"],
        2,
        r"new\.srt: already exists; add --force",
        files={"new.srt": "the user's own subtitles"},
    ),
]


def snapshot(folder: Path) -> dict[str, tuple[int, str, int]]:
    """Every file below ``folder``: size, content hash and modification time."""
    found = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_mount() and not path.parent.is_mount():
            data = path.read_bytes()
            found[str(path.relative_to(folder))] = (
                len(data),
                hashlib.sha256(data).hexdigest(),
                path.stat().st_mtime_ns,
            )
    return found


def voice_coach(
    args: list[str], home: Path, timeout: float = 120
) -> subprocess.CompletedProcess[bytes]:
    """The real command, as a user's shell would start it (a list, never a shell line),
    with this test's own folders and no sound device (``isolation.NOWHERE``)."""
    return subprocess.run(
        [sys.executable, "-m", "voice_coach", *args],
        cwd=home,
        env={**os.environ, **NOWHERE},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=timeout,
        check=False,
    )


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
@pytest.mark.usefixtures("warm_cache")
def test_bad_input(case: Case, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "notes.txt").write_text("the user's own file\n", encoding="utf-8")
    for name, content in case.files.items():
        path = home / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    with contextlib.ExitStack() as stack:
        if case.setup is not None:
            case.setup(home, stack)
        before = snapshot(home)
        done = voice_coach(case.args, home)
        after = snapshot(home)

    err = done.stderr.decode("utf-8", "replace")
    assert "Traceback" not in err and "internal error" not in err, err
    expected = case.status if isinstance(case.status, tuple) else (case.status,)
    assert done.returncode in expected, (done.returncode, err)
    if case.error is None:
        assert "error" not in err, err
    else:
        lines = err.splitlines()
        assert len(lines) == 1, err
        assert lines[0].startswith("voice-coach: error: ") and lines[0].isprintable(), lines
        assert re.search(case.error, lines[0]), lines[0]
    if case.stdout is not None:
        assert case.stdout in done.stdout.decode("utf-8"), done.stdout[:500]
    for name in case.creates:
        assert name in after, f"{name} was not written"
        del after[name]
    assert after == before, "the user's files changed"
    assert not (home / "pwned").exists(), "a shell ran user text"


# --- standard output closed early --------------------------------------------------


@pytest.mark.usefixtures("warm_cache")
def test_export_to_a_pipe_closed_early_is_quiet(tmp_path: Path) -> None:
    """``voice-coach export -o - | head -c 100``: two real processes, a real pipe."""
    errors = tmp_path / "stderr"
    with errors.open("wb") as err_file:
        producer = subprocess.Popen(
            [sys.executable, "-m", "voice_coach", "export", "-o", "-"],
            stdout=subprocess.PIPE,
            stderr=err_file,
            cwd=tmp_path,
        )
        assert producer.stdout is not None
        head = subprocess.Popen(
            ["head", "-c", "100"], stdin=producer.stdout, stdout=subprocess.PIPE
        )
        producer.stdout.close()  # head alone holds the read end: when it exits, the pipe breaks
        first, _ = head.communicate(timeout=120)
        status = producer.wait(timeout=120)
    err = errors.read_text(encoding="utf-8", errors="replace")
    assert len(first) == 100 and first.startswith(b"RIFF"), first[:12]
    assert "Traceback" not in err and "Exception ignored" not in err, err
    assert err == "", err
    assert status == 0, status  # as RELIABILITY.md promises: not a SIGPIPE death (141, -13)


# --- text is only text -------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ['<break time="100s"/>', "<speak>a</speak>", "a [[b]] c", "<audio src='x'/>"]
)
def test_the_speech_edge_refuses_markup_even_when_the_loader_is_bypassed(text: str) -> None:
    from voice_coach.errors import UsageError
    from voice_coach.speech.engine import check_text

    with pytest.raises(UsageError, match="markup"):
        check_text(text)


# pyttsx3's espeak loop can lose an utterance's audio under load (an empty WAV; seen in
# CI, and why speech.SYNTH_ATTEMPTS exists): the probe says a text again when that
# happens, as voice-coach does, so what is measured is how the engine reads it.
ENGINE_PROBE = textwrap.dedent(
    """
    import contextlib, io, sys, wave
    import pyttsx3
    engine = pyttsx3.init()
    for index, text in enumerate(sys.argv[2:]):
        path = f"{sys.argv[1]}/{index}.wav"
        for attempt in range(3):
            with contextlib.redirect_stdout(io.StringIO()):
                engine.save_to_file(text, path)
                engine.runAndWait()
            with wave.open(path) as written:
                if written.getnframes() > 0:
                    break
    """
)


def test_the_engine_itself_reads_markup_as_words_and_never_pauses(tmp_path: Path) -> None:
    """Even text that got past both checks would be spoken, not obeyed.

    pyttsx3's espeak driver synthesises without espeak's SSML and phoneme flags; this
    proves it on the real engine: a 100-second break, if obeyed, would make a clip of
    over 100 s; read out as words it lasts a few seconds.
    """
    texts = ['a <break time="100s"/> b', "<speak>a</speak>", "a [[b]] c", "&lt; and &amp;"]
    done = subprocess.run(
        [sys.executable, "-c", ENGINE_PROBE, str(tmp_path), *texts],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for index, text in enumerate(texts):
        info = sf.info(tmp_path / f"{index}.wav")
        assert 0.2 < info.duration < 15.0, (text, info.duration)


def test_entities_are_spoken_as_characters_not_decoded_markup() -> None:
    """``&lt;`` passes the markup check: the engine speaks it, briefly, as characters."""
    from voice_coach.speech.espeak import EspeakSpeaker

    with EspeakSpeaker() as engine:
        clip = engine.synthesize("&lt; and &amp;")
    assert 0.2 < clip.duration_s < 6.0


SHELL_CALLS = {("os", "system"), ("os", "popen"), ("commands", "getoutput"), ("pty", "spawn")}
SHELL_CALLS |= {("os", name) for name in ("execl", "execlp", "execv", "execvp", "spawnl")}


def shell_uses(source: str) -> list[str]:
    """Every way ``source`` could hand text to a shell or to Python itself."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and (func.value.id, func.attr) in SHELL_CALLS
        ):
            found.append(f"{func.value.id}.{func.attr} (line {node.lineno})")
        if isinstance(func, ast.Name) and func.id in ("eval", "exec", "system", "popen"):
            found.append(f"{func.id} (line {node.lineno})")
        for keyword in node.keywords:
            if keyword.arg == "shell" and not (
                isinstance(keyword.value, ast.Constant) and keyword.value.value is False
            ):
                found.append(f"shell= (line {node.lineno})")
    return found


def test_the_shell_detector_finds_what_it_looks_for() -> None:
    bad = "import os, subprocess\nos.system(x)\nsubprocess.run(x, shell=True)\neval(x)\n"
    assert len(shell_uses(bad)) == 3
    assert shell_uses("subprocess.run(['espeak-ng', text], shell=False)\n") == []


@pytest.mark.parametrize(
    "module", sorted(PACKAGE.rglob("*.py")), ids=lambda path: str(path.relative_to(ROOT))
)
def test_no_module_hands_text_to_a_shell(module: Path) -> None:
    assert shell_uses(module.read_text(encoding="utf-8")) == []
