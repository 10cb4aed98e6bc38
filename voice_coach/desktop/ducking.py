"""Other applications' sound lowered under each word and tone of a live session.

The sound server (PulseAudio, or PipeWire through its PulseAudio interface) holds every
application's stream; pulsectl sets their volumes. The ducking is done by a process of
its own (``ducking_process.py``, started by ``Ducker``), so it never waits on the
session's work nor the session on it: it follows what the user hears (the session's
clock, sent to it) and, since the timeline says where every word and tone will be,
lowers the other streams before each one begins and raises them after it ends, on the
same envelope an exported music bed gets (``audio.music``): raised-cosine ramps, a duck
held through gaps shorter than ``DUCK_HOLD_S``.

Put back exactly, whatever happens: each stream's per-channel volume is saved before its
first change and set back on every way out, unless the user changed it meanwhile (then
the user's wins). What is changed is written at once to a state file in the runtime
folder; the ducking process restores from it when the session's pipe closes, even after
``kill -9`` of the session, and the next session restores from any file whose session
and ducking process both died. The server remembers volumes per application
(module-stream-restore), so a player that quits while lowered would start quiet next
time: what it remembers for that player is put back too (``forget_lowered``).
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from voice_coach.desktop.helper import Helper
from voice_coach.i18n import _

if TYPE_CHECKING:
    from voice_coach.core.timeline import Timeline

TICK_S = 0.02  # how often the volumes follow the session: ramps in steps this short
SLEW_S = 0.1  # a duck never moves from none to full faster (a pause or a skip): no click
VOLUME_NORM = 0x10000  # the server's 100%; its volumes are on a cubic scale of amplitude
STATE_PREFIX = "ducked-"


@dataclass
class Ducked:
    """One stream voice-coach has lowered: its volume before, the one last set, and
    the one set before that (a state file is written before the volumes are set, so a
    process killed between the two leaves the stream at either)."""

    index: int
    name: str
    saved: list[int]
    set: list[int]
    was: list[int] | None = None
    remembered: str | None = None  # its entry in the server's memory of volumes, if any
    channels: list[str] | None = None  # its channel map, to write that entry anew

    def ours(self, raw: Sequence[int]) -> bool:
        """Whether ``raw`` is a volume voice-coach set (not one the user chose since)."""
        return same_volume(raw, self.set) or (self.was is not None and same_volume(raw, self.was))


def ducked_volume(saved: Sequence[int], duck_db: float, weight: float) -> list[int]:
    """Each channel lowered by ``weight`` of ``duck_db`` decibels: the server's volumes
    are the cube root of amplitude, so a third of the decibels on its scale."""
    factor = 10 ** (-duck_db * weight / 60)
    return [round(value * factor) for value in saved]


def same_volume(a: Sequence[int], b: Sequence[int]) -> bool:
    """Equal but for the server's rounding (a volume it stores can differ by a step)."""
    return len(a) == len(b) and all(abs(x - y) <= 1 for x, y in zip(a, b, strict=True))


def state_folder() -> Path:
    from voice_coach.userdirs import runtime_dir

    return runtime_dir()


def write_state(path: Path, streams: Sequence[Ducked]) -> None:
    """The streams lowered now, replacing the file whole (a reader never sees half)."""
    from voice_coach.coach.log import make_private_folder

    make_private_folder(path.parent)
    part = path.with_name(path.name + ".part")
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        json.dump({"pid": os.getpid(), "streams": [asdict(s) for s in streams]}, file)
    part.replace(path)


def read_state(path: Path) -> list[Ducked]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return [Ducked(**stream) for stream in data["streams"]]
    except (OSError, ValueError, KeyError, TypeError):
        return []


def connect() -> Any:
    """A pulsectl client of the sound server; ``OSError`` with the reason if there is none.

    No ``timeout``: pulsectl then polls for the whole of it even once connected."""
    import pulsectl

    pulse = pulsectl.Pulse("voice-coach", connect=False)
    try:
        pulse.connect(autospawn=False)
    except pulsectl.PulseError as exc:
        pulse.close()
        raise OSError(_("no sound server (PulseAudio or PipeWire) reached")) from exc
    return pulse


