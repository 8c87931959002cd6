"""The background worker: every domain's tasks and cron schedules on one pgqueuer queue.

Each domain's ``tasks`` module exposes ``TASKS: dict[str, Handler]`` and ``SCHEDULES:
list[tuple[cron, task name]]``. A schedule firing only *enqueues* its task (deduplicated),
so scheduled work gets the same retries, logging and concurrency as any other task.

- ``ftw worker`` runs pgqueuer's queue and scheduler managers until SIGTERM/SIGINT, then
  lets the running tasks finish.
- ``ftw worker --once`` fires the schedules that are due, runs every task due now (not
  the ones waiting for a retry delay) and exits. Tests call ``drain`` the same way.

A failing task is retried with exponential backoff (``RetryPolicy``); after the last
attempt it is held in the queue table with status ``failed`` (pgqueuer ``on_failure=
"hold"``) for an operator to inspect and re-queue. Handlers must be idempotent: a worker
that dies mid-task leaves it to be picked again once its heartbeat is stale.
"""

from __future__ import annotations

import asyncio
import importlib
import signal
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from types import ModuleType

import anyio
import asyncpg
import structlog
from pgqueuer import PgQueuer, Queries, SchedulerManager
from pgqueuer.core.executors import (
    AbstractEntrypointExecutor,
    DatabaseRetryEntrypointExecutor,
    EntrypointExecutorParameters,
)
from pgqueuer.db import AsyncpgDriver
from pgqueuer.errors import RetryRequested
from pgqueuer.models import (
    Context,
    CronExpressionEntrypoint,
    Job,
    Schedule,
    ScheduleContext,
    TracebackRecord,
)
from sqlalchemy import text

from ftw import hooks
from ftw.config import Settings
from ftw.core import tasks
from ftw.core.db import Database, sync_libpq_url
from ftw.integrations import Integrations, build
from ftw.integrations.context import Handler, TaskContext

log = structlog.get_logger(__name__)

TASK_MODULES = (
    "ftw.accounts.tasks",
    "ftw.bids.tasks",
    "ftw.billing.tasks",
    "ftw.messaging.tasks",
    "ftw.crm.tasks",
    "ftw.analytics.tasks",
)
ONCE_MAX_TASKS = 100_000  # a safety stop for `--once` should handlers keep enqueuing due work


@dataclass(frozen=True)
class RetryPolicy:
    """How often a failing task runs, and how long it waits in between.

    ``attempts`` counts every run, the first included; run n+1 waits
    ``first_delay * 2**(n-1)``, at most ``max_delay``.
    """

    attempts: int = 8
    first_delay: timedelta = timedelta(seconds=60)
    max_delay: timedelta = timedelta(hours=1)

    def executor(self, parameters: EntrypointExecutorParameters) -> AbstractEntrypointExecutor:
        return DatabaseRetryEntrypointExecutor(
            parameters=parameters,
            max_attempts=self.attempts - 1,  # pgqueuer counts retries, not runs
            initial_delay=self.first_delay,
            max_delay=self.max_delay,
        )


@dataclass(frozen=True)
class Registry:
    tasks: Mapping[str, Handler] = field(default_factory=dict)
    schedules: tuple[tuple[str, str], ...] = ()


