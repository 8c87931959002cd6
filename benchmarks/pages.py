"""Page latency of the web app under concurrent readers, against a running server.

Signs up a homeowner and a contractor through the pages, posts a job and bids on it, then
drives CLIENTS concurrent browsers (each with the cookies of one of the two, or none) over
the main pages for SECONDS, gzip accepted, and prints p50/p95/p99 per page and the rate.
The server must not rate-limit the generator's address (FTW_RATE_LIMITS_ENABLED=false).

    FTW_RATE_LIMITS_ENABLED=false .venv/bin/ftw serve --demo --port 8012 &
    .venv/bin/python benchmarks/pages.py --url http://127.0.0.1:8012 --clients 16 --seconds 20
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import time
from collections import defaultdict

import httpx
from rich.console import Console
from rich.table import Table

PASSWORD = "bench-password-1"  # noqa: S105 - a throwaway account on a test server
console = Console()


async def _person(url: str, role: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=url, headers={"Accept-Encoding": "gzip"}, timeout=30)
    await client.get("/")
    form = {"full_name": f"Bench {role}", "email": f"{role}-{os.urandom(4).hex()}@example.com"}
    form |= {"password": PASSWORD, "role": role, "zip": "10001", "csrf_token": client.cookies["ftw_csrf"]}
    answer = await client.post("/signup", data=form)
    assert answer.status_code == 303, answer.text
    return client


async def _scene(url: str) -> tuple[dict[str, httpx.AsyncClient], int]:
    home, pro = await _person(url, "homeowner"), await _person(url, "contractor")
    job = {"title": "Leaking kitchen faucet", "trade": "plumbing", "zip": "10001", "urgency": "normal"}
    job |= {"description": "The kitchen faucet drips all day.", "csrf_token": home.cookies["ftw_csrf"]}
    posted = await home.post("/jobs/new", data=job)
    job_id = int(re.search(r"/jobs/(\d+)", posted.headers["location"])[1])  # type: ignore[index]
    page = await pro.get(f"/jobs/{job_id}")
    low = re.search(r"Between \$([\d,.]+)", page.text)[1].replace(",", "")  # type: ignore[index]
    bid = {"amount": low, "message": "I can come tomorrow.", "csrf_token": pro.cookies["ftw_csrf"]}
    await pro.post(f"/jobs/{job_id}/bids", data=bid)
    anyone = httpx.AsyncClient(base_url=url, headers={"Accept-Encoding": "gzip"}, timeout=30)
    return {"anyone": anyone, "homeowner": home, "contractor": pro}, job_id


async def main(url: str, clients: int, seconds: float) -> None:
    people, job_id = await _scene(url)
    pages = [
        ("landing", "anyone", "/"),
        ("county", "anyone", "/counties/36061"),
        ("job (public)", "anyone", f"/jobs/{job_id}"),
        ("dashboard", "homeowner", "/dashboard"),
        ("job with bids", "homeowner", f"/jobs/{job_id}"),
        ("board", "contractor", "/board"),
        ("board search", "contractor", "/board?q=faucet"),
        ("job bid form", "contractor", f"/jobs/{job_id}"),
    ]
    latencies: dict[str, list[float]] = defaultdict(list)
    errors = 0
    stop = time.monotonic() + seconds

    async def client(offset: int) -> None:
        nonlocal errors
        i = offset
        while time.monotonic() < stop:
            name, who, path = pages[i % len(pages)]
            i += 1
            started = time.perf_counter()
            answer = await people[who].get(path)
            latencies[name].append(time.perf_counter() - started)
            errors += answer.status_code != 200

    began = time.monotonic()
    await asyncio.gather(*(client(n) for n in range(clients)))
    elapsed = time.monotonic() - began
    table = Table(title=f"{clients} clients, {seconds:.0f} s against {url}")
    for column in ("page", "requests", "p50 ms", "p95 ms", "p99 ms"):
        table.add_column(column, justify="right" if column != "page" else "left")
    for name, _, _ in pages:
        cuts = statistics.quantiles(latencies[name], n=100)
        table.add_row(name, str(len(latencies[name])), *(f"{cuts[q - 1] * 1000:.0f}" for q in (50, 95, 99)))
    console.print(table)
    total = sum(len(v) for v in latencies.values())
    console.print(f"{total / elapsed:.0f} pages/s, {errors} errors")
    for person in people.values():
        await person.aclose()


if __name__ == "__main__":
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.url.rstrip("/"), arguments.clients, arguments.seconds))
