"""The wheel, not the editable install: built, installed in a fresh venv, and run. The
editable install hides a package left out of ``[tool.setuptools]`` or package data left
out of the wheel; this does not."""

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh venv with the wheel in it; the dependencies come from this environment's
    site-packages (a path, so its editable-install hook is not loaded)."""
    where = tmp_path_factory.mktemp("wheel")
    source = where / "source"  # a copy: setuptools keeps a build/ folder that could hide a gap
    # The catalogs' .mo files are left behind too: the build must compile them itself.
    shutil.copytree(
        ROOT, source, ignore=shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info",
                                                    "__pycache__", ".ruff_cache", "tests", "*.mo"),
    )  # fmt: skip
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
         "-w", str(where / "dist"), str(source)],
        check=True, capture_output=True, cwd=where,
    )  # fmt: skip
    (wheel,) = (where / "dist").glob("voice_coach-*.whl")
    venv = where / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    (Path(site) / "deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", site,
         str(wheel)], check=True, capture_output=True,
    )  # fmt: skip
    return venv


def run_in(
    venv: Path, *argv: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(venv / "bin" / "python"), "-m", "voice_coach", *argv],
        capture_output=True, text=True, cwd=cwd, timeout=300, env={**os.environ, **(env or {})},
    )  # fmt: skip


def test_the_wheel_carries_compiled_catalogs_and_shows_german_screens(installed, tmp_path):
    shown = run_in(
        installed, "programs", "show", "glute-squeeze-daily", cwd=tmp_path,
        env={"LANG": "de_DE.UTF-8"},
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert "Schmerzen (0, keine Schmerzen, bis 10" in shown.stdout
    assert shown.stdout.startswith("Gesäß anspannen, ein paar Mal am Tag (glute-squeeze-daily)")


def test_the_wheel_s_package_is_the_one_that_runs(installed, tmp_path):
    code = "import voice_coach; print(voice_coach.__file__)"
    where = subprocess.run(
        [str(installed / "bin" / "python"), "-c", code],
        capture_output=True, text=True, cwd=tmp_path, check=True,
    ).stdout  # fmt: skip
    assert str(installed) in where and str(ROOT) not in where


def test_script_and_export_run_from_the_wheel(installed, tmp_path):
    script = run_in(installed, "script", "--program", "glute-squeeze-daily", cwd=tmp_path)
    assert script.returncode == 0, script.stderr
    assert "Squeeze" in script.stdout
    export = run_in(installed, "export", "glute-squeeze-sets", "-o", "s.mp3", "-q", cwd=tmp_path)
    assert export.returncode == 0, export.stderr
    assert (tmp_path / "s.mp3").stat().st_size > 100_000
    report = run_in(installed, "report", "-o", "r.html", cwd=tmp_path)
    assert report.returncode == 0, report.stderr