def _import(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as missing:
        absent = missing.name or ""
        if name != absent and not name.startswith(f"{absent}."):  # it exists, but imports a missing one
            raise
        log.warning("task_module_missing", module=name)
        return None


def collect(modules: Iterable[str] = TASK_MODULES) -> Registry:
    """Every task and schedule of ``modules``; a module that does not exist yet is skipped."""
    handlers: dict[str, Handler] = {}
    schedules: list[tuple[str, str]] = []
    for name in modules:
        module = _import(name)
        if module is None:
            continue
        for task, handler in getattr(module, "TASKS", {}).items():
            if task in handlers:
                raise RuntimeError(f"Task {task!r} is registered twice (again by {name})")
            handlers[task] = handler
        schedules.extend(getattr(module, "SCHEDULES", []))
    unknown = [task for _, task in schedules if task not in handlers]
    if unknown:
        raise RuntimeError(f"Schedules name tasks nobody handles: {unknown}")
    return Registry(handlers, tuple(schedules))


def _entry(context: TaskContext, handler: Handler) -> Callable[[Job], Awaitable[None]]:
    async def entry(job: Job) -> None:
        await handler(context, tasks.decode(job.payload))

    return entry


def _executors(
    registry: Registry, context: TaskContext, policy: RetryPolicy
) -> dict[str, AbstractEntrypointExecutor]:
    return {
        name: policy.executor(
            EntrypointExecutorParameters(
                concurrency_limit=0, func=_entry(context, handler), accepts_context=False, on_failure="hold"
            )
        )
        for name, handler in registry.tasks.items()
    }


async def enqueue_scheduled(db: Database, task: str) -> None:
    """What a firing schedule does: queue its task, unless a copy is already waiting."""
    async with db.session() as session:
        await tasks.enqueue(session, task, {}, dedupe_key=f"schedule:{task}")


def _queuer(
    queries: Queries, db: Database, registry: Registry, context: TaskContext, policy: RetryPolicy
) -> PgQueuer:
    pgq = PgQueuer(connection=queries.driver, queries=queries)
    for name, executor in _executors(registry, context, policy).items():
        pgq.qm.register_executor(name, executor)
    for cron, task in registry.schedules:

        async def fire(schedule: Schedule, task: str = task) -> None:
            await enqueue_scheduled(db, task)

        pgq.schedule(task, cron)(fire)
    return pgq


async def fire_due_schedules(queries: Queries, scheduler: SchedulerManager) -> int:
    """Fire, once, every schedule whose next run has come, as pgqueuer's scheduler would."""
    delays = {key: executor.next_in() for key, executor in scheduler.registry.items()}
    if not delays:
        return 0
    await queries.insert_schedule(delays)
    due = await queries.fetch_schedule(delays)
    for schedule in due:
        key = CronExpressionEntrypoint(schedule.entrypoint, schedule.expression)
        try:
            await scheduler.registry[key].execute(schedule, ScheduleContext())
        finally:
            await queries.set_schedule_queued({schedule.id})
    return len(due)


# Claims one due task. Like pgqueuer's dequeue, but "due" is judged by the wall clock:
# inside a long transaction (a test's) NOW() is frozen at its start, and pgqueuer's
# `execute_after < NOW()` would never see a task enqueued in that transaction as due.
_CLAIM = text(
    """
    WITH next AS (
        SELECT id FROM pgqueuer
        WHERE status = 'queued' AND entrypoint = ANY(:entrypoints)
          AND execute_after <= clock_timestamp()
        ORDER BY priority DESC, id
        LIMIT 1
        FOR UPDATE SKIP LOCKED
    ), claimed AS (
        UPDATE pgqueuer AS q
        SET status = 'picked', updated = now(), heartbeat = now(), queue_manager_id = :manager
        FROM next WHERE q.id = next.id
        RETURNING q.*
    ), logged AS (
        INSERT INTO pgqueuer_log (job_id, status, entrypoint, priority)
        SELECT id, status, entrypoint, priority FROM claimed
    )
    SELECT * FROM claimed
    """
)


async def _claim(db: Database, entrypoints: list[str], manager: uuid.UUID) -> Job | None:
    async with db.session() as session:
        row = (await session.execute(_CLAIM, {"entrypoints": entrypoints, "manager": manager})).first()
    return None if row is None else Job.model_validate(dict(row._mapping))


async def _settle(db: Database, job: Job, outcome: Exception | None) -> None:
    """Record the run: done, re-queued after a delay, or held as failed."""
    async with db.session() as session:
        queries = Queries(AsyncpgDriver(await tasks.raw_connection(session)))
        if outcome is None:
            await queries.log_jobs([(job, "successful", None)])
            return
        trace = TracebackRecord.from_exception(outcome, job_id=job.id)
        if isinstance(outcome, RetryRequested):
            await queries.retry_job(job, outcome.delay, trace)
        else:
            await queries.log_jobs([(job, "failed", trace)])


async def drain(
    db: Database,
    settings: Settings,
    integrations: Integrations,
    *,
    max_tasks: int = 100,
    registry: Registry | None = None,
    policy: RetryPolicy | None = None,
    concurrency: int = 1,
) -> int:
    """Run the tasks due now, ``concurrency`` at a time, until none is due; return how many ran.

    Everything goes through ``db``'s sessions, so in tests it sees (and runs) the tasks the
    test's own transaction enqueued. A retry due later is left for a later drain.
    """
    registry = registry if registry is not None else collect()
    executors = _executors(registry, TaskContext(db, settings, integrations), policy or RetryPolicy())
    entrypoints = list(executors)
    manager = uuid.uuid4()
    ran = 0

    async def loop() -> None:
        nonlocal ran
        while ran < max_tasks:
            job = await _claim(db, entrypoints, manager)
            if job is None:
                return
            ran += 1
            outcome: Exception | None = None
            try:
                await executors[job.entrypoint].execute(job, Context(cancellation=anyio.CancelScope()))
            except Exception as exc:
                outcome = exc
                log.warning("task_failed", task=job.entrypoint, job_id=job.id, error=str(exc))
            await _settle(db, job, outcome)

    await asyncio.gather(*(loop() for _ in range(max(concurrency, 1))))
    return ran


async def serve(
    url: str,
    db: Database,
    settings: Settings,
    integrations: Integrations,
    *,
    registry: Registry,
    once: bool,
    concurrency: int,
    policy: RetryPolicy | None = None,
    shutdown: asyncio.Event | None = None,
) -> None:
    """The worker over an open database: ``once`` drains, otherwise it runs until ``shutdown``.

    The queue connection LISTENs for new tasks, so ``url`` must reach PostgreSQL directly
    or through PgBouncer in session mode, never in transaction mode.
    """
    policy = policy or RetryPolicy()
    connection = await asyncpg.connect(sync_libpq_url(url), statement_cache_size=0)
    try:
        queries = Queries(AsyncpgDriver(connection))
        pgq = _queuer(queries, db, registry, TaskContext(db, settings, integrations), policy)
        if once:
            fired = await fire_due_schedules(queries, pgq.sm)
            ran = await drain(
                db, settings, integrations, max_tasks=ONCE_MAX_TASKS, registry=registry,
                policy=policy, concurrency=concurrency,
            )  # fmt: skip
            log.info("worker_drained", schedules=fired, tasks=ran)
            return
        stop = shutdown or asyncio.Event()

        async def relay_shutdown() -> None:
            await stop.wait()
            pgq.shutdown.set()

        relay = asyncio.create_task(relay_shutdown())
        batch = max(concurrency // 2, 1)
        try:
            await pgq.run(
                batch_size=batch,
                max_concurrent_tasks=max(concurrency, 2 * batch),
                dequeue_timeout=timedelta(seconds=5),
            )
        finally:
            relay.cancel()
        log.info("worker_stopped")
    finally:
        await connection.close()


async def run(url: str, settings: Settings, *, once: bool, concurrency: int) -> None:
    """``ftw worker``: every domain's tasks with the configured integrations; stops on SIGTERM."""
    hooks.install()
    db = Database.connect(url, settings, pool_size=max(concurrency, 1))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await serve(
            url, db, settings, build(settings), registry=collect(), once=once,
            concurrency=concurrency, shutdown=stop,
        )  # fmt: skip
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        await db.dispose()
