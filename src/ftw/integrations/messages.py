"""Outgoing SMS and e-mail. The sandbox adapters write to a local outbox folder; Twilio and
SendGrid send for real, through the sms and email breakers.

Every failure of a real adapter (refused, unreachable, timed out, breaker open) is raised as
DeliveryFailed: the delivery row stays pending and the task queue retries it later.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import Header, Mail
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client as TwilioClient

from ftw.core.breakers import CircuitBreaker


class DeliveryFailed(Exception):
    """The provider refused or could not be reached; the message stays queued."""


class Sms(Protocol):
    name: str

    async def send(self, *, to: str, body: str) -> str: ...


class Email(Protocol):
    name: str

    async def send(
        self, *, to: str, subject: str, body: str, headers: Mapping[str, str] | None = None
    ) -> str: ...


class _Outbox:
    """Appends one JSON line per message to ``folder/<channel>.jsonl``."""

    def __init__(self, folder: Path, channel: str) -> None:
        self.path = folder / f"{channel}.jsonl"

    async def write(self, record: Mapping[str, object]) -> str:
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

    async def send(
        self, *, to: str, subject: str, body: str, headers: Mapping[str, str] | None = None
    ) -> str:
        record: dict[str, object] = {"to": to, "subject": subject, "body": body}
        if headers:
            record["headers"] = dict(headers)
        return await self._outbox.write(record)


class TwilioSms:
    """Twilio's SDK with its aiohttp client, without the SDK's retries: the task queue retries."""

    name = "twilio"

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        from_number: str,
        breaker: CircuitBreaker,
        base_url: str | None = None,
    ) -> None:
        self._credentials = (account_sid, auth_token)
        self._from = from_number
        self._breaker = breaker
        self._base_url = base_url
        self._client: TwilioClient | None = None

    def _twilio(self) -> TwilioClient:
        # The aiohttp session needs a running loop: built on the first send, not at start-up.
        if self._client is None:
            http = AsyncTwilioHttpClient(timeout=self._breaker.policy.call_timeout_s)
            self._client = TwilioClient(*self._credentials, http_client=http)
            if self._base_url:
                self._client.api.base_url = self._base_url
        return self._client

    async def send(self, *, to: str, body: str) -> str:
        # The SDK's first use imports and builds its API tree: set up outside the timed call.
        messages = self._twilio().messages
        try:
            message = await self._breaker.call(
                lambda: messages.create_async(to=to, from_=self._from, body=body),
                answered=_twilio_refused,
            )
        except Exception as failure:
            raise DeliveryFailed(f"twilio: {failure}") from failure
        return str(message.sid)

    async def aclose(self) -> None:
        if self._client is not None:
            http = self._client.http_client
            if isinstance(http, AsyncTwilioHttpClient):
                await http.close()


def _twilio_refused(exc: Exception) -> bool:
    """A 4xx other than 429 (a bad number, say) is Twilio answering, not Twilio being down."""
    return isinstance(exc, TwilioRestException) and 400 <= exc.status < 500 and exc.status != 429


class SendGridEmail:
    """SendGrid's SDK, which is synchronous: each send runs in a worker thread.

    The breaker's timeout stops the wait; the thread itself ends when the SDK's socket
    timeout (set to the same value) fires.
    """

    name = "sendgrid"

    def __init__(
        self, *, api_key: str, from_address: str, breaker: CircuitBreaker, base_url: str | None = None
    ) -> None:
        self._api = SendGridAPIClient(api_key, host=base_url or "https://api.sendgrid.com")
        self._api.client.timeout = breaker.policy.call_timeout_s
        self._from = from_address
        self._breaker = breaker

    async def send(
        self, *, to: str, subject: str, body: str, headers: Mapping[str, str] | None = None
    ) -> str:
        mail = Mail(from_email=self._from, to_emails=to, subject=subject, plain_text_content=body)
        for name, value in (headers or {}).items():
            mail.header = Header(name, value)  # each assignment adds one header
        try:
            response = await self._breaker.call(
                lambda: asyncio.to_thread(self._api.send, mail), answered=_sendgrid_refused
            )
        except Exception as failure:
            raise DeliveryFailed(f"sendgrid: {failure}") from failure
        return _header(response, "X-Message-Id") or f"sendgrid_{uuid.uuid4().hex[:16]}"


def _sendgrid_refused(exc: Exception) -> bool:
    return isinstance(exc, HTTPError) and 400 <= exc.status_code < 500 and exc.status_code != 429


def _header(response: Any, name: str) -> str | None:
    headers = getattr(response, "headers", None)
    value = headers.get(name) if headers is not None else None
    return str(value) if value else None
