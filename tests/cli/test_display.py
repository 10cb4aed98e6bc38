"""The plain display: one line per word, printed when the word is heard."""

import io

from voice_coach.core.timeline import Cue, Span, Timeline
from voice_coach.display import Display


def session() -> Timeline:
    # "Squeeze" starts 0.17 s before its beat at 6 s; "two" 0.05 s before 7 s.
    cues = (
        Cue(5.83, "say", "Squeeze", None, "squeeze", 1, None, "phase", 0.5, 0.17),
        Cue(6.95, "say", "two", None, "squeeze", 1, None, "count", 0.3, 0.05),
    )
    spans = (
        Span(0.0, 5.83, "lead-in", "lead-in", None, None),
        Span(5.83, 9.0, "phase", "squeeze", 1, None),
    )
    return Timeline("t", cues, spans, 9.0, 1, 1)


def test_a_word_is_printed_when_it_is_heard_not_at_its_first_sample():
    out = io.StringIO()
    with Display(session(), "plain", out) as display:
        display.show(5.9)
        assert out.getvalue() == ""
        display.show(6.0)
        display.show(6.99)
        assert out.getvalue() == "0:06  Squeeze\n"
        display.show(7.0)
    assert out.getvalue() == "0:06  Squeeze\n0:07  two\n"


def test_after_a_jump_to_a_span_its_opening_word_is_printed_again():
    out = io.StringIO()
    with Display(session(), "plain", out) as display:
        display.show(8.0)
        display.jumped(5.83)
        display.show(6.0)
    assert out.getvalue() == "0:06  Squeeze\n0:07  two\n0:06  Squeeze\n"
