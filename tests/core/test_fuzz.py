"""Fuzzing: whatever a user types or writes, voice-coach answers with a result or one line.

Hypothesis feeds the loader arbitrary bytes, arbitrary TOML documents and protocol-shaped
documents with arbitrary values; builds timelines from every protocol that loads, at
random paces; and drives every command of the CLI with arbitrary option values. Runs
are bounded and derandomized (the same examples on every run, no example database), so
CI is fast and reproducible; ``VOICE_COACH_FUZZ_SCALE=10`` multiplies every budget for
a longer hunt by hand.
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import io
import itertools
import math
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from isolation import NOWHERE

from voice_coach.cli import app, main
from voice_coach.core.protocol import (
    MAX_PHASE_S,
    MAX_REPS,
    MAX_SESSION_S,
    MAX_SETS,
    MAX_TEXT_CHARS,
    MIN_PHASE_S,
    Pace,
    Protocol,
    apply_pace,
    planned_length_s,
)
from voice_coach.core.timeline import CUE_STYLES, build_timeline, session_texts, session_tones
from voice_coach.errors import ProtocolError, UsageError
from voice_coach.files.loader import MAX_FILE_BYTES, TOP_KEYS, parse_protocol

CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
SCALE = max(1, int(os.environ.get("VOICE_COACH_FUZZ_SCALE", "1")))
WHERE = "fuzz.toml"


def bounded(examples: int) -> settings:
    """Settings for a fuzz test: a fixed number of examples, the same ones every run."""
    return settings(
        max_examples=examples * SCALE,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )


# --- a tiny TOML writer (tomllib only reads) ------------------------------------------


def toml_dumps(document: dict[str, Any]) -> str:
    """Every value written inline, every key quoted: enough for any generated document."""
    return "".join(f"{_toml_string(k)} = {_toml_value(v)}\n" for k, v in document.items())


def _toml_string(text: str) -> str:
    escaped = []
    for ch in text:
        if ch in '"\\':
            escaped.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            escaped.append(f"\\u{ord(ch):04x}")
        else:
            escaped.append(ch)
    return '"' + "".join(escaped) + '"'


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        pairs = (f"{_toml_string(k)} = {_toml_value(v)}" for k, v in value.items())
        return "{" + ", ".join(pairs) + "}"
    raise TypeError(f"not a TOML value: {value!r}")


# --- strategies ---------------------------------------------------------------------

# Any character a TOML file can hold (no lone surrogates: UTF-8 cannot encode them).
any_char = st.characters(exclude_categories=["Cs"])
any_text = st.text(any_char, max_size=40)
toml_scalar = st.one_of(
    any_text,
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.dates(),
    st.datetimes().map(lambda when: when.replace(fold=0)),  # TOML has no fold
    st.times().map(lambda when: when.replace(fold=0)),
)
toml_value = st.recursive(
    toml_scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(any_text, inner, max_size=4)
    ),
    max_leaves=12,
)

# Words a physiotherapist might write, placeholders included.
plain_words = st.text(
    st.characters(categories=["L", "N", "Zs"], include_characters=".,!?'-"),
    min_size=1,
    max_size=30,
).filter(str.strip)
cue_words = st.one_of(
    plain_words,
    st.sampled_from(["Set {set} of {sets}.", "Rest {rest} s.", "Rep {rep} of {reps}"]),
)
TONES = ["squeeze", "relax", "set_start", "set_end", "end"]


def maybe(strategy: st.SearchStrategy[Any], wild: bool) -> st.SearchStrategy[Any]:
    """A sensible value or, when ``wild``, sometimes any TOML value at all."""
    return st.one_of(strategy, toml_value) if wild else strategy


@st.composite
def protocol_documents(draw: st.DrawFn, wild: bool) -> dict[str, Any]:
    """A protocol with every table in its place; ``wild`` puts anything in the values."""
    names = draw(
        st.lists(plain_words, min_size=1, max_size=4, unique_by=str.strip).filter(
            lambda items: len(set(items)) == len(items)
        )
    )
    phases = []
    for name in names:
        phase: dict[str, Any] = {
            "name": draw(maybe(st.just(name), wild)),
            "seconds": draw(maybe(st.floats(MIN_PHASE_S, 12.0) | st.integers(1, 12), wild)),
        }
        for key, strategy in (
            ("say", cue_words),
            ("tone", st.sampled_from(TONES)),
            ("kind", st.sampled_from(["hold", "relax", "other"])),
            ("count", st.sampled_from(["up", "down"])),
        ):
            if draw(st.booleans()):
                phase[key] = draw(maybe(strategy, wild))
        phases.append(phase)
    session: dict[str, Any] = {}
    for key, strategy in (
        ("reps", st.integers(1, 30)),
        ("sets", st.integers(1, 4)),
        ("rest_s", st.floats(0.0, 90.0) | st.integers(0, 90)),
        ("lead_in_s", st.floats(0.0, 20.0)),
        ("set_intro_s", st.floats(0.5, 10.0)),
    ):
        if draw(st.booleans()):
            session[key] = draw(maybe(strategy, wild))
    cues: dict[str, Any] = {}
    for key in ("start", "set_start", "halfway", "last_rep", "rest", "end"):
        if draw(st.booleans()):
            cues[key] = draw(maybe(cue_words, wild))
    if draw(st.booleans()):
        cues["rest_countdown"] = draw(maybe(st.integers(0, 10), wild))
    document: dict[str, Any] = {
        "name": draw(maybe(plain_words, wild)),
        "description": draw(maybe(plain_words, wild)),
        "session": session,
        "phases": phases,
        "cues": cues,
    }
    if draw(st.booleans()):
        document["numbers"] = draw(maybe(st.lists(plain_words, min_size=1, max_size=12), wild))
    if draw(st.booleans()):
        document["language"] = draw(maybe(st.sampled_from(["en", "de", "fr", "xx"]), wild))
    if wild and draw(st.booleans()):
        document[draw(any_text)] = draw(toml_value)
    return document


# --- the loader -----------------------------------------------------------------------


def check_loader(data: bytes) -> Protocol | None:
    """The loader's promise: a usable protocol, or one clean line naming the file."""
    try:
        protocol = parse_protocol(data, WHERE, WHERE)
    except (ProtocolError, UsageError) as exc:
        line = exc.one_line()
        assert line and "\n" not in line and line.isprintable(), line
        assert exc.message.startswith(WHERE), exc.message
        event("refused: " + _reason(exc.message))
        return None
    assert_usable(protocol)
    event("loaded")
    return protocol


