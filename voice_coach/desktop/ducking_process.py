"""The ducking process, run as ``python -m voice_coach.desktop.ducking_process STATE_FILE
SESSION_PID DB``.

Started by a live session (``ducking.Ducker``, through ``helper.Helper``). It reaches the
sound server at once, while the session is prepared and its device opened; then it lowers
the other streams under the session's words (``ducking.Follower``) from what the session tells it,
one JSON object a line: ``{"follow": [[start_s, end_s], ...]}`` (the words' spans), ``{"clock":
[heard_s, monotonic_s, playing]}`` (what the user hears, as of when), ``{"end": true}``.
It answers ``{"others": bool}`` once it has reached the server (whether another
application plays where the session will: if not, the session need not wait for it),
``{"settled": true}`` once the session's start is lowered as it wants, or ``{"problem":
"..."}`` when there is no server to reach.

When the pipe closes, however the session ended, it puts every stream back and removes
the state file, then ends (``helper.py`` says why a process of its own).
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import sys
from pathlib import Path

from voice_coach.desktop.ducking import TICK_S, Follower, connect
from voice_coach.desktop.helper import ignore_the_terminal, say


def main(argv: list[str]) -> int:
    ignore_the_terminal()
    if len(argv) != 3:
        print("usage: python -m voice_coach.desktop.ducking_process STATE SESSION_PID DB",
              file=sys.stderr)  # fmt: skip
        return 2
    state_path, session_pid, duck_db = Path(argv[0]), int(argv[1]), float(argv[2])

    try:
        pulse = connect()
    except OSError as exc:
        say({"problem": str(exc)})
        return 0
    follower = Follower(pulse, session_pid, duck_db, state_path)
    say({"others": follower.others_playing()})
    import voice_coach.audio.music  # noqa: F401  (now, not when the session's spans come)

    stdin, pending = sys.stdin.fileno(), b""
    try:
        while True:
            ready, _, _ = select.select([stdin], [], [], TICK_S)
            if ready:
                chunk = os.read(stdin, 65536)
                if not chunk:
                    break  # the session ended, however it ended
                *lines, pending = (pending + chunk).split(b"\n")
                if not all(handle(follower, line) for line in lines):
                    break
            was_settled = follower.settled
            follower.tick()
            if follower.settled and not was_settled:
                say({"settled": True})
    finally:
        with contextlib.suppress(Exception):  # the server went away: nothing to put back
            follower.restore()
        pulse.close()
    return 0


def handle(follower: Follower, line: bytes) -> bool:
    """Act on one message; False on ``end``."""
    try:
        message = json.loads(line)
    except ValueError:
        return True
    if "follow" in message:
        follower.follow([(float(a), float(b)) for a, b in message["follow"]])
    if "clock" in message:
        heard, at, playing = message["clock"]
        follower.clock = (float(heard), float(at), bool(playing))
    return "end" not in message


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
