"""docs/reference.md is every command and option as the CLI gives them."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_reference_is_current():
    """Fails when an option is added to the CLI and the reference is not regenerated."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "make_reference.py"), "--check"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_reference_lists_every_command_in_help_order():
    from voice_coach.cli import app

    text = (ROOT / "docs" / "reference.md").read_text(encoding="utf-8")
    names = [info.callback.__name__ for info in app.registered_commands]
    names = [{"log_session": "log"}.get(name, name) for name in names]
    names += [info.name for info in app.registered_groups]
    positions = [text.index(f"## `voice-coach {name}`") for name in names]
    assert positions == sorted(positions)