REASONS = (
    "not UTF-8", "not valid TOML", "nested too deeply", "unknown key", "missing",
    "control characters", "are not allowed", "placeholder", "the limit", "used twice",
    "would last", "must be",
)  # fmt: skip


def _reason(message: str) -> str:
    """The kind of refusal, for hypothesis' statistics (user text left out)."""
    return next((reason for reason in REASONS if reason in message), "other")


def assert_usable(protocol: Protocol) -> None:
    assert protocol.name and protocol.phases
    assert 1 <= protocol.reps <= MAX_REPS and 1 <= protocol.sets <= MAX_SETS
    for phase in protocol.phases:
        assert math.isfinite(phase.seconds) and MIN_PHASE_S <= phase.seconds <= MAX_PHASE_S
        for text in (phase.say, phase.tone):
            assert text is None or (len(text) <= MAX_TEXT_CHARS and not CONTROL.search(text))
    for value in (protocol.rest_s, protocol.lead_in_s, protocol.set_intro_s):
        assert math.isfinite(value) and value >= 0


def test_toml_writer_reads_back_equal() -> None:
    """The writer the fuzz tests rely on writes what tomllib reads back unchanged."""
    import tomllib

    @bounded(60)
    @given(st.dictionaries(any_text, toml_value, max_size=5))
    def round_trip(document: dict[str, Any]) -> None:
        assert repr(tomllib.loads(toml_dumps(document))) == repr(document)  # nan != nan

    round_trip()


# Raw bytes, any text, and text made of TOML's own punctuation (so the parser's deeper
# paths are reached, not only "not UTF-8").
file_bytes = st.one_of(
    st.binary(max_size=2000),
    st.text(any_char, max_size=400).map(str.encode),
    st.text(st.sampled_from("[]{}=\".,#\n\\ '-_:+tfnaeis0123456789"), max_size=300).map(str.encode),
)


