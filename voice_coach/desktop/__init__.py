"""The desktop around a live session: media keys and headset buttons (MPRIS on D-Bus).

This module imports nothing heavy: ``mpris.py`` (dbus-fast) is imported only where a
session bus exists.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from voice_coach.i18n import _


def session_bus_here() -> bool:
    """A D-Bus session bus to offer media controls on: named, or at its usual place."""
    if os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        return True
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    return bool(runtime) and (Path(runtime) / "bus").exists()


def check_media_keys(timeout_s: float = 2.0) -> str:
    """What ``doctor`` says of media keys: the MPRIS name a session would take, once
    the bus has been reached; an error with the reason otherwise."""
    if not session_bus_here():
        raise RuntimeError(_("no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set)"))
    import asyncio

    from dbus_fast import BusType
    from dbus_fast.aio import MessageBus

    from voice_coach.desktop.mpris import BUS_NAME

    async def reach() -> None:
        bus = await asyncio.wait_for(MessageBus(bus_type=BusType.SESSION).connect(), timeout_s)
        bus.disconnect()

    asyncio.run(reach())
    return _("a session bus; run offers {name} (playerctl -p voice_coach)").format(
        name=BUS_NAME.format(pid="<PID>")
    )


@contextlib.contextmanager
def signals_end_the_session() -> Iterator[None]:
    """SIGTERM and SIGHUP (a closed terminal) end the session as Ctrl-C does, so every
    ``finally`` runs: the volumes are put back, the terminal restored, the log written."""
    import signal

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    before = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)
