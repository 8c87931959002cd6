"""Browsing a county's jobs and full-text search."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncSession

from ftw.jobs import service
from ftw.jobs.models import Job
from ftw.jobs.schemas import JobFilters
from tests.conftest import SignUp
from tests.support.market import post_job


async def _age(session: AsyncSession, job_id: int, minutes: int) -> None:
    """Back-date a job so ordering by recency is deterministic."""
    created = datetime.now(UTC) - timedelta(minutes=minutes)
    await session.execute(update(Job).where(Job.id == job_id).values(created_at=created))


async def test_browse_walks_every_open_job_of_a_county_newest_first(
    client: httpx.AsyncClient, sign_up: SignUp, session: AsyncSession
) -> None:
    owner = await sign_up()
    ids = []
    for i in range(7):
        job = await post_job(client, owner, title=f"Faucet repair number {i}")
        await _age(session, job["id"], minutes=100 - i)  # later i = newer
        ids.append(job["id"])
    elsewhere = await post_job(client, owner, zip="90012")  # Los Angeles: another county
    await session.flush()

    seen: list[int] = []
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {
            "territory": "36061",
            "limit": 3,
            **({"cursor": cursor} if cursor else {}),
        }
        response = await client.get("/api/v1/jobs", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= 3
        seen += [j["id"] for j in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(ids))
    assert elsewhere["id"] not in seen


async def test_browse_filters(client: httpx.AsyncClient, sign_up: SignUp) -> None:
    owner = await sign_up()
    faucet = await post_job(client, owner)
    urgent = await post_job(client, owner, urgency="urgent", title="Burst pipe in basement")
    roof = await post_job(
        client, owner, trade="roofing", title="Full roof replacement",
        description="Replace the entire roof of the whole house, 2,400 sq ft.",
    )  # fmt: skip
    cancelled = await post_job(client, owner, title="Never mind this one")
    await client.post(f"/api/v1/jobs/{cancelled['id']}/cancel", headers=owner.headers)

    async def ids(**params: str) -> set[int]:
        response = await client.get("/api/v1/jobs", params={"territory": "36061"} | params)
        assert response.status_code == 200, response.text
        return {j["id"] for j in response.json()["items"]}

    assert await ids() == {faucet["id"], urgent["id"], roof["id"]}
    assert await ids(trade="roofing") == {roof["id"]}
    assert await ids(size="large") == {roof["id"]}
    assert await ids(urgent="true") == {urgent["id"]}
    assert await ids(urgent="false") == {faucet["id"], roof["id"]}
    assert await ids(status="cancelled") == {cancelled["id"]}


async def test_my_jobs_lists_only_the_callers(client: httpx.AsyncClient, sign_up: SignUp) -> None:
    mine, theirs = await sign_up(), await sign_up()
    own = await post_job(client, mine)
    await post_job(client, theirs)
    response = await client.get("/api/v1/jobs", params={"mine": "true"}, headers=mine.headers)
    assert [j["id"] for j in response.json()["items"]] == [own["id"]]
    assert (await client.get("/api/v1/jobs", params={"mine": "true"})).status_code == 422


async def test_browse_input_errors_are_422_with_the_field(client: httpx.AsyncClient) -> None:
    no_territory = await client.get("/api/v1/jobs")
    assert no_territory.status_code == 422
    assert no_territory.json()["errors"][0]["field"] == "territory"
    bad_cursor = await client.get("/api/v1/jobs", params={"territory": "36061", "cursor": "!!garbage!!"})
    assert bad_cursor.status_code == 422
    assert bad_cursor.json()["errors"][0]["field"] == "cursor"
    bad_status = await client.get("/api/v1/jobs", params={"territory": "36061", "status": "lost"})
    assert bad_status.status_code == 422


async def test_page_size_is_bounded(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/jobs", params={"territory": "36061", "limit": 0})).status_code == 422
    # An over-large page is served at the configured maximum rather than refused.
    assert (
        await client.get("/api/v1/jobs", params={"territory": "36061", "limit": 10_000})
    ).status_code == 200


async def _search(client: httpx.AsyncClient, q: str, **params: str) -> list[int]:
    response = await client.get("/api/v1/jobs", params={"q": q} | params)
    assert response.status_code == 200, response.text
    return [j["id"] for j in response.json()["items"]]


async def test_search_ranks_title_matches_first_and_honours_websearch_syntax(
    client: httpx.AsyncClient, sign_up: SignUp
) -> None:
    owner = await sign_up()
    in_title = await post_job(
        client,
        owner,
        title="Water heater replacement",
        description="Old tank is rusty and leaking at the base.",
    )
    in_text = await post_job(
        client, owner, title="Basement plumbing check",
        description="Check pipes near the water heater and the sump pump in the basement.",
    )  # fmt: skip
    other = await post_job(client, owner, title="Paint the fence", trade="painting",
                       description="Two coats on a wooden fence along the garden.")  # fmt: skip

    assert await _search(client, "water heater") == [in_title["id"], in_text["id"]]
    assert await _search(client, '"sump pump"') == [in_text["id"]]
    assert await _search(client, "water heater -sump") == [in_title["id"]]
    assert set(await _search(client, "fence OR sump")) == {other["id"], in_text["id"]}
    assert await _search(client, "heaters") == [in_title["id"], in_text["id"]]  # stemmed


async def test_search_filters_by_territory_and_pages(client: httpx.AsyncClient, sign_up: SignUp) -> None:
    owner = await sign_up()
    here = [await post_job(client, owner, title=f"Drain cleaning job {i}") for i in range(5)]
    there = await post_job(client, owner, title="Drain cleaning far away", zip="90012")
    assert set(await _search(client, "drain", territory="36061")) == {j["id"] for j in here}
    assert there["id"] in await _search(client, "drain")

    seen: list[int] = []
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"q": "drain", "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/v1/jobs", params=params)).json()
        seen += [j["id"] for j in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted([j["id"] for j in here] + [there["id"]])
    assert len(seen) == len(set(seen))


async def test_search_with_only_stop_words_finds_nothing_rather_than_failing(
    client: httpx.AsyncClient,
) -> None:
    assert await _search(client, "the and") == []


# A county's market, roughly as the seed makes it: most jobs closed, the word common across
# counties, a county holding a small share of the open jobs that have it.
MARKET = """
INSERT INTO jobs (homeowner_id, territory_fips, zip, title, description, trade, status,
                  price_low_cents, price_high_cents, size, tier, confidence)
