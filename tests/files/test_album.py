"""Albums: a folder of tagged sessions, its playlist and feed, read back by other libraries
(ffprobe for the files, feedparser for the feed), and failures that leave the folder as
it was: one injected in the process, one a real SIGKILL midway.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import feedparser
import pytest
from isolation import copy_warm
from PIL import Image
from probe import ffprobe

from voice_coach.cli import main
from voice_coach.userdirs import CACHE_DIR_ENV

BASE_URL = "https://example.org/squeeze"
BUILT_INS = ["glute-squeeze", "glute-squeeze-queue", "glute-squeeze-sets"]


pytestmark = pytest.mark.usefixtures("warm_cache")


def snapshot(folder: Path) -> dict[str, str]:
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in folder.iterdir()}


def playlist_entries(folder: Path) -> list[tuple[int, str, str]]:
    lines = (folder / "playlist.m3u8").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "#EXTM3U"
    entries = []
    for info, name in zip(lines[1::2], lines[2::2], strict=True):
        assert info.startswith("#EXTINF:")
        seconds, title = info.removeprefix("#EXTINF:").split(",", 1)
        entries.append((int(seconds), title, name))
    return entries


@pytest.fixture(scope="module")
def album(tmp_path_factory, warmed_cache) -> Path:
    folder = tmp_path_factory.mktemp("albums") / "squeeze"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(CACHE_DIR_ENV, str(copy_warm(warmed_cache, tmp_path_factory.mktemp("cache"))))
        assert main(["export", "--album", str(folder), "--base-url", BASE_URL, "-q"]) == 0
    return folder


def test_the_album_of_the_built_ins_has_a_file_each_a_cover_and_a_playlist(album):
    names = sorted(path.name for path in album.iterdir())
    assert names == sorted([*(f"{n}.mp3" for n in BUILT_INS), "cover.png", "playlist.m3u8",
                            "feed.xml"])  # fmt: skip
    assert [name for _, _, name in playlist_entries(album)] == [f"{n}.mp3" for n in BUILT_INS]
    for number, (seconds, title, name) in enumerate(playlist_entries(album), start=1):
        probe = ffprobe(album / name)["format"]
        assert abs(float(probe["duration"]) - seconds) <= 0.5 + 0.05, (name, probe["duration"])
        assert probe["tags"]["title"] == title
        assert probe["tags"]["album"] == "squeeze"
        assert probe["tags"]["track"] == f"{number}/3"
    with Image.open(album / "cover.png") as cover:
        assert cover.format == "PNG" and cover.width == cover.height >= 1400


def test_the_feed_parses_and_each_enclosure_is_its_file(album):
    feed = feedparser.parse((album / "feed.xml").read_bytes())
    assert not feed.bozo, feed.bozo_exception
    assert feed.version == "rss20"
    assert feed.feed.title == "squeeze"
    assert feed.feed.image.href == f"{BASE_URL}/cover.png"
    assert [entry.title for entry in feed.entries] == [
        title for _, title, _ in playlist_entries(album)
    ]
    for entry, (seconds, _, name) in zip(feed.entries, playlist_entries(album), strict=True):
        (enclosure,) = entry.enclosures
        assert enclosure.href == f"{BASE_URL}/{name}"
        assert int(enclosure.length) == (album / name).stat().st_size
        assert enclosure.type == "audio/mpeg"
        assert int(entry.itunes_duration) == seconds


def test_named_sessions_in_another_format_and_no_feed_without_a_base_url(tmp_path):
    folder = tmp_path / "one"
    assert main(["export", "--album", str(folder), "glute-squeeze-queue", "--format", "ogg",
                 "--lang", "de", "-q"]) == 0  # fmt: skip
    assert sorted(p.name for p in folder.iterdir()) == [
        "cover.png", "glute-squeeze-queue.ogg", "playlist.m3u8"
    ]  # fmt: skip
    assert ffprobe(folder / "glute-squeeze-queue.ogg")["format"]["format_name"] == "ogg"


def test_an_album_is_replaced_only_with_force(tmp_path, capsys):
    folder = tmp_path / "a"
    assert main(["export", "--album", str(folder), "glute-squeeze-queue", "-q"]) == 0
    (folder / "mine.txt").write_text("the user's")
    before = snapshot(folder)
    assert main(["export", "--album", str(folder), "glute-squeeze", "-q"]) == 2
    assert "add --force" in capsys.readouterr().err
    assert snapshot(folder) == before
    assert main(["export", "--album", str(folder), "glute-squeeze", "--force", "-q"]) == 0
    assert sorted(p.name for p in folder.iterdir()) == [
        "cover.png", "glute-squeeze.mp3", "playlist.m3u8"
    ]  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"]  # nothing left beside it


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--base-url", "ftp://example.org/x"], "not an http or https address"),
        (["--base-url", "example.org/x"], "not an http or https address"),
        (["-o", "x.mp3"], "not both"),
        (["--subtitles", "srt"], "go with -o OUT"),
        (["glute-squeeze", "glute-squeeze"], "in the album twice"),
        (["--format", "aiff"], "--format"),
    ],
)
def test_bad_album_options_are_one_line_exit_2_and_nothing_written(tmp_path, capsys, args, says):
    folder = tmp_path / "album"
    assert main(["export", "--album", str(folder), *args, "-q"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and says in err, err
    assert list(tmp_path.iterdir()) == []


def test_an_album_folder_that_is_a_file_is_refused(tmp_path, capsys):
    file = tmp_path / "album"
    file.write_text("mine")
    assert main(["export", "--album", str(file), "--force", "-q"]) == 2
    assert "is a file" in capsys.readouterr().err
    assert file.read_text() == "mine"
    assert main(["export", "glute-squeeze", "glute-squeeze-queue", "-o", "x.wav", "-q"]) == 2


def test_a_failure_midway_leaves_the_old_album_as_it_was(tmp_path, monkeypatch, capsys):
    import voice_coach.files.album as album_module

    folder = tmp_path / "a"
    assert main(["export", "--album", str(folder), "glute-squeeze-queue", "-q"]) == 0
    before = snapshot(folder)
    real_export = album_module.export_session
    calls = []

    def full_disk_on_the_second(session, target, **kwargs):
        calls.append(target)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real_export(session, target, **kwargs)

    monkeypatch.setattr(album_module, "export_session", full_disk_on_the_second)
    assert main(["export", "--album", str(folder), "--force", "-q"]) == 1
    assert "no space left" in capsys.readouterr().err
    assert len(calls) == 2 and calls[0].exists() is False  # the first was written, then gone
    assert snapshot(folder) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"]


def test_a_process_killed_midway_leaves_the_old_album_as_it_was(tmp_path):
    folder = tmp_path / "a"
    assert main(["export", "--album", str(folder), "glute-squeeze-queue", "-q"]) == 0
    before = snapshot(folder)
    child = subprocess.Popen(
        [sys.executable, "-m", "voice_coach", "export", "--album", str(folder), "--force", "-q"],
        env=os.environ.copy(),
    )
    deadline = time.monotonic() + 60
    written = []
    while time.monotonic() < deadline and child.poll() is None and not written:
        written = list(tmp_path.glob(".a.*.part/glute-squeeze.mp3"))
        time.sleep(0.005)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert written, "the album was not caught midway: nothing was tested"
    assert child.returncode == -signal.SIGKILL
    assert snapshot(folder) == before


def test_a_programs_album_has_a_file_per_stage_with_its_own_reps(tmp_path):
    """glute-squeeze-daily: stages of 5, 7 and 10 reps; today's stage (the first, with
    an empty log) does not decide the others."""
    folder = tmp_path / "daily"
    assert main(["export", "--album", str(folder), "--program", "glute-squeeze-daily",
                 "-q"]) == 0  # fmt: skip
    entries = playlist_entries(folder)
    names = [name for _, _, name in entries]
    assert names == [f"glute-squeeze-daily-stage-{n}.mp3" for n in (1, 2, 3)]
    for number, ((_, title, name), reps) in enumerate(zip(entries, (5, 7, 10), strict=True), 1):
        probe = ffprobe(folder / name)
        assert probe["format"]["tags"]["album"] == "Glute squeeze, a few times a day"
        assert probe["format"]["tags"]["title"] == title
        assert title.endswith(f"stage {number} of 3")
        reps_heard = {c["tags"]["title"] for c in probe["chapters"]} & {
            f"Rep {k} of {reps}" for k in range(1, reps + 1)
        }
        assert len(reps_heard) == reps, (name, probe["chapters"])


def test_todays_session_of_a_program_carries_the_programs_title_as_its_album(tmp_path):
    out = tmp_path / "today.mp3"
    assert main(["export", "--program", "glute-squeeze-daily", "-o", str(out), "-q"]) == 0
    tags = ffprobe(out)["format"]["tags"]
    assert (tags["album"], tags["title"]) == ("Glute squeeze, a few times a day", "Glute squeeze")
    assert {c["tags"]["title"] for c in ffprobe(out)["chapters"]} >= {"Rep 5 of 5"}
