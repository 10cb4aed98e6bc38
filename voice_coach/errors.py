"""The one error hierarchy of voice-coach.

Everything below the CLI raises one of these instead of printing or exiting, so the
CLI can turn any failure into a single line and an exit status in one place.
Status 2 means "what you asked for is wrong" (a bad file, option or value); status 1
means "what you asked for is fine but the machine could not do it" (no sound device,
an unwritable folder, a failed synthesis).
"""

from __future__ import annotations

import errno

from voice_coach.i18n import _


class VoiceCoachError(Exception):
    """A failure the user can act on: a one-line message and, where it helps, a hint."""

    exit_code: int = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        """The message and hint on one line, with no control characters from user text."""
        text = self.message if not self.hint else f"{self.message} ({self.hint})"
        # Whitespace folds to spaces; anything else unprintable (a bell, an escape that
        # would recolour the terminal, a bidi override) is shown as its escape instead.
        return "".join(
            ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii")
            for ch in " ".join(text.split())
        )


class UsageError(VoiceCoachError):
    """An option or argument that cannot be right."""

    exit_code = 2


class ProtocolError(UsageError):
    """A protocol file, or the session it describes, that cannot be used."""


class FieldError(ProtocolError):
    """A value out of its bounds, named by the field it is about (``reps``), never by a
    command-line flag: the CLI words it with the option that set it (``--reps``)."""

    def __init__(self, field: str, detail: str, hint: str | None = None) -> None:
        super().__init__(f"{field}: {detail}", hint)
        self.field = field
        self.detail = detail


class TimingError(UsageError):
    """A session whose words cannot be spoken in the time the pace gives them."""


class VoiceFileError(UsageError):
    """A voice model (a Piper ``.onnx`` and its ``.onnx.json``) that cannot be used, or a
    voice that cannot be added or removed."""


class SpeechError(VoiceCoachError):
    """The speech engine is missing or failed to speak a phrase."""


class AudioDeviceError(VoiceCoachError):
    """No output device, or one that failed to open or play."""


class ExportError(VoiceCoachError):
    """An audio file or its sidecars could not be written."""


class LogError(VoiceCoachError):
    """The practice log cannot be opened, read or written (it is never overwritten)."""


class OutputError(VoiceCoachError):
    """Standard output could not be written (a full disk behind a redirect, say)."""


def stdout_failed(exc: OSError) -> OutputError:
    """The one wording for a failed write to standard output, wherever it happens."""
    return OutputError(
        _("standard output could not be written ({reason})").format(reason=os_reason(exc))
    )


def os_reason(exc: OSError) -> str:
    """Why an operating-system call failed, in words a user can act on."""
    if exc.errno == errno.ENOSPC:
        return _("no space left: the disk is full")
    if exc.errno == errno.EFBIG:
        return _("the file reached the largest size allowed here (ulimit -f, or the file system's)")
    return exc.strerror or str(exc)
