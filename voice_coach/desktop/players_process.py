"""The players process, run as ``python -m voice_coach.desktop.players_process
SESSION_PID``.

Started by a live session with ``--others pause`` (``players.PausedPlayers``, through
``helper.Helper``). It reaches the session bus at once; on ``{"pause": true}`` it pauses
every other MPRIS2 player that is playing and answers ``{"paused": [bus names]}``; on
``{"resume": true}`` (the session is paused) it resumes those it paused that are still
paused; when the session's pipe closes or it says ``{"end": true}``, it resumes them
too, and ends. ``{"problem": "..."}`` when there is no bus to reach, or
the bus fails.

dbus-fast's asyncio client; a player that does not answer within ``CALL_TIMEOUT_S`` is
passed over, so a player that hangs holds neither the session nor the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator

from dbus_fast import BusType, Message, MessageType, Variant
from dbus_fast.aio import MessageBus

from voice_coach.desktop.helper import ignore_the_terminal, say
from voice_coach.desktop.mpris import BUS_NAME, OBJECT_PATH

PREFIX = "org.mpris.MediaPlayer2."
PLAYER = "org.mpris.MediaPlayer2.Player"
CALL_TIMEOUT_S = 2.0


def main(argv: list[str]) -> int:
    ignore_the_terminal()
    if len(argv) != 1:
        print("usage: python -m voice_coach.desktop.players_process SESSION_PID", file=sys.stderr)
        return 2
    asyncio.run(serve(BUS_NAME.format(pid=int(argv[0]))))
    return 0


async def serve(own: str) -> None:
    """Pause on the session's word, resume at its end; ``own`` is the session's own
    player, never paused."""
    try:
        bus = await asyncio.wait_for(MessageBus(bus_type=BusType.SESSION).connect(), CALL_TIMEOUT_S)
    except Exception as exc:  # no bus: the session plays on, over the players
        say({"problem": str(exc) or type(exc).__name__})
        return
    paused: list[str] = []
    try:
        async for message in messages():
            if "pause" in message and not paused:
                paused = await pause_playing(bus, own)
                say({"paused": paused})
            if "resume" in message:
                await resume(bus, own, paused)
                paused = []
            if "end" in message:
                break
    except Exception as exc:  # the bus went away: nothing more to do on it
        say({"problem": str(exc) or type(exc).__name__})
    finally:
        with contextlib.suppress(Exception):
            await resume(bus, own, paused)
        bus.disconnect()


async def messages() -> AsyncIterator[dict[str, object]]:
    """The session's messages, one JSON object a line, until its pipe closes."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        with contextlib.suppress(ValueError):
            message = json.loads(line)
            if isinstance(message, dict):
                yield message


async def pause_playing(bus: MessageBus, own: str) -> list[str]:
    """Pause every playing player but ``own``; the bus names paused."""
    paused = []
    for name in await players(bus, own):
        if await status(bus, name) == "Playing":
            await call(bus, name, "Pause")
            paused.append(name)
    return paused


async def resume(bus: MessageBus, own: str, paused: list[str]) -> None:
    present = set(await players(bus, own))
    for name in paused:
        # Resumed by hand meanwhile, or stopped: the user's choice stands.
        if name in present and await status(bus, name) == "Paused":
            await call(bus, name, "Play")


async def players(bus: MessageBus, own: str) -> list[str]:
    reply = await send(
        bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "ListNames"
    )
    names = reply.body[0] if reply is not None else []
    return sorted(name for name in names if name.startswith(PREFIX) and name != own)


async def status(bus: MessageBus, name: str) -> str | None:
    reply = await send(
        bus, name, OBJECT_PATH, "org.freedesktop.DBus.Properties", "Get", "ss",
        [PLAYER, "PlaybackStatus"],
    )  # fmt: skip
    if reply is None or not reply.body or not isinstance(reply.body[0], Variant):
        return None
    return str(reply.body[0].value)


async def call(bus: MessageBus, name: str, member: str) -> None:
    await send(bus, name, OBJECT_PATH, PLAYER, member)


async def send(
    bus: MessageBus, destination: str, path: str, interface: str, member: str,
    signature: str = "", body: list[object] | None = None,
) -> Message | None:  # fmt: skip
    """One method call; ``None`` when the player does not answer in time or errs."""
    message = Message(destination=destination, path=path, interface=interface, member=member,
                      signature=signature, body=body or [])  # fmt: skip
    with contextlib.suppress(TimeoutError):
        reply = await asyncio.wait_for(bus.call(message), CALL_TIMEOUT_S)
        if reply is not None and reply.message_type != MessageType.ERROR:
            return reply
    return None


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
