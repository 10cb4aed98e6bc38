"""An MPRIS2 player on the D-Bus session bus while ``run`` plays: media keys, headset
buttons, desktop media widgets and ``playerctl -p voice_coach`` control the session.

The bus runs on a thread of its own with its own event loop (dbus-fast's asyncio
client), started beside the session, never before its first sound. A method call turns
into the key the user would press (``space``, ``n``, ``q``), pushed to the session's
``KeyReader``; what the bus reads (status, position, the rep) comes from ``LiveState``.
No bus, or one that fails: the session plays without media controls.

No ``from __future__ import annotations`` here: dbus-fast reads the D-Bus signature
strings (``-> "s"``) from the annotations as written.
"""

import asyncio
import contextlib
import os
import threading
from collections.abc import Callable
from typing import Any

from dbus_fast import BusType, Variant
from dbus_fast.aio import MessageBus
from dbus_fast.service import PropertyAccess, ServiceInterface, dbus_property, method

BUS_NAME = "org.mpris.MediaPlayer2.voice_coach.instance{pid}"
OBJECT_PATH = "/org/mpris/MediaPlayer2"
TRACK_ID = "/org/voice_coach/session"
WATCH_S = 0.2  # how often a change of status or rep is looked for and announced


class _Root(ServiceInterface):
    def __init__(self) -> None:
        super().__init__("org.mpris.MediaPlayer2")

    @method()
    def Raise(self) -> None:
        return None

    @method()
    def Quit(self) -> None:
        return None

    @dbus_property(access=PropertyAccess.READ)
    def CanQuit(self) -> "b":
        return False

    @dbus_property(access=PropertyAccess.READ)
    def CanRaise(self) -> "b":
        return False

    @dbus_property(access=PropertyAccess.READ)
    def HasTrackList(self) -> "b":
        return False

    @dbus_property(access=PropertyAccess.READ)
    def Identity(self) -> "s":
        return "voice-coach"

    @dbus_property(access=PropertyAccess.READ)
    def SupportedUriSchemes(self) -> "as":
        return []

    @dbus_property(access=PropertyAccess.READ)
    def SupportedMimeTypes(self) -> "as":
        return []


class _Player(ServiceInterface):
    def __init__(self, controls: "MediaControls") -> None:
        super().__init__("org.mpris.MediaPlayer2.Player")
        self._controls = controls

    @method()
    def Play(self) -> None:
        if self._controls.status() == "Paused":
            self._controls.press(" ")

    @method()
    def Pause(self) -> None:
        if self._controls.status() == "Playing":
            self._controls.press(" ")

    @method()
    def PlayPause(self) -> None:
        self._controls.press(" ")

    @method()
    def Stop(self) -> None:
        self._controls.press("q")

    @method()
    def Next(self) -> None:
        self._controls.press("n")

    @method()
    def Previous(self) -> None:
        return None

    @method()
    def Seek(self, offset: "x") -> None:
        return None

    @method()
    def SetPosition(self, track: "o", position: "x") -> None:
        return None

    @method()
    def OpenUri(self, uri: "s") -> None:
        return None

    @dbus_property(access=PropertyAccess.READ)
    def PlaybackStatus(self) -> "s":
        return self._controls.status()

    @dbus_property(access=PropertyAccess.READ)
    def Metadata(self) -> "a{sv}":
        return self._controls.metadata()

    @dbus_property(access=PropertyAccess.READ)
    def Position(self) -> "x":
        return round(self._controls.position_s() * 1_000_000)

    @dbus_property(access=PropertyAccess.READ)
    def Rate(self) -> "d":
        return 1.0

    @dbus_property(access=PropertyAccess.READ)
    def MinimumRate(self) -> "d":
        return 1.0

    @dbus_property(access=PropertyAccess.READ)
    def MaximumRate(self) -> "d":
        return 1.0

    @dbus_property(access=PropertyAccess.READ)
    def Volume(self) -> "d":
        return 1.0

    @dbus_property(access=PropertyAccess.READ)
    def CanGoNext(self) -> "b":
        return True

    @dbus_property(access=PropertyAccess.READ)
    def CanGoPrevious(self) -> "b":
        return False

    @dbus_property(access=PropertyAccess.READ)
    def CanPlay(self) -> "b":
        return True

    @dbus_property(access=PropertyAccess.READ)
    def CanPause(self) -> "b":
        return True

    @dbus_property(access=PropertyAccess.READ)
    def CanSeek(self) -> "b":
        return False

    @dbus_property(access=PropertyAccess.READ)
    def CanControl(self) -> "b":
        return True


class MediaControls:
    """The session as an MPRIS2 player, for as long as it is open.

    ``press`` hands a key to the session; ``status``, ``position_s`` and ``title`` read
    what it is doing now (from the session's thread: plain values, read whole).
    """

    def __init__(
        self,
        press: Callable[[str], None],
        status: Callable[[], str],
        position_s: Callable[[], float],
        title: Callable[[], str],
        *,
        length_s: float,
        album: str | None = None,
    ) -> None:
        self.press = press
        self.status = status
        self.position_s = position_s
        self._title = title
        self._length_s = length_s
        self._album = album
        self.name = BUS_NAME.format(pid=os.getpid())
        self.problem: str | None = None
        self.ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None

    def metadata(self) -> dict[str, Variant]:
        data = {
            "mpris:trackid": Variant("o", TRACK_ID),
            "mpris:length": Variant("x", round(self._length_s * 1_000_000)),
            "xesam:title": Variant("s", self._title()),
            "xesam:artist": Variant("as", ["voice-coach"]),
        }
        if self._album:
            data["xesam:album"] = Variant("s", self._album)
        return data

    def start(self) -> None:
        """Connect on a thread of its own; returns at once."""
        self._thread = threading.Thread(target=self._run, name="mpris", daemon=True)
        self._thread.start()

    def close(self) -> None:
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # it closed meanwhile: nothing to stop
                loop.call_soon_threadsafe(stop.set)
        if self._thread is not None:
            self._thread.join(timeout=2)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except Exception as exc:  # no bus, a bus that fails: the session plays on
            self.problem = f"{type(exc).__name__}: {exc}"
        finally:
            self.ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        bus = await MessageBus(bus_type=BusType.SESSION).connect()
        try:
            player = _Player(self)
            bus.export(OBJECT_PATH, _Root())
            bus.export(OBJECT_PATH, player)
            await bus.request_name(self.name)
            self.ready.set()
            await self._watch(player)
        finally:
            bus.disconnect()

    async def _watch(self, player: _Player) -> None:
        """Announce each change of status or title (what a widget shows) as it happens."""
        shown: dict[str, Any] = {}
        while not self._stop.is_set():  # type: ignore[union-attr]
            now = {"PlaybackStatus": self.status(), "title": self._title()}
            changed = {}
            if now["PlaybackStatus"] != shown.get("PlaybackStatus"):
                changed["PlaybackStatus"] = now["PlaybackStatus"]
            if now["title"] != shown.get("title"):
                changed["Metadata"] = self.metadata()
            if changed and shown:
                player.emit_properties_changed(changed)
            shown = now
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), WATCH_S)  # type: ignore[union-attr]
