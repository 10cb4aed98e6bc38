"""The watcher: ``python -m voice_coach.desktop.watcher STATE_FILE``.

Started by a ducking session in a session of its own, with a pipe from it as standard
input. It waits for that pipe to close: the session ended, however it ended (``kill -9``
included, which no handler of the session's own sees). Then, if the state file is still
there (a session that ended well has restored and removed it), it puts back what the
file says was lowered. Ctrl-C and a closed terminal, which reach the session's process
group, do not reach it, and it ignores them all the same.
"""

from __future__ import annotations

import contextlib
import signal
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    for sig in (signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    if len(argv) != 1:
        print("usage: python -m voice_coach.desktop.watcher STATE_FILE", file=sys.stderr)
        return 2
    import pulsectl  # noqa: F401

    from voice_coach.desktop.ducking import restore_from  # loaded before the wait: quick then

    with contextlib.suppress(OSError):
        while sys.stdin.buffer.read(4096):
            pass
    path = Path(argv[0])
    if path.exists():
        with contextlib.suppress(Exception):  # no server any more: nothing left to restore
            restore_from(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
