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
    """``read(timeout_s)`` returns one key (``" "``, ``"n"``, ``"q"``...) or ``None``.

    Keys come from the terminal, and from ``push`` (media keys, from another thread),
    once ``accept_pushed`` has been called: a pushed key wakes a waiting ``read`` at once.
    """

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream if stream is not None else sys.stdin
        self.active = False
        self._saved: list | None = None
        self._pushed: tuple[int, int] | None = None  # a pipe: (read end, write end)

    @property
    def listening(self) -> bool:
        """Keys can come, from the terminal or pushed."""
        return self.active or self._pushed is not None

    def accept_pushed(self) -> None:
        if self._pushed is None:
            self._pushed = os.pipe()

    def push(self, key: str) -> None:
        """A key as if pressed (from any thread)."""
        if self._pushed is not None:
            os.write(self._pushed[1], key.encode("utf-8")[:1])

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
        if self._pushed is not None:
            for end in self._pushed:
                os.close(end)
            self._pushed = None

    def read(self, timeout_s: float) -> str | None:
        """A key if one is pressed within ``timeout_s``; never blocks longer."""
        sources = [self.stream.fileno()] if self.active else []
        if self._pushed is not None:
            sources.append(self._pushed[0])
        if not sources:
            return None
        ready, _, _ = select.select(sources, [], [], timeout_s)
        if not ready:
            return None
        if self._pushed is not None and self._pushed[0] in ready:
            return os.read(self._pushed[0], 1).decode("utf-8", "replace")  # one key a read
        data = os.read(ready[0], 32)
        return data.decode("utf-8", "replace")[:1].lower() if data else None
