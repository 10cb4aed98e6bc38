"""What the coach says around a session: pain warnings before it, the pain question
after it, and the answer to a worrying rating, safety first."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from voice_coach.cli.options import PLAYBACK_SAMPLE_RATE, note, out
from voice_coach.i18n import N_, _

if TYPE_CHECKING:
    from voice_coach.coach.practice import SessionRecord
    from voice_coach.coach.programs import NextSession, PainRules
    from voice_coach.core.protocol import Protocol
    from voice_coach.session import PreparedSession, SessionOptions

STOP_TODAY = N_("Stop here for today. Skip the exercise today and keep moving gently.")
SEE_CLINICIAN = N_(
    "See a clinician before going on: {condition}. The program holds until a lower rating "
    "is logged."
)


def safety_answer(
    pain: int, before: int | None, protocol: Protocol, rules: PainRules | None = None
) -> list[str]:
    """What a worrying rating is answered with, phrase by phrase, in the protocol's
    language: stop for today, what was noticed, the safety note (``answer_lines``)."""
    from voice_coach.coach.programs import PainRules
    from voice_coach.coach.rating import answer_lines
    from voice_coach.files.loader import builtin_answer_words

    words = builtin_answer_words(protocol.language)
    return answer_lines(pain, before, words, protocol.safety, rules or PainRules())


def pain_warnings(plan: NextSession) -> list[str]:
    """What a program's pain rules say before today's session, if anything."""
    from voice_coach.coach.programs import clinician_rule

    lines = []
    if plan.stop_today:
        lines.append(_(STOP_TODAY))
    if plan.see_clinician:
        lines.append(_(SEE_CLINICIAN).format(condition=clinician_rule(plan.program.pain)))
    return lines


def ask_how_it_felt(
    prepared: PreparedSession,
    options: SessionOptions,
    record: SessionRecord,
    backend: str,
    plan: NextSession | None = None,
) -> None:
    """Say and show the question, read a rating, keep it, and answer a worrying one,
    stop-for-today first. Said in the session's voice, shown on the terminal."""
    from voice_coach.audio.playback import Player
    from voice_coach.coach.rating import ask_rating
    from voice_coach.errors import VoiceCoachError
    from voice_coach.session import spoken_phrase

    question = prepared.protocol.cues.pain_question
    if not question:
        return
    player = None
    try:
        player = Player(spoken_phrase(prepared, options, question, PLAYBACK_SAMPLE_RATE), backend)
        player.open()
        player.start()
    except VoiceCoachError:
        player = None  # the question is still shown; a voice that fails now costs only that

    def write(text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    try:
        rating = ask_rating(question, sys.stdin.fileno(), write)
    finally:
        if player is not None:
            player.close()
    if rating is None:
        return
    before = record.rate(rating)
    if record.problem:
        note(_("the rating was not logged: {why}").format(why=record.problem))
    rules = plan.program.pain if plan else None
    for line in safety_answer(rating, before, prepared.protocol, rules):
        out(line)
        say_after_session(prepared, options, line, backend)


def say_after_session(
    prepared: PreparedSession, options: SessionOptions, text: str, backend: str
) -> None:
    """Say ``text`` in the session's voice and wait until it has been heard: an eyes-free
    user hears the safety note, not only a screen. A voice or device that fails now
    costs only the sound; the text has been shown."""
    from voice_coach.audio.playback import Player
    from voice_coach.errors import VoiceCoachError
    from voice_coach.session import spoken_phrase

    try:
        phrase = spoken_phrase(prepared, options, text, PLAYBACK_SAMPLE_RATE)
        with Player(phrase, backend) as player:
            player.start()
            player.wait(timeout=phrase.timeline.duration_s + 10)
    except VoiceCoachError:
        return
