"""Opaque keyset cursors: the sort key of the last row seen, never an offset."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from ftw.core.errors import Invalid


def encode(*values: Any) -> str:
    raw = json.dumps(values, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str, arity: int) -> list[Any]:
    """The values ``encode`` packed; a tampered or foreign cursor is a 422 on ``cursor``."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Invalid("Malformed cursor", field="cursor") from exc
    if not isinstance(values, list) or len(values) != arity:
        raise Invalid("Malformed cursor", field="cursor")
    return values


def decode_as(cursor: str, *kinds: type) -> list[Any]:
    """``decode`` with each value converted to its kind (datetimes from ISO text)."""
    values = decode(cursor, len(kinds))
    try:
        return [
            datetime.fromisoformat(v) if kind is datetime else kind(v)
            for kind, v in zip(kinds, values, strict=True)
        ]
    except (TypeError, ValueError) as exc:
        raise Invalid("Malformed cursor", field="cursor") from exc
