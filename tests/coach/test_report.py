"""The report for a clinician: a real log, the page printed by a real browser (headless
Chromium) to PDF, read back by poppler's pdfinfo and pdftotext."""

import json
import os
import re
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from voice_coach.cli import main
from voice_coach.coach.log import PracticeLog, SessionShape, local_now

PROGRAM = "glute-squeeze-daily"
SHAPE = SessionShape("glute-squeeze", 5, program=PROGRAM, stage=1)
CHROMIUM = [
    "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
    "--no-first-run", "--disable-background-networking", "--disable-component-update",
    "--disable-sync",
]  # fmt: skip


@pytest.fixture
def data(tmp_path, monkeypatch):
    folder = tmp_path / "data"
    monkeypatch.setenv("VOICE_COACH_DATA_DIR", str(folder))
    return folder


def two_years_of_use() -> None:
    """Two sessions a day for two years, rated 2, but a 7 every 18th day: the program
    moves up twice and back once in each 18 days, over 80 moves in all."""
    today = local_now().replace(hour=0, minute=0)
    with PracticeLog() as log:
        for back in range(730, 0, -1):
            day = today - timedelta(days=back)
            for hour in (9, 17):
                pain = 7 if back % 18 == 0 and hour == 9 else 2
                log.add(SHAPE, day.replace(hour=hour), 5, pain)


def print_to_pdf(page: Path, pdf: Path, *, a4: bool = False) -> int:
    """Print ``page`` with Chromium (Letter, its default, or A4); the PDF's page count."""
    if a4:  # the same page, told to print on A4
        text = page.read_text(encoding="utf-8").replace("@page {", "@page { size: A4;", 1)
        page = page.with_name("a4-" + page.name)
        page.write_text(text, encoding="utf-8")
    subprocess.run(
        [*CHROMIUM, f"--user-data-dir={pdf.parent / 'chromium'}", "--no-pdf-header-footer",
         f"--print-to-pdf={pdf}", page.as_uri()],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    info = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True, text=True)
    size = re.search(r"Page size:\s+([\d.]+) x ([\d.]+)", info.stdout)
    width, height = (210, 297) if a4 else (215.9, 279.4)  # millimetres
    assert size and abs(float(size[1]) / 72 * 25.4 - width) < 1, info.stdout
    assert abs(float(size[2]) / 72 * 25.4 - height) < 1, info.stdout
    return int(re.search(r"Pages:\s+(\d+)", info.stdout)[1])


def pdf_text(pdf: Path) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout


def history(since: str, capsys) -> list[dict]:
    capsys.readouterr()
    assert main(["history", "--json", "--since", since]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("weeks", [12, 104], ids=["12 weeks", "two years"])
def test_two_years_and_80_moves_print_on_one_page_with_history_json_figures(
    data, tmp_path, capsys, weeks
):
    two_years_of_use()
    since = (local_now().date() - timedelta(weeks=weeks)).isoformat()
    page = tmp_path / "report.html"
    argv = ["report", "-o", str(page), "--program", PROGRAM]
    assert main([*argv, *([] if weeks == 12 else ["--since", since])]) == 0
    assert page.stat().st_mode & 0o777 == 0o600, "health data: the user's alone"
    assert print_to_pdf(page, tmp_path / "letter.pdf") == 1
    assert print_to_pdf(page, tmp_path / "a4.pdf", a4=True) == 1
    text = " ".join(pdf_text(tmp_path / "letter.pdf").split())
    rows = history(since, capsys)
    practised = {row["started_at"][:10] for row in rows if row["ended"] in ("completed", "logged")}
    ratings = [row["pain"] for row in reversed(rows) if row["pain"] is not None]
    assert f"Sessions {len(rows)} " in text
    assert f"Completed {len(rows)} " in text
    assert f"Days practised {len(practised)} " in text
    assert f"Reps done {sum(row['reps_done'] for row in rows)} " in text
    mean = sum(ratings) / len(ratings)
    assert f"Pain ratings {len(ratings)} " in text
    assert f"Mean rating {mean:.1f} (lowest {min(ratings)}, highest {max(ratings)})" in text
    assert f"Latest rating {ratings[-1]} " in text
    assert "Stage moves, the latest 10" in text and re.search(r"and \d\d earlier", text)
    assert len(re.findall(r"\d → \d", text)) == 10
    assert "stage " in text and "Why this stage:" in text
    assert "General information, not medical advice." in text
    if weeks == 12:
        shots = Path(os.environ.get("VOICE_COACH_SHOTS", tempfile_dir()))
        shots.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["pdftoppm", "-png", "-r", "80", "-singlefile", str(tmp_path / "letter.pdf"),
             str(shots / "voice-coach-report")], check=True,
        )  # fmt: skip


