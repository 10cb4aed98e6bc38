"""``--others pause``: the other media players on the session bus (MPRIS2) that are
playing are paused while the session plays, and those, only those, resumed at its end;
a player the user paused or resumed by hand meanwhile is left as the user left it.

dbus-fast's asyncio client on a thread of its own, as ``mpris.py`` runs the session's
own player; imported only when this mode is chosen.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading

from dbus_fast import BusType, Message, MessageType, Variant
from dbus_fast.aio import MessageBus

from voice_coach.desktop.mpris import BUS_NAME, OBJECT_PATH

PREFIX = "org.mpris.MediaPlayer2."
PLAYER = "org.mpris.MediaPlayer2.Player"
CALL_TIMEOUT_S = 2.0


class PausedPlayers:
    """Pauses the playing players on ``follow()`` (the session is about to play);
    resumes them on ``close()``."""

    def __init__(self) -> None:
        self.problem: str | None = None
        self.paused: list[str] = []  # the bus names this session paused
        self._own = BUS_NAME.format(pid=os.getpid())
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Nothing yet: a session that fails to start pauses nobody."""

    def follow(self, timeline: object) -> None:
        """Pause on a thread of its own; returns at once."""
        self._thread = threading.Thread(target=self._pause, name="players", daemon=True)
        self._thread.start()

    def close(self) -> None:
        if self._thread is not None:
            self._thread.join(timeout=2 * CALL_TIMEOUT_S)
        if self.paused:
            try:
                asyncio.run(self._resume())
            except Exception as exc:  # the bus went away: nothing left to resume
                self.problem = self.problem or str(exc) or type(exc).__name__

    def _pause(self) -> None:
        try:
            asyncio.run(self._pause_playing())
        except Exception as exc:  # no bus, or one that fails: the session plays on
            self.problem = str(exc) or type(exc).__name__

    async def _pause_playing(self) -> None:
        bus = await _connect()
        try:
            for name in await _players(bus, self._own):
                if await _status(bus, name) == "Playing":
                    await _call(bus, name, "Pause")
                    self.paused.append(name)
        finally:
            bus.disconnect()

    async def _resume(self) -> None:
        bus = await _connect()
        try:
            present = set(await _players(bus, self._own))
            for name in self.paused:
                # Resumed by hand meanwhile, or stopped: the user's choice stands.
                if name in present and await _status(bus, name) == "Paused":
                    await _call(bus, name, "Play")
        finally:
            bus.disconnect()


async def _connect() -> MessageBus:
    return await asyncio.wait_for(MessageBus(bus_type=BusType.SESSION).connect(), CALL_TIMEOUT_S)


async def _players(bus: MessageBus, own: str) -> list[str]:
    reply = await _send(
        bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "ListNames"
    )
    names = reply.body[0] if reply is not None else []
    return sorted(name for name in names if name.startswith(PREFIX) and name != own)


async def _status(bus: MessageBus, name: str) -> str | None:
    reply = await _send(
        bus, name, OBJECT_PATH, "org.freedesktop.DBus.Properties", "Get", "ss",
        [PLAYER, "PlaybackStatus"],
    )  # fmt: skip
    if reply is None or not reply.body or not isinstance(reply.body[0], Variant):
        return None
    return str(reply.body[0].value)


async def _call(bus: MessageBus, name: str, member: str) -> None:
    await _send(bus, name, OBJECT_PATH, PLAYER, member)


async def _send(
    bus: MessageBus, destination: str, path: str, interface: str, member: str,
    signature: str = "", body: list[object] | None = None,
) -> Message | None:  # fmt: skip
    """One method call; ``None`` when the player does not answer in time or errs (a
    player that hangs must not hold the session)."""
    message = Message(destination=destination, path=path, interface=interface, member=member,
                      signature=signature, body=body or [])  # fmt: skip
    with contextlib.suppress(TimeoutError):
        reply = await asyncio.wait_for(bus.call(message), CALL_TIMEOUT_S)
        if reply is not None and reply.message_type != MessageType.ERROR:
            return reply
    return None
