"""Other applications' sound lowered under each word and tone of a live session.

The sound server (PulseAudio, or PipeWire through its PulseAudio interface) holds every
application's stream; pulsectl sets their volumes. A thread follows what the user hears
(the session's own clock) and, since the timeline says where every word and tone will
be, lowers the other streams before each one begins and raises them after it ends, on
the same envelope an exported music bed gets (``audio.music``): raised-cosine ramps, a
duck held through gaps shorter than ``DUCK_HOLD_S``.

Put back exactly, whatever happens: each stream's per-channel volume is saved before its
first change and set back on every way out, unless the user changed it meanwhile (then
the user's wins). What is changed is written at once to a state file in the runtime
folder; a watcher process in its own session (``watcher.py``) restores from it when this
process dies, even by ``kill -9``, and the next session restores from any file whose
process and watcher both died. The server remembers volumes per application, so a
player left lowered would start quiet next time.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from voice_coach.coach.settings import DEFAULT_DUCK_DB
from voice_coach.i18n import _

if TYPE_CHECKING:
    from voice_coach.core.timeline import Timeline

TICK_S = 0.02  # how often the volumes follow the session: ramps in steps this short
SLEW_S = 0.1  # a duck never moves from none to full faster (a pause or a skip): no click
SETTLE_S = 0.3  # the longest a session waits for other sound to be lowered before a cue at 0
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


def duck_envelope(timeline: Timeline) -> Callable[[float], float]:
    """How far to duck (0 to 1) at each moment of the session: the envelope an exported
    music bed gets, to the millisecond."""
    from voice_coach.audio.music import duck_weights, word_spans

    spans = word_spans(timeline)

    def weight_at(t_s: float) -> float:
        return float(duck_weights(spans, 1000, round(t_s * 1000), 1)[0])

    return weight_at


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


def volumes(pulse: Any) -> dict[int, Playing]:
    """Every application's stream on the server, by its index."""
    own = str(os.getpid())
    found = {}
    for stream in pulse.sink_input_list():
        props = stream.proplist
        name = props.get("application.name") or stream.name or str(stream.index)
        raw = [round(value * VOLUME_NORM) for value in stream.volume.values]
        found[stream.index] = Playing(
            name,
            stream.sink,
            raw,
            props.get("application.process.id") == own,
        )
    return found


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


def set_volume(pulse: Any, index: int, raw: Sequence[int]) -> None:
    import pulsectl

    with contextlib.suppress(pulsectl.PulseOperationFailed):  # the stream ended meanwhile
        pulse.sink_input_volume_set(
            index, pulsectl.PulseVolumeInfo([value / VOLUME_NORM for value in raw])
        )


def restore(pulse: Any, streams: Sequence[Ducked]) -> int:
    """Each stream still at the volume voice-coach set put back to its saved one; a
    stream the user changed meanwhile, or that ended, left alone. How many were."""
    now = volumes(pulse)
    restored = 0
    for stream in streams:
        found = now.get(stream.index)
        if found is not None and found.name == stream.name and stream.ours(found.raw):
            if not same_volume(found.raw, stream.saved):
                set_volume(pulse, stream.index, stream.saved)
            restored += 1
    return restored


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
    """State files of sessions whose process is gone (and whose watcher did not restore)."""
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
    """What an earlier session left lowered (it and its watcher were killed) put back."""
    for path in left_behind():
        with contextlib.suppress(OSError):
            restore_from(path)


