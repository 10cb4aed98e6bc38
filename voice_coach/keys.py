"""Single key presses from the terminal, without Enter and without echo.

Opened and closed (the terminal's mode must be restored whatever happens), so it is
a small class. Where standard input is not a terminal (a pipe, CI) there are no keys
and the session simply plays through.
"""

from __future__ import annotations

import os
import select
import sys
from types import TracebackType
from typing import IO


class KeyReader:
    """``read(timeout_s)`` returns one key (``" "``, ``"n"``, ``"q"``...) or ``None``."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream if stream is not None else sys.stdin
        self.active = False
        self._saved: list | None = None

    def __enter__(self) -> KeyReader:
        try:
            fd = self.stream.fileno()
        except (AttributeError, OSError, ValueError):
            return self
        if not os.isatty(fd):
            return self
        import termios
        import tty

        self._saved = termios.tcgetattr(fd)
        tty.setcbreak(fd)
        self.active = True
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._saved is not None:
            import termios

            termios.tcsetattr(self.stream.fileno(), termios.TCSADRAIN, self._saved)
            self._saved = None
        self.active = False

    def read(self, timeout_s: float) -> str | None:
        """A key if one is pressed within ``timeout_s``; never blocks longer."""
        if not self.active:
            return None
        fd = self.stream.fileno()
        ready, _, _ = select.select([fd], [], [], timeout_s)
        if not ready:
            return None
        data = os.read(fd, 32)
        return data.decode("utf-8", "replace")[:1].lower() if data else None
