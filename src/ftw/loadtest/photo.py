"""The photo a journey uploads: a small real PNG, since the service decodes every photo (to
strip its metadata and make thumbnails) and refuses one it cannot read."""

from __future__ import annotations

import io

from PIL import Image


def png(width: int = 64, height: int = 48) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 120, 40)).save(buffer, "PNG")
    return buffer.getvalue()
