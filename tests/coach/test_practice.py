"""The step between a session and its record: reps heard through, and the entry written."""

import pytest

from voice_coach.coach.log import PracticeLog, SessionShape
from voice_coach.coach.practice import SessionRecord, reps_done
from voice_coach.core.protocol import Pace, apply_pace
from voice_coach.core.timeline import build_timeline, end_start_s, skip_target_s
from voice_coach.files.loader import load_protocol
from voice_coach.live import LiveResult

TIMELINE = build_timeline(apply_pace(load_protocol("glute-squeeze-sets"), Pace(reps=4, sets=2)))


def rep_bounds(set_no: int, rep: int) -> tuple[float, float]:
    spans = [s for s in TIMELINE.spans if s.kind == "phase" and (s.set, s.rep) == (set_no, rep)]
    return spans[0].start_s, spans[-1].end_s


def relax_start(set_no: int, rep: int) -> float:
    spans = [s for s in TIMELINE.spans if s.kind == "phase" and (s.set, s.rep) == (set_no, rep)]
    return next(s.start_s for s in spans if s.phase == "relax")


def test_the_timeline_is_what_the_cases_assume():
    assert (TIMELINE.reps, TIMELINE.sets) == (4, 2)


CASES = [
    ("played through", [(0.0, TIMELINE.duration_s)], 8),
    ("nothing", [], 0),
    ("stopped inside rep 2 of set 1", [(0.0, rep_bounds(1, 2)[0] + 1.0)], 1),
    ("stopped just as rep 2 ended", [(0.0, rep_bounds(1, 2)[1])], 2),
    # A pause resumes at the start of the paused phase (here rep 1's relax): the rep,
    # heard in two stretches, is done once.
    ("paused in rep 1's relax, resumed at its start",
     [(0.0, relax_start(1, 1) + 0.5), (relax_start(1, 1), TIMELINE.duration_s)], 8),
    # n from rep 2 of set 1 skips to the rest: reps 2-4 of set 1 are not done.
    ("skipped the rest of set 1",
     [(0.0, rep_bounds(1, 2)[0] + 0.5),
      (skip_target_s(TIMELINE, rep_bounds(1, 2)[0] + 0.5), TIMELINE.duration_s)], 5),
    # q in rep 3 of set 2 jumps to the end words.
    ("quit in rep 3 of set 2",
     [(0.0, rep_bounds(2, 3)[0] + 1.0), (end_start_s(TIMELINE), TIMELINE.duration_s)], 6),
]  # fmt: skip


@pytest.mark.parametrize(("label", "heard", "done"), CASES, ids=[c[0] for c in CASES])
def test_reps_done_counts_reps_heard_from_start_to_end(label, heard, done):
    assert reps_done(TIMELINE, heard) == done, label


def test_a_record_begins_unfinished_and_finishes_with_what_was_heard():
    shape = SessionShape("glute-squeeze-sets", 8, sets=2)
    record = SessionRecord(shape)
    record.begin()
    record._thread.join()
    with PracticeLog(create=False) as log:
        (entry,) = log.entries()
    assert entry.ended == "unfinished" and entry.ended_at is None
    quit_at = rep_bounds(2, 3)[0] + 1.0
    result = LiveResult(
        TIMELINE.duration_s,
        finished=False,
        quit=True,
        interrupted=False,
        heard=((0.0, quit_at), (end_start_s(TIMELINE), TIMELINE.duration_s)),
        skips=0,
    )
    record.finish_live(result, TIMELINE)
    assert record.rate(4) is None, "no rating before this one"
    with PracticeLog(create=False) as log:
        (entry,) = log.entries()
    assert (entry.ended, entry.reps_done, entry.skipped, entry.pain) == ("quit", 6, 0, 4)
    assert entry.ended_at is not None and record.problem is None


def test_a_record_that_never_began_writes_nothing():
    record = SessionRecord(SessionShape("glute-squeeze", 10))
    record.finish("completed", 10, 0)
    assert record.entry_id is None
    with PracticeLog(create=False) as log:
        assert log.entries() == []
