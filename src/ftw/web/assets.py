"""The web app's static files, served under content-hashed names.

Every file under ``static/`` is read once at start-up, named ``<stem>.<hash>.<ext>`` and
compressed ahead of time (brotli and gzip), so a request costs a dictionary look-up and a
send. A hashed name never changes content, so browsers may keep it for a year; a new
release changes the name instead.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path

import brotli
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

FOLDER = Path(__file__).parent / "static"
PREFIX = "/static"
FOREVER = "public, max-age=31536000, immutable"
_TEXT = (".css", ".js", ".svg", ".json", ".txt", ".webmanifest")


@dataclass(frozen=True)
class Asset:
    media_type: str
    identity: bytes
    gzip: bytes | None
    brotli: bytes | None


class Assets:
    """The files of one folder by hashed name, and the URL of each by its plain name."""

    def __init__(self, folder: Path = FOLDER) -> None:
        self._urls: dict[str, str] = {}
        self._files: dict[str, Asset] = {}
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            data = path.read_bytes()
            name = path.relative_to(folder).as_posix()
            hashed = f"{name.removesuffix(path.suffix)}.{hashlib.sha256(data).hexdigest()[:12]}{path.suffix}"
            text = path.suffix in _TEXT
            media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            if text:
                media_type += "; charset=utf-8"
            self._urls[name] = f"{PREFIX}/{hashed}"
            self._files[hashed] = Asset(
                media_type=media_type,
                identity=data,
                gzip=gzip.compress(data, 9, mtime=0) if text else None,
                brotli=brotli.compress(data, quality=11) if text else None,
            )

    @property
    def version(self) -> str:
        """One name for this set of files: changes when any of them does."""
        return hashlib.sha256("".join(sorted(self._files)).encode()).hexdigest()[:12]

    def names(self) -> list[str]:
        return sorted(self._urls)

    def url(self, name: str) -> str:
        """``/static/<hashed name>`` of ``name``; a KeyError names a file that does not exist."""
        return self._urls[name]

    def route(self) -> Route:
        return Route(PREFIX + "/{name:path}", self._serve, methods=["GET", "HEAD"], name="static")

    async def _serve(self, request: Request) -> Response:
        asset = self._files.get(request.path_params["name"])
        if asset is None:
            return Response("Not found", status_code=404, media_type="text/plain")
        headers = {"Cache-Control": FOREVER, "Vary": "Accept-Encoding", "X-Content-Type-Options": "nosniff"}
        accepted = request.headers.get("accept-encoding", "")
        body = asset.identity
        if asset.brotli is not None and "br" in accepted:
            body, headers["Content-Encoding"] = asset.brotli, "br"
        elif asset.gzip is not None and "gzip" in accepted:
            body, headers["Content-Encoding"] = asset.gzip, "gzip"
        return Response(body, media_type=asset.media_type, headers=headers)

    def weight(self, name: str) -> int:
        """Bytes a browser downloads for ``name`` (its brotli form when it has one)."""
        asset = self._files[self._urls[name].removeprefix(PREFIX + "/")]
        return len(asset.brotli or asset.identity)
