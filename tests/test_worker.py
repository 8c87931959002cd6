"""The worker: tasks exist only when their transaction commits, run once, retry, and stop cleanly.

These tests commit (the worker reads what other connections committed), so each uses
its own entrypoint names under ``test.`` and deletes its queue rows afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from ftw.config import Settings
from ftw.core import tasks
from ftw.core.db import Database
from ftw.integrations.context import TaskContext
from ftw.worker import Registry, RetryPolicy, collect, run, serve
from tests.support.market import recording_integrations

IMPATIENT = RetryPolicy(attempts=3, first_delay=timedelta(0))


class Recorder:
    """A task handler that records its calls; it fails its first ``failures`` runs."""

    def __init__(self, failures: int = 0, pause: float = 0.0) -> None:
        self.calls: list[dict[str, Any]] = []
        self.failures = failures
        self.pause = pause
        self.started = asyncio.Event()
        self.done = asyncio.Event()

    async def __call__(self, context: TaskContext, payload: dict[str, Any]) -> None:
        self.calls.append(payload)
        self.started.set()
        await asyncio.sleep(self.pause)
        if len(self.calls) <= self.failures:
            raise RuntimeError(f"failure {len(self.calls)}")
        self.done.set()


@pytest.fixture
async def live(database_url: str, settings: Settings) -> AsyncIterator[Database]:
    """A database whose sessions commit, cleaned of this test's queue rows afterwards."""
    db = Database.connect(database_url, settings, pool_size=3)
    yield db
    async with db.session() as session:
        for table in ("pgqueuer", "pgqueuer_log", "pgqueuer_schedules", "pgqueuer_statistics"):
            await session.execute(text(f"DELETE FROM {table} WHERE entrypoint LIKE 'test.%'"))  # noqa: S608
    await db.dispose()


@pytest.fixture
def name() -> str:
    return f"test.{uuid.uuid4().hex[:12]}"


async def _once(
    database_url: str,
    live: Database,
    settings: Settings,
    registry: Registry,
    policy: RetryPolicy | None = None,
) -> None:
    integrations, _, _ = recording_integrations(settings)
    await serve(
        database_url, live, settings, integrations, registry=registry, once=True, concurrency=2, policy=policy
    )


class RequestFailed(Exception):
    pass


async def _enqueue_and_fail(db: Database, task: str, *, write_first: bool) -> None:
    """A request that queues a task, then fails: its transaction rolls back."""
    with contextlib.suppress(RequestFailed):
        async with db.session() as session:
            if write_first:
                await session.execute(text("SELECT 1"))  # the write that causes the task
            await tasks.enqueue(session, task, {"n": 1})
            raise RequestFailed


async def _enqueue(db: Database, task: str, payload: dict[str, Any]) -> None:
    async with db.session() as session:
        await session.execute(text("SELECT 1"))  # the write that causes the task
        await tasks.enqueue(session, task, payload)


async def _rows(db: Database, task: str, table: str = "pgqueuer") -> list[Any]:
    async with db.session() as session:
        query = f"SELECT * FROM {table} WHERE entrypoint = :task ORDER BY id"  # noqa: S608
        return list((await session.execute(text(query), {"task": task})).all())


def test_every_domain_registers_its_tasks_and_schedules() -> None:
    registry = collect()
    expected = {
        "notifications.deliver",
        "crm.send_due_follow_ups",
        "crm.mark_inactive",
        "analytics.roll_up_daily",
    }
    assert expected <= set(registry.tasks)
    scheduled = {task for _, task in registry.schedules}
    assert {"crm.send_due_follow_ups", "crm.mark_inactive", "analytics.roll_up_daily"} <= scheduled
    assert scheduled <= set(registry.tasks)


def test_a_task_module_not_written_yet_is_skipped() -> None:
    registry = collect(["ftw.not_written_yet.tasks", "ftw.crm.tasks"])
    assert set(registry.tasks) == {"crm.send_due_follow_ups", "crm.mark_inactive"}


