"""scripts/setup's choice of Python: the README's first command builds .venv on it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DISTRIBUTION_PYTHON = Path("/usr/bin/python3")


def _usable(python: Path) -> bool:
    probe = "import sys, ensurepip; sys.exit(sys.version_info < (3, 11))"
    return python.exists() and subprocess.run([python, "-c", probe]).returncode == 0


def test_a_python_that_cannot_serve_is_one_line_and_exit_1(tmp_path):
    """PYTHON names the interpreter; one that is not 3.11+ with venv is refused before
    anything is installed or built."""
    before = sorted(p.name for p in ROOT.iterdir())
    done = subprocess.run(
        [ROOT / "scripts" / "setup"],
        env={**os.environ, "PYTHON": "/bin/false"},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "setup: PYTHON=/bin/false is not Python 3.11 or newer with venv"
    ]
    assert sorted(p.name for p in ROOT.iterdir()) == before


def test_the_venv_runs_on_the_distributions_python_where_it_serves():
    """Debian's python3 started an export about 50 ms sooner in CPU than a default pyenv
    build on the same machine (docs/BENCHMARKS.md), and it is the one apt's python3-venv
    and python3-dev serve: setup prefers it over whatever is first on PATH."""
    if not _usable(DISTRIBUTION_PYTHON):
        pytest.skip(f"{DISTRIBUTION_PYTHON} is not Python 3.11+ with venv on this machine")
    if not sys.prefix.startswith(str(ROOT / ".venv")):
        pytest.skip("not running in the project's .venv (run ./scripts/setup --dev)")
    if os.environ.get("PYTHON"):
        pytest.skip("PYTHON is set: setup built .venv on the interpreter it names")
    assert os.path.realpath(sys._base_executable) == os.path.realpath(DISTRIBUTION_PYTHON), (
        ".venv predates this choice (setup keeps an existing one): rm -r .venv, then setup"
    )
