"""The small public API: ``from voice_coach import ...`` for scripts."""

import re
import subprocess
import sys
from pathlib import Path

import voice_coach

ROOT = Path(__file__).resolve().parents[2]


def test_import_voice_coach_loads_no_numpy_and_nothing_of_the_cli():
    code = (
        "import sys, voice_coach; "
        "print(sorted(m for m in sys.modules if m.startswith(('numpy', 'voice_coach', 'typer'))))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "['voice_coach']"


def test_every_public_name_loads_and_is_what_its_module_holds():
    from voice_coach.session import prepare_session

    assert set(voice_coach.__all__) == {"__version__", *voice_coach._PUBLIC}
    for name in voice_coach.__all__:
        assert getattr(voice_coach, name) is not None, name
    assert voice_coach.prepare_session is prepare_session
    assert set(dir(voice_coach)) >= set(voice_coach.__all__)


def test_an_unknown_name_is_an_attribute_error():
    try:
        voice_coach.no_such_thing  # noqa: B018
    except AttributeError as exc:
        assert "no_such_thing" in str(exc)
    else:
        raise AssertionError("no AttributeError")


def test_the_guide_s_python_example_runs(tmp_path):
    guide = (ROOT / "docs" / "guide.md").read_text(encoding="utf-8")
    section = guide[guide.index("## From Python") :]
    example = re.search(r"```python\n(.*?)```", section, re.S)
    assert example, "docs/guide.md shows the public API in a python block"
    done = subprocess.run(
        [sys.executable, "-c", example.group(1)], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "squeeze.wav").stat().st_size > 100_000
    assert "squeeze.wav" in done.stdout
