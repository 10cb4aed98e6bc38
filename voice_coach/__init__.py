"""voice-coach: exercise protocols spoken as timed audio sessions.

The calls a script needs, loaded on first use so that ``import voice_coach`` imports
no numpy and nothing of the CLI (docs/guide.md, "From Python")::

    from voice_coach import Pace, SessionOptions, export_session, prepare_session

    session = prepare_session("glute-squeeze", SessionOptions(pace=Pace(reps=8)))
    export_session(session.render(), Path("squeeze.wav"))
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# name: the module that holds it
_PUBLIC = {
    "load_protocol": "voice_coach.files.loader",
    "Pace": "voice_coach.core.protocol",
    "Protocol": "voice_coach.core.protocol",
    "SessionOptions": "voice_coach.session",
    "PreparedSession": "voice_coach.session",
    "prepare_session": "voice_coach.session",
    "RenderedSession": "voice_coach.core.render",
    "export_session": "voice_coach.files.export",
    "load_program": "voice_coach.coach.programs",
    "PracticeLog": "voice_coach.coach.log",
    "VoiceCoachError": "voice_coach.errors",
}
__all__ = [
    "Pace",
    "PracticeLog",
    "PreparedSession",
    "Protocol",
    "RenderedSession",
    "SessionOptions",
    "VoiceCoachError",
    "__version__",
    "export_session",
    "load_program",
    "load_protocol",
    "prepare_session",
]

if TYPE_CHECKING:
    from voice_coach.coach.log import PracticeLog
    from voice_coach.coach.programs import load_program
    from voice_coach.core.protocol import Pace, Protocol
    from voice_coach.core.render import RenderedSession
    from voice_coach.errors import VoiceCoachError
    from voice_coach.files.export import export_session
    from voice_coach.files.loader import load_protocol
    from voice_coach.session import PreparedSession, SessionOptions, prepare_session


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'voice_coach' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once loaded, an ordinary attribute
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