@dataclass(frozen=True)
class Playing:
    """A stream on the server: whose, where it plays, and its per-channel volume."""

    name: str
    sink: int
    raw: list[int]
    own: bool  # this process's own (never lowered)
    remembered: str | None = None  # module-stream-restore's name for its volume
    channels: list[str] | None = None  # its channel map ("front-left", ...)


def volumes(pulse: Any, session_pid: int | None = None) -> dict[int, Playing]:
    """Every application's stream on the server, by its index; ``own`` marks the
    session's (``session_pid``, by default this process)."""
    own = str(session_pid or os.getpid())
    found = {}
    for stream in pulse.sink_input_list():
        props = stream.proplist
        name = props.get("application.name") or stream.name or str(stream.index)
        raw = raw_volume(stream.volume)
        found[stream.index] = Playing(
            name,
            stream.sink,
            raw,
            props.get("application.process.id") == own,
            props.get("module-stream-restore.id"),
            list(stream.channel_list),
        )
    return found


def others_on(now: dict[int, Playing], sink: int | None) -> bool:
    """Whether another application plays on ``sink`` (on any, where it is not known)."""
    return any(not found.own and sink in (None, found.sink) for found in now.values())


def session_sink(pulse: Any) -> int | None:
    """The sink a session of this process will play on before its stream exists: the
    one ``PULSE_SINK`` names, else the server's default."""
    name = os.environ.get("PULSE_SINK") or pulse.server_info().default_sink_name
    return next((sink.index for sink in pulse.sink_list() if sink.name == name), None)


def check_ducking() -> str:
    """What ``doctor`` says of lowering other sound: the server reached and what it is;
    ``OSError`` with the reason where there is none."""
    pulse = connect()
    try:
        info = pulse.server_info()
        return _("{server} {version}: run lowers other sound under its words").format(
            server=info.server_name, version=info.server_version
        )
    finally:
        pulse.close()


def raw_volume(volume: Any) -> list[int]:
    """A pulsectl volume (fractions of 100%) as the server's own per-channel integers."""
    return [round(value * VOLUME_NORM) for value in volume.values]


def pulse_volume(raw: Sequence[int]) -> Any:
    """The server's per-channel integers as a pulsectl volume."""
    import pulsectl

    return pulsectl.PulseVolumeInfo([value / VOLUME_NORM for value in raw])


def current_volume(pulse: Any, index: int) -> list[int] | None:
    """One stream's per-channel volume now; ``None`` if it has ended."""
    import pulsectl

    try:
        return raw_volume(pulse.sink_input_info(index).volume)
    except pulsectl.PulseIndexError:
        return None


def set_volume(pulse: Any, index: int, raw: Sequence[int]) -> None:
    import pulsectl

    with contextlib.suppress(pulsectl.PulseOperationFailed):  # the stream ended meanwhile
        pulse.sink_input_volume_set(index, pulse_volume(raw))


def restore(
    pulse: Any, streams: Sequence[Ducked], session_pid: int | None = None, *, followed: bool = False
) -> None:
    """Each stream still at the volume voice-coach set put back to its saved one; a
    stream the user changed meanwhile left alone; one that ended, its remembered volume
    put back (``forget_lowered``; ``followed`` where the streams were followed until now)."""
    now = volumes(pulse, session_pid)
    for stream in streams:
        found = now.get(stream.index)
        if found is None or found.name != stream.name:
            forget_lowered(pulse, stream, followed=followed)
        elif stream.ours(found.raw) and not same_volume(found.raw, stream.saved):
            set_volume(pulse, stream.index, stream.saved)


def forget_lowered(pulse: Any, stream: Ducked, *, followed: bool = False) -> None:
    """For a stream that ended while lowered: the server remembers the volume it ended
    with for its application, and would start it that quiet next time; that memory is
    put back to the saved volume, unless it holds one the user set. A server without
    the memory is left alone.

    PulseAudio's memory (module-stream-restore) is read first. PipeWire's (WirePlumber's)
    cannot be: its PulseAudio interface lists only what clients wrote there, maybe long
    ago, but takes what is written. So there it is written only for a stream followed
    until it ended (``followed``: seen at the session's volume a tick before), as what
    is remembered then is the session's own."""
    import pulsectl

    if stream.remembered is None or same_volume(stream.set, stream.saved):
        return
    with contextlib.suppress(pulsectl.PulseError):
        if on_pipewire(pulse):
            if not followed or stream.channels is None:
                return
            entry = pulsectl.PulseExtStreamRestoreInfo(
                stream.remembered, pulse_volume(stream.saved), stream.channels
            )
        else:
            listed = pulse.stream_restore_list()
            entry = next((e for e in listed if e.name == stream.remembered), None)
            if entry is None or len(entry.volume.values) != len(stream.saved):
                return
            if not stream.ours(raw_volume(entry.volume)):
                return
            entry.volume = pulse_volume(stream.saved)
        pulse.stream_restore_write(entry, mode="replace")  # "merge" keeps the old entry