@bounded(150)
@given(file_bytes)
def test_loader_survives_arbitrary_bytes(data: bytes) -> None:
    check_loader(data)


@bounded(60)
@given(file_bytes)
def test_loader_survives_bytes_after_a_valid_start(tail: bytes) -> None:
    """Past the first line, so the bytes reach deeper than "not TOML" or "not UTF-8"."""
    check_loader(b'name = "x"\ndescription = "y"\n[[phases]]\nname = "a"\nseconds = 2\n' + tail)


@bounded(150)
@given(st.dictionaries(st.sampled_from(sorted(TOP_KEYS)) | any_text, toml_value, max_size=6))
def test_loader_survives_arbitrary_toml(document: dict[str, Any]) -> None:
    check_loader(toml_dumps(document).encode("utf-8"))


@bounded(200)
@given(protocol_documents(wild=True))
def test_loader_survives_protocols_with_arbitrary_values(document: dict[str, Any]) -> None:
    check_loader(toml_dumps(document).encode("utf-8"))


def test_loader_refuses_a_file_over_its_size_limit_before_parsing() -> None:
    data = b"# " + b"x" * MAX_FILE_BYTES + b"\n"
    with pytest.raises(ProtocolError, match="bytes"):
        parse_protocol(data, WHERE, WHERE)


# --- the timeline ---------------------------------------------------------------------

paces = st.builds(
    Pace,
    reps=st.none() | st.integers(1, 40),
    sets=st.none() | st.integers(1, 4),
    rest_s=st.none() | st.floats(0.0, 60.0),
    lead_in_s=st.none() | st.floats(0.0, 20.0),
    hold_s=st.none(),
    relax_s=st.none(),
    factor=st.floats(0.25, 4.0),
)


@bounded(200)
@given(
    document=protocol_documents(wild=False),
    pace=paces,
    style=st.sampled_from(CUE_STYLES),
    speech_len=st.floats(0.0, 3.0),
    tone_len=st.floats(0.0, 0.5),
    data=st.data(),
)
def test_timeline_is_ordered_finite_and_within_the_session(
    document: dict[str, Any],
    pace: Pace,
    style: str,
    speech_len: float,
    tone_len: float,
    data: st.DataObject,
) -> None:
    protocol = check_loader(toml_dumps(document).encode("utf-8"))
    assume(protocol is not None)
    assert protocol is not None
    try:
        played = apply_pace(protocol, pace)
    except UsageError as exc:
        assert "\n" not in exc.one_line()
        assume(False)
        return
    texts = session_texts(played, style)  # type: ignore[arg-type]
    speech_s = {
        text: data.draw(st.sampled_from([0.0, speech_len, speech_len / 3])) for text in texts
    }
    tone_s = dict.fromkeys(session_tones(played, style), tone_len)  # type: ignore[arg-type]
    onset_s = {
        text: data.draw(st.floats(0.0, min(length, 0.3))) for text, length in speech_s.items()
    }
    timeline = build_timeline(played, speech_s, tone_s, style, onset_s)  # type: ignore[arg-type]

    assert math.isfinite(timeline.duration_s) and timeline.duration_s > 0
    assert planned_length_s(played) - 1e-6 <= timeline.duration_s <= MAX_SESSION_S + 3600
    times = [cue.at_s for cue in timeline.cues]
    assert times == sorted(times)
    for cue in timeline.cues:
        assert math.isfinite(cue.at_s) and math.isfinite(cue.duration_s)
        assert 0.0 <= cue.at_s <= timeline.duration_s, cue
        assert cue.duration_s >= 0
        assert (cue.text is None) == (cue.kind == "tone")
        assert cue.onset_s == (onset_s[cue.text] if cue.text is not None else 0.0)
    for span in timeline.spans:
        assert 0.0 <= span.start_s < span.end_s <= timeline.duration_s + 1e-9, span
    starts = [span.start_s for span in timeline.spans]
    assert starts == sorted(starts)
    assert all(a.end_s == b.start_s for a, b in itertools.pairwise(timeline.spans))
    rep_spans = [span for span in timeline.spans if span.kind == "phase"]
    assert len(rep_spans) == played.reps * played.sets * len(played.phases)


# --- the command line -----------------------------------------------------------------


