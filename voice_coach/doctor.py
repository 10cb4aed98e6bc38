"""``voice-coach doctor``: can a session be spoken and played here, and if not, why.

Each check passes or says how to fix it. The checks run the real parts (the engine
speaks a word, the device plays a tone) because a check that only looks for files would
pass on a machine where nothing works.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from voice_coach.errors import SpeechError, VoiceCoachError
from voice_coach.i18n import N_, _, decimal, ngettext

FIX_SPEECH = N_("install espeak-ng (Debian/Ubuntu: sudo apt-get install espeak-ng) and pyttsx3")
FIX_NEURAL = N_(
    "run ./scripts/setup (it installs piper-tts and the joe voice); without it, sessions "
    "speak with espeak-ng"
)
FIX_AUDIO = N_(
    "install PortAudio (Debian/Ubuntu: sudo apt-get install libportaudio2), check a sound "
    "device is connected, or export instead: voice-coach export -o session.wav"
)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    needed_to_play: bool = True


def run_checks(backend: str, silent: bool) -> list[Check]:
    """Every check, in the order a user would fix them."""
    checks = [_speech(), _neural(), _voices(), _cache()]
    checks += _backends()
    checks.append(_device(backend))
    checks.append(_tone(backend, silent))
    checks.append(_media_keys())
    checks.append(_other_sound())
    return checks


def _media_keys() -> Check:
    """Media keys need a session bus; a session plays without one."""
    from voice_coach.desktop import check_media_keys

    try:
        return Check(_("media keys"), True, check_media_keys(), needed_to_play=False)
    except Exception as exc:  # whatever stops it, the doctor names it
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        detail = _("none: {reason}").format(reason=reason)
        return Check(_("media keys"), False, detail, needed_to_play=False)


def _other_sound() -> Check:
    """Lowering other sound needs the sound server; a session plays without it."""
    try:
        from voice_coach.desktop.ducking import check_ducking

        return Check(_("other sound"), True, check_ducking(), needed_to_play=False)
    except Exception as exc:  # no server, no libpulse: the doctor names it
        detail = _("none: {reason}").format(reason=str(exc) or type(exc).__name__)
        return Check(_("other sound"), False, detail, needed_to_play=False)


def _guard(name: str, fix: str, body: Callable[[], str]) -> Check:
    name, fix = _(name), _(fix)
    try:
        return Check(name, True, body())
    except VoiceCoachError as exc:
        return Check(
            name, False, _("{problem}; fix: {fix}").format(problem=exc.one_line(), fix=fix)
        )
    except Exception as exc:  # a doctor reports every failure, whatever it is
        problem = f"{type(exc).__name__}: {exc}"
        return Check(name, False, _("{problem}; fix: {fix}").format(problem=problem, fix=fix))


def _speech() -> Check:
    def body() -> str:
        from voice_coach.speech.engine import SpeechSettings
        from voice_coach.speech.espeak import EspeakSpeaker, engine_identity

        with EspeakSpeaker(SpeechSettings()) as engine:
            clip = engine.synthesize("Squeeze")
        return _("{engine}; a test word took {seconds} s").format(
            engine=engine_identity(), seconds=decimal(clip.duration_s, 2)
        )

    return _guard(N_("speech engine"), FIX_SPEECH, body)


def _neural() -> Check:
    """Piper, the natural voice: optional, since espeak-ng speaks where it cannot."""

    def body() -> str:
        import time
        from importlib.metadata import version

        from voice_coach.speech.engine import PIPER, SpeechSettings, engine_for

        engine = engine_for(PIPER)
        voices = engine.voices()
        if not voices:
            raise SpeechError(_("no Piper voice is installed"))
        started = time.perf_counter()
        settings = SpeechSettings(voice_id=voices[0].id, engine=PIPER)
        with engine.speaker(settings) as speaker:
            clip = speaker.synthesize("Squeeze")
        took = time.perf_counter() - started
        ids = ", ".join(voice.id for voice in voices)
        return _(
            "piper-tts {version}; voices: {ids}; a test phrase ({length} s) took {took} s, "
            "loading the voice included"
        ).format(
            version=version("piper-tts"),
            ids=ids,
            length=decimal(clip.duration_s, 2),
            took=decimal(took, 2),
        )

    check = _guard(N_("neural speech"), FIX_NEURAL, body)
    return Check(check.name, check.ok, check.detail, needed_to_play=False)


def _voices() -> Check:
    def body() -> str:
        from voice_coach.speech.phrase_cache import installed_voices

        voices = installed_voices(refresh=True)
        languages = {lang.split("-")[0] for voice in voices for lang in voice.languages}
        neural = sum(voice.neural for voice in voices)
        return ngettext(
            "{n} voice ({neural} neural) in {languages} languages",
            "{n} voices ({neural} neural) in {languages} languages",
            len(voices),
        ).format(n=len(voices), neural=neural, languages=len(languages))

    return _guard(N_("voices"), FIX_SPEECH, body)


def _cache() -> Check:
    from voice_coach.speech.phrase_cache import default_cache_dir

    folder = default_cache_dir()
    files = [path for path in folder.glob("*") if path.is_file()] if folder.is_dir() else []
    size = sum(path.stat().st_size for path in files)
    count = ngettext("{n} file", "{n} files", len(files)).format(n=len(files))
    detail = f"{folder} ({count}, {size / 1024:.0f} KiB)"
    return Check(_("phrase cache"), True, detail, needed_to_play=False)


def _backends() -> list[Check]:
    from voice_coach.audio.playback import available_backends

    checks = []
    for name, problem in available_backends().items():
        if problem is None:
            label = _("back-end {name}").format(name=name)
            checks.append(Check(label, True, _("loads"), needed_to_play=False))
        else:
            label = _("back-end {name}").format(name=name)
            checks.append(Check(label, False, problem, needed_to_play=False))
    return checks


def _device(backend: str) -> Check:
    def body() -> str:
        from voice_coach.audio.playback import default_output_device
        from voice_coach.errors import AudioDeviceError

        device = default_output_device(backend)
        if device is None:
            raise AudioDeviceError(_("no output device for {backend}").format(backend=backend))
        return device

    return _guard(N_("output device"), FIX_AUDIO, body)


def _tone(backend: str, silent: bool) -> Check:
    def body() -> str:
        from voice_coach.audio.playback import play_test_tone, test_tone

        if silent:
            tone = test_tone(44_100, 1.0)
            samples = tone.read(0, tone.total_frames)
            return _("rendered a 1 s tone ({n} samples), not played (--silent)").format(
                n=len(samples)
            )
        play_test_tone(backend, 1.0)
        return _("played a 1 s tone through {backend}").format(backend=backend)

    return _guard(N_("test tone"), FIX_AUDIO, body)


def can_play(checks: list[Check]) -> bool:
    return all(check.ok for check in checks if check.needed_to_play)
