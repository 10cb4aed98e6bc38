"""What the two device back-ends share: ALSA kept quiet, errors as one line, samples
as 16-bit integers, and the hint when no device plays."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from voice_coach.i18n import N_

EXPORT_HINT = N_("to listen later, write it to a file: voice-coach export -o session.wav")

_ALSA_SILENCER: Any = None


def quiet_alsa() -> None:
    """Keep ALSA's own diagnostics ("ALSA lib pcm.c: Unknown PCM default", "underrun
    occurred" as PortAudio aborts a stream) off the user's terminal: the errors that
    matter reach us as exceptions and become one line."""
    global _ALSA_SILENCER
    if _ALSA_SILENCER is not None or not sys.platform.startswith("linux"):
        return
    import ctypes
    import ctypes.util

    try:
        asound = ctypes.CDLL(ctypes.util.find_library("asound") or "libasound.so.2")
        handler_type = ctypes.CFUNCTYPE(
            None, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p
        )
        silencer = handler_type(lambda *_: None)
        asound.snd_lib_error_set_handler(silencer)
    except (OSError, AttributeError):
        return
    _ALSA_SILENCER = silencer  # ALSA keeps only the pointer: the callback must live on


def to_int16(samples: np.ndarray) -> np.ndarray:
    return np.round(np.clip(samples, -1.0, 1.0) * 32767).astype(np.int16)


def one_line(error: BaseException | None) -> str:
    return " ".join(str(error).split()) or type(error).__name__