def _commands() -> list[tuple[tuple[str, ...], Any]]:
    """Every command of the CLI, found from the app itself, so new ones are fuzzed too."""
    found = []

    def walk(command: Any, path: tuple[str, ...]) -> None:
        found.append((path, command))
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, (*path, name))

    walk(typer.main.get_command(app), ())
    return found


COMMANDS = _commands()
# Commands that open the audio device when their options are all valid. They run as
# real processes with a time limit, get a tiny protocol and few examples, so a valid
# draw plays a few seconds at most (or fails at once where there is no device).
PLAYING = {("run",), ("doctor",)}
PLAY_TIMEOUT_S = 90
# Exit statuses seen per command, for docs/RELIABILITY.md (printed with -s).
OUTCOMES: dict[str, collections.Counter[int]] = {}
# Values an option's own validation must handle: numbers at and past the edges,
# not-numbers, markup, shell, paths, and the names of real things.
EDGE_VALUES = [
    "",
    " ",
    "-",
    "--",
    "0",
    "-1",
    "1",
    "2",
    "0.001",
    "1e309",
    "-1e309",
    "nan",
    "inf",
    "1e-320",
    "100000",
    "999999999999999999999",
    "0x10",
    "1_000",
    "½",
    "٣",
    "slow",
    "fast",
    "voice",
    "tones",
    "both",
    "en",
    "de",
    "xx",
    "squeeze=3",
    "=3",
    "squeeze=",
    "squeeze=nan",
    "a=b=c",
    "$(touch pwned)",
    "`touch pwned`",
    "; touch pwned",
    "<speak>",
    '<break time="9s"/>',
    "\x00",
    "\x1b[31m",
    "\u202e",
    "💪",
    "مرحبا",
    "שלום",
    "glute-squeeze",
    "wav",
    "mp3",
    "x.wav",
    "x.flac",
    "x.ogg",
    "x.mp3",
    "x.xyz",
    ".",
    "..",
    "\\",
    "con",
    "nul",
]
option_value = st.one_of(st.sampled_from(EDGE_VALUES), st.text(any_char, max_size=24))
# Paths stay inside the scratch folder: no "/" so a value cannot name another place.
path_value = st.one_of(
    st.sampled_from(
        ["out.wav", "out.mp3", "out.xyz", "-", ".", "", "sub", "x.wav\x00", "x\x00.wav"]
    ),
    st.text(st.characters(exclude_categories=["Cs"], exclude_characters="/"), max_size=16),
)


def _is_path_option(param: Any) -> bool:
    words = " ".join(param.opts).lower()
    return any(word in words for word in ("out", "-o", "file", "dir", "path"))


@contextlib.contextmanager
def captured() -> Iterator[tuple[io.BytesIO, io.BytesIO]]:
    """Standard output and error as bytes, text and binary writes alike."""
    out, err = io.BytesIO(), io.BytesIO()
    old = sys.stdout, sys.stderr
    text_out = io.TextIOWrapper(out, encoding="utf-8", write_through=True)
    text_err = io.TextIOWrapper(err, encoding="utf-8", errors="backslashreplace",
                                write_through=True)  # fmt: skip
    sys.stdout, sys.stderr = text_out, text_err
    try:
        yield out, err
    finally:
        sys.stdout, sys.stderr = old
        for wrapper in (text_out, text_err):
            wrapper.flush()
            wrapper.detach()  # keep the bytes readable after the wrapper is gone


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    """A working folder of the module's own, so nothing else is touched (each test also
    has its own cache, data and config folders: conftest.py)."""
    saved_cwd = Path.cwd()
    with tempfile.TemporaryDirectory(prefix="voice-coach-fuzz-") as folder:
        root = Path(folder)
        (root / "work").mkdir()
        (root / "tiny.toml").write_text(
            'name = "tiny"\ndescription = "one short rep"\n[session]\nreps = 1\n'
            'lead_in_s = 0\nrest_s = 0\n[[phases]]\nname = "a"\nseconds = 0.5\n',
            encoding="utf-8",
        )
        os.chdir(root / "work")
        try:
            yield root
        finally:
            os.chdir(saved_cwd)


def run_in_process(argv: list[str]) -> tuple[int, bytes, bytes]:
    """``main`` in this process; any exception escaping it fails the test with its traceback."""
    with captured() as (out, err):
        status = main(argv)
    return status, out.getvalue(), err.getvalue()


