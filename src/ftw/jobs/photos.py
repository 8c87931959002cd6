"""A job photo's content: its type told from its bytes, and its metadata stripped.

Phones write the place a photo was taken (GPS EXIF) into it; a homeowner's photo served
to every contractor would give away where they live more exactly than the job's ZIP. Each
photo is decoded and written anew with Pillow, upright (the EXIF orientation applied) and
with no EXIF, XMP, ICC comments or text chunks. HEIC is not accepted: Pillow cannot rewrite
it, and browsers upload phone photos as JPEG.

The same decoded image gives the photo's WebP thumbnails (one decode per upload): pages show
them and link to the original, which is fetched only when someone opens it.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps

FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
# A 10 MB file may still decode to an enormous bitmap (a "decompression bomb"); a phone's
# largest photos are ~50 megapixels.
MAX_PIXELS = 64_000_000


class NotAnImage(ValueError):
    """The bytes do not decode as an image of the declared format."""


@dataclass(frozen=True)
class Thumbnail:
    width: int
    height: int
    data: bytes  # WebP


@dataclass(frozen=True)
class Rewritten:
    data: bytes  # the photo in its own format, without metadata
    thumbnails: list[Thumbnail]


def rewritten(data: bytes, mime: str, *, widths: list[int], quality: int) -> Rewritten:
    """``data`` written anew without metadata, in its own format, and its WebP thumbnails at
    each of ``widths`` (a photo narrower than one: at its own width, once)."""
    fmt = FORMATS.get(mime)
    if fmt is None:
        raise NotAnImage(mime)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[fmt]) as opened:
                if opened.width * opened.height > MAX_PIXELS:
                    raise NotAnImage("too many pixels")
                image = ImageOps.exif_transpose(opened)
                image.load()
    except (
        OSError,
        SyntaxError,
        ValueError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as exc:
        raise NotAnImage(str(exc)) from exc
    out = io.BytesIO()
    options: dict[str, object] = {"quality": 90} if fmt in ("JPEG", "WEBP") else {"optimize": True}
    if fmt == "JPEG" and image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    image.save(out, format=fmt, **options)  # no exif=, icc_profile= or pnginfo=: none is written
    sizes = sorted({min(width, image.width) for width in widths})
    return Rewritten(out.getvalue(), [_thumbnail(image, width, quality) for width in sizes])


def _thumbnail(image: Image.Image, width: int, quality: int) -> Thumbnail:
    height = max(1, round(image.height * width / image.width))
    small = (
        image
        if width == image.width
        else image.resize((width, height), Image.Resampling.LANCZOS, reducing_gap=3.0)
    )
    if small.mode not in ("RGB", "RGBA"):
        small = small.convert("RGBA" if "A" in small.getbands() or "transparency" in small.info else "RGB")
    out = io.BytesIO()
    small.save(out, format="WEBP", quality=quality, method=4)
    return Thumbnail(width, height, out.getvalue())