SELECT homeowner_id, CASE WHEN n % 20 = 0 THEN territory_fips ELSE '06037' END, zip,
       CASE WHEN n % 3 = 0 THEN 'Faucet ' ELSE 'Fence ' END || title, description, trade,
       CASE WHEN n % 5 = 0 THEN 'open' ELSE 'completed' END,
       price_low_cents, price_high_cents, size, tier, confidence
FROM jobs, generate_series(1, 20000) AS n WHERE jobs.id = :job_id
"""


async def test_a_county_search_reads_only_that_countys_open_matches_even_on_a_generic_plan(
    client: httpx.AsyncClient, sign_up: SignUp, session: AsyncSession
) -> None:
    """The search statement as the app prepares it, planned for any value (as PostgreSQL
    soon plans a prepared statement): one scan of the open jobs' index by county and words,
    not every job with the word intersected with the county's jobs afterwards."""
    template = await post_job(client, await sign_up())
    await session.execute(text(MARKET), {"job_id": template["id"]})
    connection = await session.connection()
    await connection.exec_driver_sql("ANALYZE jobs")
    await connection.exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")
    first = service._search_pages(service._shape(JobFilters(territory="36061")))._first
    values = first.defaults | {"text_query": "faucet", "territory": "36061", "status": "open", "limit": 20}
    await connection.exec_driver_sql(f"PREPARE county_search AS {first.sql}")
    arguments = ", ".join(repr(values[name]) for name in first.names)
    explained = await connection.exec_driver_sql(f"EXPLAIN EXECUTE county_search({arguments})")
    plan = "\n".join(row[0] for row in explained)
    await connection.exec_driver_sql("DEALLOCATE county_search")
    scans = [line for line in plan.splitlines() if "Index Cond" in line or "Scan" in line]
    assert "ix_jobs_search_open" in plan, plan
    assert any("territory_fips" in line and "@@" in line for line in scans), plan


async def test_the_county_search_index_keeps_no_pending_list(session: AsyncSession) -> None:
    """GIN's pending list (fastupdate) would make every search scan the entries of the jobs
    posted since the last vacuum; posting pays for the index instead."""
    options = await session.scalar(
        text("SELECT reloptions FROM pg_class WHERE relname = 'ix_jobs_search_open'")
    )
    assert options is not None
    assert "fastupdate=off" in options
