"""The cover a phone shows beside a session: drawn here, or the user's own, checked.

Podcast directories ask for a square image of 1400 to 3000 px; the drawn one is 1400 px
(the smallest they take: a small PNG, quick to draw on every export). Pillow is imported
only here, and only when a file is tagged.
"""

from __future__ import annotations

import io
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from voice_coach.errors import UsageError
from voice_coach.i18n import _

if TYPE_CHECKING:
    from PIL import ImageFont

COVER_PX = 1400
MIN_COVER_PX = 300
MAX_COVER_PX = 5000
COVER_KINDS = {"PNG": "image/png", "JPEG": "image/jpeg"}
FONT_FILE = "DejaVuSans-Bold.ttf"  # found by name in the system's font folders
_BACKGROUND = (20, 74, 92)
_ACCENT = (242, 178, 76)
_TEXT = (250, 250, 247)


@dataclass(frozen=True)
class Cover:
    """An image's bytes as they go into a file, with what a tag must say about them."""

    data: bytes
    mime: str
    width: int
    height: int


def draw_cover(title: str, size_px: int = COVER_PX) -> Cover:
    """A square PNG: the session's title, large, on a calm background, and the program's
    name below."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (size_px, size_px), _BACKGROUND)
    draw = ImageDraw.Draw(image)
    unit = size_px / 100
    draw.ellipse((68 * unit, 68 * unit, 128 * unit, 128 * unit), fill=_ACCENT)
    lines = textwrap.wrap(title, width=14)[:4] or [""]
    font = _font(round(11 * unit))
    top = 58 * unit - len(lines) * 13 * unit
    for index, line in enumerate(lines):
        draw.text((8 * unit, top + index * 13 * unit), line, font=font, fill=_TEXT)
    small = _font(round(4.5 * unit))
    draw.text((8 * unit, 88 * unit), "voice-coach", font=small, fill=_ACCENT)
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=6)
    return Cover(out.getvalue(), "image/png", size_px, size_px)


def _font(size_px: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """DejaVu Sans Bold (Debian's fonts-dejavu-core, which setup installs): it has every
    letter of the shipped languages, where Pillow's own font has ASCII only. Without it,
    Pillow's font still draws a cover."""
    from PIL import ImageFont

    try:
        return ImageFont.truetype(FONT_FILE, size_px)
    except OSError:
        return ImageFont.load_default(size=size_px)


def read_cover(path: Path) -> Cover:
    """The user's ``--cover``: a PNG or JPEG of 300 to 5000 px a side, else a one-line
    error before anything is written."""
    from PIL import Image, UnidentifiedImageError

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(
            _("--cover {path}: cannot be read ({value})").format(
                path=path, value=exc.strerror or exc
            )
        ) from None
    try:
        with Image.open(io.BytesIO(data)) as image:
            kind, (width, height) = image.format, image.size
            image.verify()  # a truncated or damaged file fails here, not in a phone
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        reason = "not an image" if isinstance(exc, UnidentifiedImageError) else f"damaged: {exc}"
        raise UsageError(
            _("--cover {path}: {reason}").format(path=path, reason=reason),
            _("give a PNG or JPEG file"),
        ) from None
    if kind not in COVER_KINDS:
        raise UsageError(
            _("--cover {path}: is {kind}, not PNG or JPEG").format(path=path, kind=kind),
            _("convert it to PNG"),
        )
    if min(width, height) < MIN_COVER_PX or max(width, height) > MAX_COVER_PX:
        raise UsageError(
            _("--cover {path}: is {width} x {height} px").format(
                path=path, width=width, height=height
            ),
            _(
                "a cover must be {MIN_COVER_PX} to {MAX_COVER_PX} px a side (1400 to 3000 suits "
                "podcast apps)"
            ).format(MIN_COVER_PX=MIN_COVER_PX, MAX_COVER_PX=MAX_COVER_PX),
        )
    return Cover(data, COVER_KINDS[kind], width, height)