def on_pipewire(pulse: Any) -> bool:
    """Whether the server is PipeWire's PulseAudio interface (pipewire-pulse)."""
    return "PipeWire" in pulse.server_info().server_name


def restore_from(path: Path) -> None:
    """Put back what a state file says was lowered, then remove it."""
    streams = read_state(path)
    if streams:
        pulse = connect()
        try:
            restore(pulse, streams)
        finally:
            pulse.close()
    path.unlink(missing_ok=True)


def left_behind(folder: Path | None = None) -> list[Path]:
    """State files of sessions whose process is gone (and whose ducking process did not restore)."""
    folder = folder if folder is not None else state_folder()
    found = []
    for path in sorted(folder.glob(STATE_PREFIX + "*.json")) if folder.is_dir() else []:
        try:
            pid = int(path.stem.removeprefix(STATE_PREFIX))
            os.kill(pid, 0)
        except ValueError:
            continue
        except ProcessLookupError:
            found.append(path)
        except PermissionError:  # a process of another user took the number
            found.append(path)
    return found


def restore_left_behind() -> None:
    """What an earlier session left lowered (it and its ducking process were killed) put back."""
    for path in left_behind():
        with contextlib.suppress(OSError):
            restore_from(path)


class Ducker:
    """Lowers the other streams while a session plays, from a process of its own (the
    ducking process, ``ducking_process.py``), so its work never waits on this one's: the
    session's first sound is not delayed by it, and it puts everything back when this
    process ends, however it ends (``kill -9`` included).

    ``start()`` starts the process, which reaches the server while the session is
    prepared and its device opened; ``follow(timeline)``, just before the device plays,
    gives it the words' spans; a thread then tells it, every ``TICK_S``, what the user
    hears (``heard_s``) and whether the session plays (``playing``; paused, the music
    comes back). ``close()`` asks it to put everything back and waits until it has.
    """

    def __init__(
        self,
        heard_s: Callable[[], float],
        playing: Callable[[], bool],
        duck_db: float,
    ) -> None:
        self.heard_s = heard_s
        self.playing = playing
        self.problem: str | None = None
        state = state_folder() / f"{STATE_PREFIX}{os.getpid()}.json"
        self._helper = Helper(
            "voice_coach.desktop.ducking_process", str(state), str(os.getpid()), str(duck_db)
        )
        self._stop = threading.Event()
        self._clock: threading.Thread | None = None

    def start(self) -> None:
        self._helper.start()

    def follow(self, timeline: Timeline) -> None:
        """Give the ducking process the session. Where other sound plays, return once it
        is lowered as the start wants (at most ``helper.SETTLE_S``), so a cue at 0 is not
        heard over the music while the duck catches up; where none does, at once."""
        from voice_coach.audio.music import word_spans

        if not self._helper.send({"follow": word_spans(timeline)}):
            return
        self._clock = threading.Thread(target=self._tell_the_time, name="ducking", daemon=True)
        self._clock.start()
        self._helper.wait_until(may_begin)

    def close(self) -> None:
        """Put every stream back (the ducking process does, and ends) before returning."""
        self._stop.set()
        if self._clock is not None:
            self._clock.join(timeout=1)
        self._helper.finish()
        self.problem = self._helper.problem()

    def _tell_the_time(self) -> None:
        while not self._stop.wait(TICK_S):
            clock = [self.heard_s(), time.monotonic(), self.playing()]
            if not self._helper.send({"clock": clock}):
                return


def may_begin(said: dict[str, object]) -> bool:
    """Whether the session may start: nothing to lower, or lowered, or no server."""
    return "problem" in said or said.get("others") is False or "settled" in said