@pytest.mark.parametrize(
    ("modules", "error"),
    [
        ({"broken_tasks": "import not_installed_anywhere\n"}, ModuleNotFoundError),
        (
            {
                "one_tasks": "async def h(c, p): ...\nTASKS = {'x': h}\n",
                "two_tasks": "async def h(c, p): ...\nTASKS = {'x': h}\n",
            },
            RuntimeError,
        ),
        ({"orphan_tasks": "TASKS = {}\nSCHEDULES = [('* * * * *', 'nobody')]\n"}, RuntimeError),
    ],
)
def test_broken_registrations_stop_the_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, modules: dict[str, str], error: type[Exception]
) -> None:
    for module, source in modules.items():
        (tmp_path / f"{module}.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(error):
        collect(list(modules))


async def test_a_task_enqueued_in_a_rolled_back_transaction_never_runs(
    database_url: str, live: Database, settings: Settings, name: str
) -> None:
    handler = Recorder()
    await _enqueue_and_fail(live, name, write_first=True)
    await _once(database_url, live, settings, Registry({name: handler}))
    assert handler.calls == []
    assert await _rows(live, name) == []


async def test_a_task_enqueued_first_thing_in_a_rolled_back_transaction_never_runs(
    live: Database, name: str
) -> None:
    await _enqueue_and_fail(live, name, write_first=False)
    assert await _rows(live, name) == []


async def test_a_committed_task_runs_once(
    database_url: str, live: Database, settings: Settings, name: str
) -> None:
    handler = Recorder()
    await _enqueue(live, name, {"n": 1})
    await _once(database_url, live, settings, Registry({name: handler}))
    await _once(database_url, live, settings, Registry({name: handler}))
    assert handler.calls == [{"n": 1}]
    assert await _rows(live, name) == []
    logged = [row.status for row in await _rows(live, name, "pgqueuer_log")]
    assert logged == ["queued", "picked", "successful"]


async def test_a_failing_task_is_retried_then_held_as_failed(
    database_url: str, live: Database, settings: Settings, name: str
) -> None:
    handler = Recorder(failures=99)
    await _enqueue(live, name, {"n": 1})
    await _once(database_url, live, settings, Registry({name: handler}), policy=IMPATIENT)
    assert len(handler.calls) == IMPATIENT.attempts
    (held,) = await _rows(live, name)
    assert (held.status, held.attempts) == ("failed", IMPATIENT.attempts - 1)
    logged = [row.status for row in await _rows(live, name, "pgqueuer_log")]
    assert logged.count("picked") == IMPATIENT.attempts
    assert logged[-1] == "failed"


async def test_a_retry_waits_with_exponential_backoff(
    database_url: str, live: Database, settings: Settings, name: str
) -> None:
    handler = Recorder(failures=99)
    await _enqueue(live, name, {"n": 1})
    policy = RetryPolicy(first_delay=timedelta(minutes=1))
    await _once(database_url, live, settings, Registry({name: handler}), policy=policy)
    async with live.session() as session:
        await session.execute(
            text("UPDATE pgqueuer SET execute_after = now() WHERE entrypoint = :t"), {"t": name}
        )
    await _once(database_url, live, settings, Registry({name: handler}), policy=policy)
    assert len(handler.calls) == 2  # each drain ran it once: the retry was not yet due
    async with live.session() as session:
        wait = await session.scalar(
            text("SELECT execute_after - now() FROM pgqueuer WHERE entrypoint = :t"), {"t": name}
        )
    assert timedelta(seconds=110) < wait <= timedelta(minutes=2)  # the second retry waits twice as long


async def test_the_running_worker_runs_retries_and_stops_on_request(
    database_url: str, live: Database, settings: Settings, name: str
) -> None:
    flaky = Recorder(failures=1)
    slow = Recorder(pause=0.5)
    registry = Registry({name: flaky, f"{name}.slow": slow})
    integrations, _, _ = recording_integrations(settings)
    stop = asyncio.Event()
    worker = asyncio.create_task(
        serve(
            database_url,
            live,
            settings,
            integrations,
            registry=registry,
            once=False,
            concurrency=4,
            policy=IMPATIENT,
            shutdown=stop,
        )
    )
    await _enqueue(live, name, {"n": 1})
    await asyncio.wait_for(flaky.done.wait(), timeout=15)
    assert len(flaky.calls) == 2  # failed once, retried once

    await _enqueue(live, f"{name}.slow", {"n": 2})
    await asyncio.wait_for(slow.started.wait(), timeout=15)
    stop.set()  # as SIGTERM does, while the slow task is running
    await asyncio.wait_for(worker, timeout=15)
    assert slow.done.is_set()  # the running task was allowed to finish
    assert await _rows(live, f"{name}.slow") == []


async def test_once_fires_due_schedules(
    database_url: str, live: Database, settings: Settings, name: str
) -> None:
    handler = Recorder()
    registry = Registry({name: handler}, (("*/5 * * * *", name),))
    await _once(database_url, live, settings, registry)
    assert handler.calls == []  # registered, next run in the future
    async with live.session() as session:
        await session.execute(
            text(
                "UPDATE pgqueuer_schedules SET next_run = now() - interval '1 second' WHERE entrypoint = :t"
            ),
            {"t": name},
        )
    await _once(database_url, live, settings, registry)
    assert handler.calls == [{}]
    (schedule,) = await _rows(live, name, "pgqueuer_schedules")
    assert schedule.status == "queued"
    assert schedule.last_run is not None
    await _once(database_url, live, settings, registry)
    assert len(handler.calls) == 1


async def test_ftw_worker_once_drains_and_exits(
    database_url: str, live: Database, settings: Settings
) -> None:
    await run(database_url, settings, once=True, concurrency=2)
    async with live.session() as session:
        registered = await session.scalar(
            text("SELECT count(*) FROM pgqueuer_schedules WHERE entrypoint = 'analytics.roll_up_daily'")
        )
        await session.execute(
            text("DELETE FROM pgqueuer_schedules WHERE entrypoint = ANY(:tasks)"),
            {"tasks": list(collect().tasks)},
        )
    assert registered == 1