class Ducker:
    """Lowers the other streams while a session plays, from a thread of its own.

    ``start()`` reaches the server; ``follow(timeline)`` gives the session to follow.
    ``heard_s`` is what the user hears now; ``playing`` whether the session is playing
    (paused, the music comes back).

    The envelope is read at ``heard_s`` itself, with no look-ahead of its own: the
    server applies a stream's volume where it mixes, and the session's words pass the
    same mix, so whatever the sink's latency, both reach the ear after it
    (docs/internals.md has the measurement).
    """

    def __init__(
        self,
        heard_s: Callable[[], float],
        playing: Callable[[], bool],
        duck_db: float = DEFAULT_DUCK_DB,
    ) -> None:
        self.weight_at: Callable[[float], float] | None = None
        self.heard_s = heard_s
        self.playing = playing
        self.duck_db = duck_db
        self.problem: str | None = None
        self.state_path = state_folder() / f"{STATE_PREFIX}{os.getpid()}.json"
        self._streams: dict[int, Ducked] = {}
        self._weight = 0.0
        self._stop = threading.Event()
        self._settled = threading.Event()  # lowered as the session's start wants, or given up
        self._thread: threading.Thread | None = None
        self._pulse: Any = None
        self._sink: int | None = None  # where the session plays: only sound there is lowered
        self._watcher: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Connect and follow the session on a thread of its own; returns at once."""
        self._thread = threading.Thread(target=self._run, name="ducking", daemon=True)
        self._thread.start()

    def follow(self, timeline: Timeline) -> None:
        """Follow ``timeline`` from now on. Where other sound plays and a cue comes at the
        very start, return once it is lowered (the ramp's length, at most ``SETTLE_S``):
        the first tone is not heard over the music while the duck catches up."""
        self.weight_at = duck_envelope(timeline)
        self._settled.wait(SETTLE_S)

    def close(self) -> None:
        """Stop following the session and put every stream back."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._pulse is not None:
            with contextlib.suppress(Exception):  # the server went away: the watcher tries
                restore(self._pulse, list(self._streams.values()))
                self.state_path.unlink(missing_ok=True)
            self._pulse.close()
            self._pulse = None
        if self._watcher is not None:
            self._watcher.stdin.close()  # type: ignore[union-attr]  # the watcher ends
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._watcher.wait(timeout=2)

    def _run(self) -> None:
        try:
            self._pulse = connect()
            self._sink = session_sink(self._pulse)
            while not self._stop.wait(TICK_S):
                self._follow()
        except Exception as exc:  # no server, or one that failed: the session plays on
            self.problem = str(exc) or type(exc).__name__
        finally:
            self._settled.set()

    def _follow(self) -> None:
        weight_at = self.weight_at
        target = 0.0
        if weight_at is not None and self.playing():
            target = weight_at(self.heard_s())
        step = TICK_S / SLEW_S
        self._weight = min(max(target, self._weight - step), self._weight + step)
        if weight_at is not None and self._weight == target:
            self._settled.set()
        if self._weight <= 0.0 and not self._streams:
            return
        now = volumes(self._pulse)
        sink = next((found.sink for found in now.values() if found.own), self._sink)
        changed = False
        for index in list(self._streams):
            found = now.get(index)
            if found is None or not self._streams[index].ours(found.raw):
                del self._streams[index]  # it ended, or the user set it: theirs wins
                changed = True
        changes = []
        for index, found in now.items():
            if found.own or (index not in self._streams and self._weight <= 0.0):
                continue
            if index not in self._streams and sink is not None and found.sink != sink:
                continue  # sound on another device does not cover the session's words
            stream = self._streams.setdefault(
                index, Ducked(index, found.name, found.raw, found.raw)
            )
            wanted = ducked_volume(stream.saved, self.duck_db, self._weight)
            if wanted != stream.set:
                stream.was, stream.set = stream.set, wanted
                changes.append(stream)
        if changes and self._watcher is None:
            self._watcher = start_watcher(self.state_path)  # before the first change
        if changes or changed:
            self._write()  # before the server hears of it: a death between leaves both
        for stream in changes:
            set_volume(self._pulse, stream.index, stream.set)
        if self._weight <= 0.0:
            self._streams.clear()  # all back: the next duck saves what is there then
            self._write()

    def _write(self) -> None:
        if self._streams:
            write_state(self.state_path, list(self._streams.values()))
        else:
            self.state_path.unlink(missing_ok=True)


def start_watcher(state_path: Path) -> subprocess.Popen[bytes]:
    """The watcher (``watcher.py``) in a session of its own: it restores from
    ``state_path`` once this process's end closes the pipe to it."""
    return subprocess.Popen(
        [sys.executable, "-m", "voice_coach.desktop.watcher", str(state_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
