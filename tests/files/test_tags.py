"""Tags, cover and chapters of exported files, read back by ffprobe (FFmpeg's own ID3 and
Vorbis comment readers, not mutagen, which wrote them).

The chapters expected are worked out here from `script --json`, by the issue's rules,
not by calling the code under test.
"""

from __future__ import annotations

import datetime
import io
import itertools
import json
from pathlib import Path

import pytest
from PIL import Image
from probe import ffprobe

from voice_coach.cli import main
from voice_coach.core.timeline import Cue, Timeline
from voice_coach.files.chapters import MAX_REP_CHAPTERS, session_chapters
from voice_coach.files.loader import builtin_chapter_words, load_protocol

pytestmark = pytest.mark.usefixtures("warm_cache")


def script_json(capsys, *args: str) -> dict:
    assert main(["script", "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)


def expected_chapters(timeline: dict, per_rep: bool, words: dict[str, str]) -> list[tuple]:
    """(title, start_s) by the issue's rules, from the timeline as `script --json` gives it."""
    reps, sets = timeline["reps"], timeline["sets"]
    found: dict[str, float] = {}
    for cue in timeline["cues"]:
        role, rep, set_no = cue["role"], cue["rep"], cue["set"]
        if role == "start":
            title = words["start"]
        elif role in ("rest", "countdown"):
            title = f"{words['rest']}#{set_no}"
        elif role == "end":
            title = words["end"]
        else:
            rep = 1 if role == "set" else rep
            if not per_rep:
                title = words["set"].format(set=set_no, sets=sets)
            elif sets > 1:
                title = words["set_rep"].format(set=set_no, rep=rep, reps=reps)
            else:
                title = words["rep"].format(rep=rep, reps=reps)
        found.setdefault(title, cue["at_s"])
    return [(title.split("#")[0], at_s) for title, at_s in found.items()]


def tags_of(probe: dict) -> dict[str, str]:
    """The file's tags, wherever the container keeps them, with lower-case keys."""
    tags = dict(probe["format"].get("tags", {}))
    for stream in probe["streams"]:
        if stream["codec_type"] == "audio":
            tags.update(stream.get("tags", {}))
    return {key.lower(): value for key, value in tags.items()}


def cover_stream(probe: dict) -> dict:
    pictures = [s for s in probe["streams"] if s.get("disposition", {}).get("attached_pic")]
    assert len(pictures) == 1, probe["streams"]
    return pictures[0]


EN = {
    "start": "Start", "rep": "Rep {rep} of {reps}", "set_rep": "Set {set}, rep {rep} of {reps}",
    "set": "Set {set} of {sets}", "rest": "Rest", "end": "End",
}  # fmt: skip
DE = {
    "start": "Beginn", "rep": "Wiederholung {rep} von {reps}",
    "set_rep": "Satz {set}, Wiederholung {rep} von {reps}", "set": "Satz {set} von {sets}",
    "rest": "Pause", "end": "Ende",
}  # fmt: skip


@pytest.mark.parametrize("fmt", ["mp3", "ogg", "flac"])
def test_every_format_carries_its_tags_cover_and_a_chapter_per_rep(tmp_path, capsys, fmt):
    timeline = script_json(capsys, "glute-squeeze-sets")
    out = tmp_path / f"sets.{fmt}"
    assert main(["export", "glute-squeeze-sets", "-o", str(out), "--sample-rate", "44100",
                 "-q"]) == 0  # fmt: skip
    probe = ffprobe(out)

    chapters = sorted(probe["chapters"], key=lambda c: float(c["start_time"]))
    expected = expected_chapters(timeline, per_rep=True, words=EN)
    assert len(expected) == 1 + 24 + 2 + 1  # start, 3 x 8 reps, two rests, end
    assert [c["tags"]["title"] for c in chapters] == [title for title, _ in expected]
    for chapter, (title, at_s) in zip(chapters, expected, strict=True):
        assert abs(float(chapter["start_time"]) - at_s) <= 0.001, (title, chapter, at_s)
    for before, after in itertools.pairwise(chapters):
        assert before["end_time"] == after["start_time"]
    duration = float(probe["format"]["duration"])
    assert abs(float(chapters[-1]["end_time"]) - duration) < 0.06  # the codec's last frame

    tags = tags_of(probe)
    assert tags["title"] == "Glute squeeze, three sets"
    assert tags["artist"] == "voice-coach"
    assert tags["album"] == "Glute squeeze, three sets"
    assert tags["track"].split("/")[0] == "1"
    made = datetime.date.fromtimestamp(out.stat().st_mtime)  # when it was exported
    assert tags["date"] == str(made.year)
    assert tags["comment"] == load_protocol("glute-squeeze-sets").safety  # its own note

    cover = cover_stream(probe)
    assert cover["codec_name"] == "png"
    assert cover["width"] == cover["height"]
    assert 1400 <= cover["width"] <= 3000


def test_more_than_thirty_reps_get_a_chapter_per_set_in_the_sessions_language(tmp_path, capsys):
    args = ["glute-squeeze-sets", "--reps", "11", "--lang", "de"]  # 33 reps in all
    assert MAX_REP_CHAPTERS < 11 * 3
    timeline = script_json(capsys, *args)
    out = tmp_path / "sets.ogg"
    assert main(["export", *args, "-o", str(out), "-q"]) == 0
    chapters = sorted(ffprobe(out)["chapters"], key=lambda c: float(c["start_time"]))
    expected = expected_chapters(timeline, per_rep=False, words=DE)
    titles = [c["tags"]["title"] for c in chapters]
    assert titles == ["Beginn", "Satz 1 von 3", "Pause", "Satz 2 von 3", "Pause",
                      "Satz 3 von 3", "Ende"]  # fmt: skip
    assert titles == [title for title, _ in expected]
    for chapter, (_, at_s) in zip(chapters, expected, strict=True):
        assert abs(float(chapter["start_time"]) - at_s) <= 0.001


def test_chapters_off_writes_none_but_keeps_the_tags(tmp_path):
    out = tmp_path / "s.mp3"
    assert main(["export", "-o", str(out), "--chapters", "off", "-q"]) == 0
    probe = ffprobe(out)
    assert probe["chapters"] == []
    assert tags_of(probe)["title"] == "Glute squeeze"


def image_file(path: Path, kind: str, width: int, height: int) -> Path:
    Image.new("RGB", (width, height), (200, 30, 30)).save(path, kind)
    return path


@pytest.mark.parametrize(("kind", "codec"), [("PNG", "png"), ("JPEG", "mjpeg")])
def test_the_users_cover_goes_in_as_given(tmp_path, kind, codec):
    cover = image_file(tmp_path / f"c.{kind.lower()}", kind, 600, 500)
    for fmt in ("mp3", "flac"):
        out = tmp_path / f"s.{fmt}"
        assert main(["export", "-o", str(out), "--cover", str(cover), "-q"]) == 0
        stream = cover_stream(ffprobe(out))
        assert (stream["codec_name"], stream["width"], stream["height"]) == (codec, 600, 500)


def bad_covers(folder: Path) -> dict[str, Path]:
    text = folder / "notes.png"
    text.write_text("not an image")
    truncated = folder / "cut.png"
    whole = image_file(folder / "whole.png", "PNG", 800, 800).read_bytes()
    truncated.write_bytes(whole[: len(whole) // 2])
    return {
        "not an image": text,
        "damaged": truncated,
        "is GIF": image_file(folder / "c.gif", "GIF", 800, 800),
        "is 299 x 800 px": image_file(folder / "small.png", "PNG", 299, 800),
        "is 5001 x 400 px": image_file(folder / "big.png", "PNG", 5001, 400),
        "cannot be read": folder / "missing.png",
    }


def test_a_bad_cover_is_one_line_exit_2_and_nothing_written(tmp_path, capsys):
    covers = bad_covers(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    for reason, cover in covers.items():
        capsys.readouterr()
        code = main(["export", "-o", str(out / "s.mp3"), "--cover", str(cover), "-q"])
        err = capsys.readouterr().err
        assert code == 2, (reason, err)
        assert err.count("\n") == 1 and "error:" in err and reason in err, (reason, err)
        assert list(out.iterdir()) == []


def test_a_tag_that_cannot_be_written_leaves_no_file(tmp_path, monkeypatch, capsys):
    """The tags go into the temporary file: failing there, nothing reaches the target."""
    import voice_coach.files.tags as tags_module  # the export imports it as it tags

    def no_room(path, fmt, tags):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tags_module, "write_tags", no_room)
    out = tmp_path / "s.mp3"
    assert main(["export", "-o", str(out), "-q"]) == 1
    assert "no space left" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_the_drawn_cover_is_a_square_png_with_room_for_a_long_title():
    from voice_coach.files.cover import draw_cover

    cover = draw_cover("Beckenboden heben, drei Sätze mit langen Pausen dazwischen")
    with Image.open(io.BytesIO(cover.data)) as image:
        assert (image.format, image.size) == ("PNG", (cover.width, cover.height))
        assert image.width == image.height and 1400 <= image.width <= 3000


# --- the chapter rules, on hand-made timelines ------------------------------------------


def cue(at_s: float, role: str, rep: int | None = None, set_no: int | None = None,
        phase: str = "squeeze") -> Cue:  # fmt: skip
    return Cue(at_s, "tone", None, "squeeze", phase, rep, set_no, role, 0.1)


def test_a_phase_named_rest_stays_in_its_rep_and_set_words_open_the_first_rep():
    cues = (
        cue(0.0, "start", phase="lead-in"),
        cue(5.0, "set", set_no=1, phase="set"),
        cue(8.0, "phase", 1, 1),
        cue(9.0, "phase", 1, 1, phase="rest"),  # a user's phase called "rest"
        cue(10.0, "phase", 2, 1),
        cue(12.0, "rest", set_no=1, phase="rest"),
        cue(20.0, "countdown", set_no=1, phase="rest"),
        cue(22.0, "set", set_no=2, phase="set"),
        cue(25.0, "phase", 1, 2),
        cue(27.0, "phase", 2, 2),
        cue(29.0, "end", phase="end"),
    )
    timeline = Timeline("t", cues, (), 31.0, reps=2, sets=2)
    chapters = session_chapters(timeline, builtin_chapter_words("en"), end_s=31.5)
    assert [(c.title, c.start_s, c.end_s) for c in chapters] == [
        ("Start", 0.0, 5.0),
        ("Set 1, rep 1 of 2", 5.0, 10.0),
        ("Set 1, rep 2 of 2", 10.0, 12.0),
        ("Rest", 12.0, 22.0),
        ("Set 2, rep 1 of 2", 22.0, 27.0),
        ("Set 2, rep 2 of 2", 27.0, 29.0),
        ("End", 29.0, 31.5),
    ]


def test_a_language_without_chapter_words_gets_english_ones():
    assert builtin_chapter_words("pt-br") == builtin_chapter_words("en")
    assert builtin_chapter_words("fr-ca")["rest"] == "Repos"


@pytest.mark.parametrize("engine", ["espeak-ng", "piper"])
def test_chapters_of_a_voice_only_export_start_at_their_first_cue_s_first_sample(
    tmp_path, capsys, engine
):
    """With `--cues voice` a rep opens with a word pulled ahead of its beat: its chapter
    starts at that word's first sample (``at_s``), not where it is heard (``beat_s``,
    some 0.15 s later for "Squeeze"), so skipping to a rep does not cut into its word."""
    args = ["glute-squeeze", "--cues", "voice", "--engine", engine]
    timeline = script_json(capsys, *args)
    pulled = [c for c in timeline["cues"] if c["role"] == "phase" and c["beat_s"] > c["at_s"]]
    assert pulled, "a voice-only session pulls its phase words ahead of their beats"
    out = tmp_path / "voice.mp3"
    assert main(["export", *args, "-o", str(out), "-q"]) == 0
    chapters = sorted(ffprobe(out)["chapters"], key=lambda c: float(c["start_time"]))
    expected = expected_chapters(timeline, per_rep=True, words=EN)
    assert [c["tags"]["title"] for c in chapters] == [title for title, _ in expected]
    for chapter, (title, at_s) in zip(chapters, expected, strict=True):
        assert abs(float(chapter["start_time"]) - at_s) <= 0.001, (title, chapter, at_s)
