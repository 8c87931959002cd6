"""A multipart form body read as it arrives, one part at a time, never spooled to disk.

Starlette's ``request.form()`` writes every file past 1 MB to a temporary file and hands
them all over once the whole body is in. Here the streaming parser Starlette itself uses
(python-multipart) is fed the body chunk by chunk; a part is kept in memory until it ends,
then handed to the caller, who deals with it before another byte is read. A file past its
bound or a file past the count is refused (413) as soon as its bytes or its headers arrive,
so the rest of the body is never read.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from ftw.config import Settings
from ftw.core.errors import Conflict, DomainError, Invalid, PayloadTooLarge, UnsupportedMediaType

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

MB = 1024 * 1024


class Malformed(DomainError):
    title = "Malformed form"


@dataclass(frozen=True)
class Part:
    """One part of the form: a text field (``filename`` None) or a chosen file."""

    name: str
    filename: str | None
    content_type: str
    data: bytes

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")


class Form:
    """The parts of one request's multipart body, in the order they were sent.

    ``fields()`` reads the text fields up to the first file (forms put their fields, the
    CSRF token first, before their files); ``files()`` then yields the files one by one. An
    empty file part (a file input left empty) is skipped and counts for nothing.
    """

    def __init__(
        self,
        request: Request,
        *,
        max_file_bytes: int,
        max_files: int,
        max_field_bytes: int,
        max_fields: int,
        max_header_bytes: int,
        too_many_files: str,
    ) -> None:
        kind, options = parse_options_header(request.headers.get("content-type", ""))
        boundary = options.get(b"boundary")
        self._urlencoded = kind == b"application/x-www-form-urlencoded"  # a form without files
        if not self._urlencoded and (kind != b"multipart/form-data" or not boundary):
            raise UnsupportedMediaType("Send the form as multipart/form-data")
        self._chunks = request.stream()
        self._limits = (max_file_bytes, max_files, max_field_bytes, max_fields, max_header_bytes)
        self._too_many_files = too_many_files
        self._ready: deque[Part] = deque()
        self._ended = False
        self._files = self._fields = 0
        self._head: Part | None = None  # the first file, read by fields() ahead of files()
        self.text: dict[str, str] = {}
        self._reset()
        callbacks: MultipartCallbacks = {
            "on_part_begin": self._reset,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._body,
            "on_part_end": self._part_end,
            "on_end": self._end,
        }
        self._parser = MultipartParser(boundary or b"-", callbacks)

    @classmethod
    def upload(cls, request: Request, settings: Settings, *, max_files: int, too_many_files: str) -> Form:
        """A form carrying photos, under the bounds in ``settings``."""
        return cls(
            request,
            max_file_bytes=settings.jobs.max_photo_bytes,
            max_files=max_files,
            max_field_bytes=settings.requests.json_body_bytes,
            max_fields=settings.requests.form_fields,
            max_header_bytes=settings.requests.part_overhead_bytes,
            too_many_files=too_many_files,
        )

    async def fields(self) -> dict[str, str]:
        """The text fields sent before the first file (read, and held, when there is one).
        Those read before a refusal stay in ``text`` (a page shows them again)."""
        if self._urlencoded:
            await self._read_urlencoded()
            return self.text
        async for part in self._parts():
            if part.filename is None:
                self.text.setdefault(part.name, part.text)
            else:
                self._head = part
                break
        return self.text

    @property
    def has_files(self) -> bool:
        """Whether ``fields()`` stopped at a file (an empty file input is none)."""
        return self._head is not None

    async def files(self) -> AsyncIterator[Part]:
        """The files, each read only once the one before it has been let go; a text field
        after a file is refused."""
        head, self._head = self._head, None
        if head is not None:
            yield head
            del head
        async for part in self._parts():
            if part.filename is None:
                raise Invalid(f"The field {part.name} must come before the files", field=part.name)
            yield part

    async def _read_urlencoded(self) -> None:
        """A form sent without files: all of it at most as large as one text field."""
        bound, body = self._limits[2], bytearray()
        async for chunk in self._chunks:
            body += chunk
            if len(body) > bound:
                raise PayloadTooLarge(f"The form is longer than {bound} bytes")
        try:
            pairs = parse_qsl(
                body.decode("utf-8", errors="replace"), keep_blank_values=True, max_num_fields=self._limits[3]
            )
        except ValueError as exc:
            raise PayloadTooLarge(f"The form has more than {self._limits[3]} fields") from exc
        for name, value in pairs:
            self.text.setdefault(name, value)
        self._ended = True

    async def _parts(self) -> AsyncIterator[Part]:
        while True:
            while self._ready:
                yield self._ready.popleft()
            if self._ended:
                return
            chunk = await anext(self._chunks, b"")
            try:
                if chunk:
                    self._parser.write(chunk)
                else:
                    self._parser.finalize()
            except MultipartParseError as exc:
                raise Malformed(f"The form's body is not valid multipart: {exc}") from exc
            if not chunk and not self._ended:
                raise Malformed("The form's body ended before its last part")

    # The parser's callbacks: they run inside ``write`` and may refuse the request there.

    def _reset(self) -> None:
        self._headers: dict[bytes, bytes] = {}
        self._field, self._value = bytearray(), bytearray()
        self._header_size = 0
        self._part: tuple[str, str | None, str] | None = None  # name, filename, type
        self._size = 0
        self._bound = 0
        self._data = bytearray()

    def _grow_headers(self, size: int) -> None:
        self._header_size += size
        if self._header_size > self._limits[4]:
            raise Malformed("A part of the form has headers too long")

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._grow_headers(end - start)
        self._field += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._grow_headers(end - start)
        self._value += data[start:end]

    def _header_end(self) -> None:
        self._headers[bytes(self._field).lower()] = bytes(self._value)
        self._field, self._value = bytearray(), bytearray()

    def _headers_finished(self) -> None:
        max_file_bytes, max_files, max_field_bytes, max_fields, _ = self._limits
        disposition, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        if disposition != b"form-data" or b"name" not in options:
            raise Malformed("A part of the form has no name")
        name = options[b"name"].decode("utf-8", errors="replace")
        filename = options[b"filename"].decode("utf-8", errors="replace") if b"filename" in options else None
        content_type = self._headers.get(b"content-type", b"").decode("latin-1")
        self._part = (name, filename, content_type)
        if filename is None:
            self._fields += 1
            if self._fields > max_fields:
                raise PayloadTooLarge(f"The form has more than {max_fields} fields")
            self._bound = max_field_bytes
        else:
            if filename:  # an empty file input sends a part named "": skipped, never counted
                self._files += 1
                if self._files > max_files:
                    raise Conflict(self._too_many_files, field=name)  # as the rule it stands for
            self._bound = max_file_bytes

    def _body(self, data: bytes, start: int, end: int) -> None:
        assert self._part is not None, "data comes after the headers"
        name, filename, _ = self._part
        self._size += end - start
        if self._size > self._bound:
            if filename is None:
                raise PayloadTooLarge(f"The field {name} is longer than {self._bound} bytes", field=name)
            limit = self._limits[0] // MB
            raise PayloadTooLarge(f"{filename or 'A file'} is larger than {limit} MB", field=name)
        if filename != "":
            self._data += data[start:end]

    def _part_end(self) -> None:
        assert self._part is not None, "a part ends after its headers"
        name, filename, content_type = self._part
        if filename != "":
            self._ready.append(Part(name, filename, content_type, bytes(self._data)))
        self._data = bytearray()

    def _end(self) -> None:
        self._ended = True
