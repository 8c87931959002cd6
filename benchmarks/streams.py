"""Memory per open notification stream: the server's RSS before and after opening N streams.

Against a running `ftw serve` (one worker) on any database; the streams belong to N made-up
user ids, signed with the configured key (FTW_AUTH__SECRET_KEY, the development key by
default), so no account has to exist. Rate limits must be off on the server
(FTW_RATE_LIMITS_ENABLED=false): every stream comes from one address.

    .venv/bin/python benchmarks/streams.py --url http://127.0.0.1:8000 --streams 2000
"""

from __future__ import annotations

import argparse
import asyncio
import re
import time
from urllib.parse import urlsplit

import httpx
from rich.console import Console

from ftw.config import Settings
from ftw.core.security import issue_access_token

PATH = "/api/v1/notifications/stream"
console = Console()


def _sample(scrape: str, name: str) -> float:
    found = re.search(rf"^{name} ([0-9.e+]+)$", scrape, re.M)
    assert found, f"{name} missing from /metrics"
    return float(found.group(1))


async def _scrape(url: str) -> tuple[float, float]:
    """The server's resident memory (bytes) and open streams, from its /metrics."""
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        scrape = (await client.get("/metrics")).text
    return _sample(scrape, "process_resident_memory_bytes"), _sample(scrape, "ftw_notification_streams")


async def _open(host: str, port: int, token: str) -> asyncio.StreamWriter:
    """One stream, returned once its first event (the retry: line) has arrived."""
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(
        f"GET {PATH} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
        "Accept: text/event-stream\r\n\r\n".encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head[:200]
    await reader.readuntil(b"retry:")
    return writer


async def main(url: str, streams: int, warmup: int, batch: int) -> None:
    auth = Settings().auth
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    tokens = [
        issue_access_token(auth, user_id=10_000_000 + i, role="homeowner", pro=False)[0]
        for i in range(streams + warmup)
    ]
    # A few streams first, so the code paths, imports and pools are warm before measuring.
    writers = [await _open(host, port, token) for token in tokens[:warmup]]
    await asyncio.sleep(1)
    before, open_before = await _scrape(url)
    started = time.perf_counter()
    for i in range(warmup, len(tokens), batch):
        writers += await asyncio.gather(*(_open(host, port, t) for t in tokens[i : i + batch]))
    opened_s = time.perf_counter() - started
    await asyncio.sleep(2)
    after, open_after = await _scrape(url)
    per_stream = (after - before) / (open_after - open_before)
    console.print(
        f"{int(open_after - open_before)} streams opened in {opened_s:.1f} s; server RSS "
        f"{before / 2**20:.1f} -> {after / 2**20:.1f} MiB: [bold]{per_stream / 1024:.1f} KiB per stream[/] "
        f"({per_stream * 20_000 / 2**20:.0f} MiB for 20,000)"
    )
    for writer in writers:
        writer.close()
    await asyncio.sleep(3)
    console.print(f"after closing them: {int((await _scrape(url))[1])} streams open")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--streams", type=int, default=2_000)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--batch", type=int, default=100, help="streams opened concurrently")
    args = parser.parse_args()
    asyncio.run(main(args.url, args.streams, args.warmup, args.batch))
