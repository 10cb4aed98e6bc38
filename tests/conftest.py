"""Fixtures and rules every test module shares (the rules themselves: ``isolation.py``)."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from isolation import KEEP_OTHERS, NOWHERE, allowed_skip, copy_warm, user_folders, warm
from pulse import PulseServer, start_test_audio, stop_test_audio

from voice_coach.userdirs import CACHE_DIR_ENV, CONFIG_ENV

IN_CI = os.environ.get("CI", "").lower() == "true"

# The tests that send SIGINT stand in for a person pressing Ctrl-C at a terminal. A test
# run started in the background (`nohup ./scripts/test &`, a job of a script) begins with
# SIGINT ignored, which every session it starts would inherit, so Ctrl-C would never
# reach them (a run so started failed the Ctrl-C tests with exit 0, the session played to
# its end). Caught here, the signal is back to its default in each child.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# Hypothesis never draws new examples in CI, whatever a test's own settings say: a red
# run there is the same run on a developer's machine.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if IN_CI:
    settings.load_profile("ci")


@pytest.fixture(scope="session", autouse=True)
def session_user_folders(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """User folders for what runs outside a test (module and session fixtures), and a
    sound server that is not there (the ``pulse_server`` fixture replaces it)."""
    root = tmp_path_factory.mktemp("session-user")
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {**user_folders(root), **NOWHERE}.items():
            patch.setenv(name, value)
        yield root


@pytest.fixture(autouse=True)
def own_user_folders(
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> Path:
    """This test's own cache, data and config folders (not created: a fresh user's). A
    test that plays into the sound server gets a settings file that leaves other sound
    alone (``KEEP_OTHERS``), so tests do not lower each other's streams."""
    root = tmp_path_factory.mktemp("user")
    for name, value in user_folders(root).items():
        monkeypatch.setenv(name, value)
    Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(mode=0o700)  # a login's, made at login
    if "pulse_server" in request.fixturenames:
        config = Path(os.environ[CONFIG_ENV])
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(KEEP_OTHERS, encoding="utf-8")
    from voice_coach.cli.options import choose_screen_language

    choose_screen_language([])  # English screens: a language an earlier test chose goes
    return root


@pytest.fixture(scope="session")
def warmed_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The phrase cache warmed once per run; copy it (``copy_warm``), never write to it."""
    root = tmp_path_factory.mktemp("warmed-cache")
    warm(root)
    return root


@pytest.fixture
def warm_cache(own_user_folders: Path, warmed_cache: Path) -> Path:
    """This test's own cache folder, holding a copy of the warmed cache."""
    return copy_warm(warmed_cache, Path(os.environ[CACHE_DIR_ENV]))


@pytest.fixture(scope="session")
def pulse_server() -> Iterator[PulseServer]:
    """The test PulseAudio server and a null sink of this run's own (a skip where
    PulseAudio is missing, which fails the run under CI=true)."""
    yield start_test_audio()
    stop_test_audio()


# --- skips under CI, and the count of what ran --------------------------------------------

_ran: set[str] = set()
_skipped: dict[str, str] = {}


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Under CI=true a skip is a failure unless ``isolation.ALLOWED_SKIPS`` names it: a
    skip there would hide a test that silently stopped running."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()  # type: ignore[attr-defined]
    if not report.skipped or hasattr(report, "wasxfail"):
        return
    reason = _skip_reason(report)
    report.user_properties.append(("skipped", reason))
    if IN_CI and allowed_skip(reason) is None:
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true and not on isolation.ALLOWED_SKIPS: {reason}"


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    skipped = [value for name, value in report.user_properties if name == "skipped"]
    if skipped:
        _skipped[report.nodeid] = skipped[0]
    elif report.when == "call":
        _ran.add(report.nodeid)


def pytest_unconfigure(config: pytest.Config) -> None:
    """The last lines of every run (and so of ``./scripts/test``): how many tests ran,
    how many skipped, and which skips CI allows."""
    if config.option.collectonly or not (_ran or _skipped):
        return
    lines = [f"voice-coach tests: {len(_ran)} ran, {len(_skipped)} skipped"]
    for nodeid, reason in _skipped.items():
        pattern = allowed_skip(reason)
        verdict = "allowed in CI" if pattern is not None else "NOT allowed in CI"
        lines.append(f"  skipped ({verdict}): {nodeid}: {reason}")
    sys.stdout.write("\n".join(lines) + "\n")
