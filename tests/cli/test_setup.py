"""scripts/setup's choice of Python, the one the README's first command builds .venv on.

Asked with ``--print-python``, which chooses as setup would and installs nothing, so
these tests never reach apt or pip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SETUP = ROOT / "scripts" / "setup"
DISTRIBUTION_PYTHON = Path("/usr/bin/python3")


def setup(*args: str, cwd: Path = ROOT, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "PYTHON"}
    return subprocess.run(
        [SETUP, *args], cwd=cwd, env={**environment, **env}, capture_output=True, text=True
    )


def usable(python: Path) -> bool:
    probe = "import sys, ensurepip; sys.exit(sys.version_info < (3, 11))"
    return python.exists() and subprocess.run([python, "-c", probe]).returncode == 0


def test_the_distributions_python_comes_before_the_first_on_path(tmp_path):
    """Debian's python3 started a warm export about 40 ms sooner than a default pyenv
    build on the same machine (docs/BENCHMARKS.md), and it is the one apt's python3-venv
    and python3-dev serve: a python3 earlier on PATH does not win over it."""
    if not usable(DISTRIBUTION_PYTHON):
        pytest.skip(f"{DISTRIBUTION_PYTHON} is not Python 3.11+ with venv on this machine")
    first = tmp_path / "bin"
    first.mkdir()
    wrapper = first / "python3"
    wrapper.write_text(f'#!/bin/sh\nexec {DISTRIBUTION_PYTHON} "$@"\n')
    wrapper.chmod(0o755)
    done = setup("--print-python", PATH=f"{first}:{os.environ['PATH']}")
    assert (done.returncode, done.stdout, done.stderr) == (0, f"{DISTRIBUTION_PYTHON}\n", "")


def test_python_chooses_another_and_a_relative_one_is_from_where_setup_started(tmp_path):
    link = tmp_path / "py"
    link.symlink_to(sys.executable)
    done = setup("--print-python", cwd=tmp_path, PYTHON="./py")
    assert (done.returncode, done.stdout, done.stderr) == (0, f"{link}\n", "")


@pytest.mark.parametrize(
    ("python", "message"),
    [
        ("/bin/false", "setup: PYTHON=/bin/false is not Python 3.11 or newer with venv"),
        ("no-such-python", "setup: PYTHON=no-such-python: no such program"),
    ],
)
def test_a_python_that_cannot_serve_is_one_line_and_exit_1(python, message, tmp_path):
    """The real run, on a copy of the project (never the checkout whose .venv runs the
    tests): refused with nothing built or touched."""
    copy = tmp_path / "voice-coach"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(".git", ".venv", "tests", "build"))
    assert setup("--print-python", PYTHON=python).stderr.splitlines() == [message]
    before = sorted(str(p.relative_to(copy)) for p in copy.rglob("*"))
    done = subprocess.run(
        [copy / "scripts" / "setup"], cwd=copy, capture_output=True, text=True,
        env={**{k: v for k, v in os.environ.items() if k != "PYTHON"}, "PYTHON": python},
    )  # fmt: skip
    assert (done.returncode, done.stderr.splitlines()[-1]) == (1, message)
    assert sorted(str(p.relative_to(copy)) for p in copy.rglob("*")) == before