def assert_clean_exit(argv: list[str], status: int, err: bytes) -> None:
    text = err.decode("utf-8", "replace")
    assert status in (0, 1, 2), (argv, status, text)
    assert "Traceback" not in text and "internal error" not in text, (argv, text)
    # doctor's failing checks are its report on stdout: exit 1 needs no error line.
    report = argv[:1] == ["doctor"] and status == 1 and not text
    if status != 0 and not report:
        lines = text.splitlines()
        assert len(lines) == 1 and lines[0].startswith("voice-coach: error: "), (argv, text)
        assert lines[0].isprintable(), (argv, lines[0])


def fuzz_arguments(path: tuple[str, ...], command: Any) -> st.SearchStrategy[list[str]]:
    """argv for one command: its own words, then a few of its options with fuzzed values."""
    params = [p for p in getattr(command, "params", []) if p.name not in ("help", "version")]
    options = [p for p in params if p.param_type_name == "option"]
    arguments = [p for p in params if p.param_type_name == "argument"]

    @st.composite
    def build(draw: st.DrawFn) -> list[str]:
        argv = list(path)
        chosen = draw(st.lists(st.sampled_from(options), max_size=3)) if options else []
        for option in chosen:
            flag = draw(st.sampled_from(option.opts + option.secondary_opts))
            if getattr(option, "is_flag", False):
                argv.append(flag)
            else:
                value = draw(path_value if _is_path_option(option) else option_value)
                argv += [flag, value]
        for _argument in arguments:
            if path in PLAYING:
                argv.append("../tiny.toml")  # short, whatever the options say
            elif draw(st.booleans()):
                choices = ["glute-squeeze", "../tiny.toml", "missing.toml", "."]
                argv.append(draw(st.sampled_from(choices) | option_value))
        return argv

    return build()


def _ids() -> list[str]:
    return [" ".join(path) or "(root)" for path, _ in COMMANDS]


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=_ids())
def test_every_command_ends_in_0_1_or_2_with_no_traceback(
    scratch: Path, path: tuple[str, ...], command: Any
) -> None:
    examples = 8 if path in PLAYING else 25
    statuses: list[int] = []

    @bounded(examples)
    @given(fuzz_arguments(path, command))
    def one(argv: list[str]) -> None:
        status, _out, err = run_in_process(argv) if path not in PLAYING else run_process(argv)
        assert_clean_exit(argv, status, err)
        event(f"exit {status}")
        statuses.append(status)
        assert not (scratch / "work" / "pwned").exists(), argv

    one()
    OUTCOMES[" ".join(path) or "(root)"] = collections.Counter(statuses)


def run_process(argv: list[str]) -> tuple[int, bytes, bytes]:
    """The real command in its own process, no keyboard, killed if it outlives its limit,
    playing nowhere: the sound server it is given does not exist."""
    done = subprocess.run(
        [sys.executable, "-m", "voice_coach", *argv],
        env={**os.environ, **NOWHERE},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=PLAY_TIMEOUT_S,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr


def teardown_module() -> None:
    if OUTCOMES and os.environ.get("VOICE_COACH_FUZZ_REPORT"):
        for command, counts in sorted(OUTCOMES.items()):
            print(
                f"fuzz {command}: " + ", ".join(f"exit {k}: {v}" for k, v in sorted(counts.items()))
            )


@pytest.mark.parametrize(
    "argv",
    [
        ["export", "-o", "x\x00.wav", "-q"],
        ["export", "-o", "sub\x00/x.wav", "-q"],
        ["script", "a\x00.toml"],
        ["protocols", "show", "a\x00.toml"],
        ["script", "--voice", "a\x00b"],
    ],
    ids=["export name", "export folder", "script protocol", "show protocol", "voice"],
)
def test_a_nul_character_is_refused_in_one_line(scratch: Path, argv: list[str]) -> None:
    """No shell can pass a NUL, but a caller of ``main`` can: Python's os calls then
    raise ValueError, not OSError (found by the fuzzer on ``export -o``)."""
    status, _out, err = run_in_process(argv)
    assert status == 2, err
    assert_clean_exit(argv, status, err)
    assert b"\\x00" in err