def tempfile_dir() -> str:
    import tempfile

    return tempfile.gettempdir()


def test_the_page_is_self_contained_with_no_script_and_no_network(data, tmp_path):
    two_years_of_use()
    page = tmp_path / "report.html"
    assert main(["report", "-o", str(page)]) == 0
    html = page.read_text(encoding="utf-8")
    assert '<meta http-equiv="Content-Security-Policy" content="default-src \'none\';' in html
    assert "<script" not in html.lower()
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", html), "nothing fetched"
    assert "http://" not in html.replace("http://www.w3.org/", "")
    assert html.count("<svg") == 2, "the charts inline as SVG"


def test_sessions_per_week_are_counted_in_whole_numbers(data, tmp_path):
    """Two sessions in twelve weeks: the axis counts 0, 1, 2, never "0.25" sessions."""
    assert main(["log", "--when", "yesterday"]) == 0
    assert main(["log"]) == 0
    page = tmp_path / "report.html"
    assert main(["report", "-o", str(page)]) == 0
    labels = re.findall(r"<text[^>]*>([^<]*)</text>", page.read_text(encoding="utf-8"))
    numbers = [label for label in labels if re.fullmatch(r"-?\d+(\.\d+)?", label.strip())]
    assert numbers and all("." not in number for number in numbers), numbers


def test_the_plan_begins_with_the_program(data):
    """Weeks before the program's first session plan nothing (the chart's "planned" line
    does not call a user behind for weeks before they began), the first week from its day."""
    from voice_coach.coach.programs import load_program
    from voice_coach.coach.report import build_report

    today = local_now().date()
    began = today - timedelta(days=9)
    assert main(["log", "--when", (today - timedelta(days=30)).isoformat()]) == 0
    assert main(["log", "--program", "glute-squeeze-daily", "--when", began.isoformat()]) == 0
    program = load_program("glute-squeeze-daily")
    with PracticeLog() as log:
        period = log.entries()
        mine = log.entries(program=program.name, oldest_first=True)
    made = build_report(period, mine, program, today - timedelta(weeks=12), today, None)
    first = next(week for week in made.weeks if week.monday + timedelta(days=6) >= began)
    assert all(week.planned is None for week in made.weeks if week.monday < first.monday)
    assert first.planned == program.sessions_per_day * ((first.monday - began).days + 7)
    assert made.weeks[-1].planned == program.sessions_per_day * made.weeks[-1].days_so_far


def test_an_empty_log_gives_a_page_that_says_so(data, tmp_path):
    page = tmp_path / "report.html"
    assert main(["report", "-o", str(page)]) == 0
    assert "The practice log holds no sessions in this period." in page.read_text()
    assert print_to_pdf(page, tmp_path / "empty.pdf") == 1


def test_bad_input_is_one_line_and_nothing_is_lost(data, tmp_path, capsys):
    page = tmp_path / "report.html"
    page.write_text("mine", encoding="utf-8")
    tomorrow = (local_now().date() + timedelta(days=1)).isoformat()
    cases = [
        (["--program", "glute-squeeze-dayly"], 2, "glute-squeeze-dayly"),
        (["--since", tomorrow], 2, f"--since {tomorrow} is in the future"),
        (["--since", "someday"], 2, "someday"),
        ([], 2, "already exists; add --force"),
    ]
    for extra, code, words in cases:
        capsys.readouterr()
        assert main(["report", "-o", str(page), *extra]) == code, extra
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and words in err, (extra, err)
    assert page.read_text() == "mine", "not overwritten without --force"
    missing = tmp_path / "no-such-folder" / "r.html"
    capsys.readouterr()
    assert main(["report", "-o", str(missing)]) != 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no-such-folder" in err
    capsys.readouterr()
    export_err = main(["export", "-o", str(tmp_path / "no-such-folder" / "x.wav")])
    assert export_err == main(["report", "-o", str(missing)])
    assert main(["report", "-o", str(page), "--force"]) == 0
    assert "Practice report" in page.read_text()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == [], "no temp left"


def test_only_the_report_imports_matplotlib(data):
    code = (
        "import sys; from voice_coach.cli import main; "
        "[main(argv) for argv in (['stats'], ['today'], ['history'], ['script'])]; "
        "print('matplotlib' in sys.modules)"
    )
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert found.stdout.strip().splitlines()[-1] == "False", found.stderr


def test_chromium_and_poppler_are_here():
    """The report's tests need the browser and poppler-utils (scripts/setup --dev)."""
    assert shutil.which("chromium") and shutil.which("pdfinfo") and shutil.which("pdftotext")
