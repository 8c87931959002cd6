"""Outgoing SMS and e-mail. The sandbox adapters write to a local outbox folder."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol


class DeliveryFailed(Exception):
    """The provider refused or could not be reached; the message stays queued."""


class Sms(Protocol):
    name: str

    async def send(self, *, to: str, body: str) -> str: ...


class Email(Protocol):
    name: str

    async def send(self, *, to: str, subject: str, body: str) -> str: ...


class _Outbox:
    """Appends one JSON line per message to ``folder/<channel>.jsonl``."""

    def __init__(self, folder: Path, channel: str) -> None:
        self.path = folder / f"{channel}.jsonl"

    async def write(self, record: dict[str, str]) -> str:
        reference = f"{self.path.stem}_{uuid.uuid4().hex[:16]}"
        line = json.dumps({"id": reference, "at": datetime.now(UTC).isoformat(), **record})
        await asyncio.to_thread(self._append, line)
        return reference

    def _append(self, line: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")


class SandboxSms:
    name = "sandbox"

    def __init__(self, folder: Path) -> None:
        self._outbox = _Outbox(folder, "sms")

    async def send(self, *, to: str, body: str) -> str:
        return await self._outbox.write({"to": to, "body": body})


class SandboxEmail:
    name = "sandbox"

    def __init__(self, folder: Path) -> None:
        self._outbox = _Outbox(folder, "email")

    async def send(self, *, to: str, subject: str, body: str) -> str:
        return await self._outbox.write({"to": to, "subject": subject, "body": body})