class Follower:
    """The ducking itself, in the ducking process: follows the session's clock as the
    session reports it, lowers the other streams on the session's sink on the
    envelope, and keeps the state file true before every change.

    The envelope is read at what the user hears, with no look-ahead of its own: the
    server applies a stream's volume where it mixes, and the session's words pass the
    same mix, so whatever the sink's latency, both reach the ear after it
    (docs/internals.md has the measurement).
    """

    def __init__(self, pulse: Any, session_pid: int, duck_db: float, state_path: Path) -> None:
        self.pulse = pulse
        self.session_pid = session_pid
        self.duck_db = duck_db
        self.state_path = state_path
        self.weight_at: Callable[[float], float] | None = None
        self.clock: tuple[float, float, bool] = (0.0, time.monotonic(), True)
        self.settled = False
        self._streams: dict[int, Ducked] = {}
        self._weight = 0.0
        self._sink = session_sink(pulse)  # where the session plays: only sound there is lowered

    def others_playing(self) -> bool:
        """Whether another application's stream plays where the session will."""
        now = volumes(self.pulse, self.session_pid)
        return others_on(now, self._session_sink(now))

    def follow(self, spans: Sequence[tuple[float, float]]) -> None:
        from voice_coach.audio.music import duck_weights

        def weight_at(t_s: float) -> float:
            return float(duck_weights(spans, 1000, round(t_s * 1000), 1)[0])

        self.weight_at = weight_at

    def heard_s(self) -> float:
        """What the user hears now: the session's last report, run on while it plays."""
        heard, at, playing = self.clock
        return heard + (time.monotonic() - at) if playing else heard

    def tick(self) -> None:
        weight_at = self.weight_at
        target = 0.0
        if weight_at is not None and self.clock[2]:
            target = weight_at(self.heard_s())
        step = TICK_S / SLEW_S
        self._weight = min(max(target, self._weight - step), self._weight + step)
        now = volumes(self.pulse, self.session_pid)
        sink = self._session_sink(now)
        if weight_at is not None and (self._weight == target or not others_on(now, sink)):
            self.settled = True  # lowered as the start wants, or nothing here to lower
        if self._weight <= 0.0 and not self._streams:
            return
        changed = False
        for index in list(self._streams):
            found = now.get(index)
            if found is None:  # it ended: not remembered lowered
                forget_lowered(self.pulse, self._streams.pop(index), followed=True)
                changed = True
            elif not self._streams[index].ours(found.raw):
                del self._streams[index]  # the user set it: theirs wins
                changed = True
        changes = []
        for index, found in now.items():
            if found.own or (index not in self._streams and self._weight <= 0.0):
                continue
            if index not in self._streams and sink is not None and found.sink != sink:
                continue  # sound on another device does not cover the session's words
            first = Ducked(
                index,
                found.name,
                saved=found.raw,
                set=found.raw,
                remembered=found.remembered,
                channels=found.channels,
            )
            stream = self._streams.setdefault(index, first)
            wanted = ducked_volume(stream.saved, self.duck_db, self._weight)
            if wanted != stream.set:
                stream.was, stream.set = stream.set, wanted
                changes.append(stream)
        if changes or changed:
            self._write()  # before the server hears of it: a death between leaves both
        for stream in changes:
            # Read again just before setting: a volume the user set since ``now`` was
            # read would otherwise be overwritten, and then restored to the saved one.
            # The server has no compare-and-set; this leaves one round trip open.
            if stream.ours(current_volume(self.pulse, stream.index) or stream.set):
                set_volume(self.pulse, stream.index, stream.set)
            else:
                del self._streams[stream.index]
                self._write()
        if self._weight <= 0.0:
            self._streams.clear()  # all back: the next duck saves what is there then
            self._write()

    def _session_sink(self, now: dict[int, Playing]) -> int | None:
        """Where the session plays: its stream's sink once it has one."""
        return next((found.sink for found in now.values() if found.own), self._sink)

    def restore(self) -> None:
        restore(self.pulse, list(self._streams.values()), self.session_pid, followed=True)
        self._streams.clear()
        self.state_path.unlink(missing_ok=True)

    def _write(self) -> None:
        if self._streams:
            write_state(self.state_path, list(self._streams.values()))
        else:
            self.state_path.unlink(missing_ok=True)
