"""Running the API in several worker processes, each on a listener of its own.

uvicorn's ``--workers`` has every worker accept from one shared socket, and the kernel wakes
the worker that went idle last: a burst of new connections lands almost entirely on one
worker (64 of 64 in `ftw bench`'s set-up), which then saturates while the others idle, and
whose file-descriptor limit caps how many live streams the instance holds. Here each worker
binds its own listener into one ``SO_REUSEPORT`` group and the kernel spreads connections
across them by hash. A small supervisor restarts a worker that dies and passes SIGTERM on,
so each worker drains as a single process does.
"""

from __future__ import annotations

import gc
import multiprocessing
import signal
import socket
import threading
from types import FrameType

import psutil
import structlog
import uvicorn
from uvicorn.config import STARTUP_FAILURE  # the exit code when the app's lifespan startup fails

from ftw.core import signals

log = structlog.get_logger(__name__)


def bound(host: str, port: int) -> socket.socket:
    """A TCP socket bound into the port's SO_REUSEPORT group, not yet listening.

    asyncio calls listen() when uvicorn starts serving, after the app's lifespan startup: until
    then the kernel hashes no connection to a worker that is still starting (a restarted one,
    say), where it would wait out the startup.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def listening_workers(supervisor: int, port: int) -> list[psutil.Process]:
    """The supervisor's workers that listen on `port`: those whose app has started."""
    found = []
    for child in psutil.Process(supervisor).children(recursive=True):
        try:
            sockets = child.net_connections("tcp")
        except psutil.NoSuchProcess:  # a worker that just died
            continue
        if any(c.status == psutil.CONN_LISTEN and c.laddr.port == port for c in sockets):
            found.append(child)
    return found


# A full collection walks every live object and pauses every request in flight meanwhile.
# With 20,000 notification streams open, a worker's took 1.4-1.9 s, and Python started one
# every 5-25 s: after 10 collections of the middle generation, whenever the objects that had
# reached the oldest had grown by a quarter since the last. Waiting for 1,000 makes it one
# every six minutes or so at 375 mix requests/s (2.7 middle collections a second); memory
# with the streams open did not grow (1,421-1,424 MiB). The young collections, which free
# nearly all of a request's garbage, keep Python's thresholds.
MIDDLE_COLLECTIONS_PER_FULL = 1_000


def rarer_full_collections() -> None:
    """Full collections after ``MIDDLE_COLLECTIONS_PER_FULL`` middle ones; the young
    generations keep Python's thresholds."""
    youngest, middle, _ = gc.get_threshold()
    gc.set_threshold(youngest, middle, MIDDLE_COLLECTIONS_PER_FULL)


def _built(config: uvicorn.Config) -> uvicorn.Server:
    """A server whose app is imported and built, and then left out of garbage collection.

    The app's modules, schemas and routes are some 340,000 objects that live as long as the
    process; a full collection walks them all (a quarter of a second on a launch machine) and
    pauses every request in flight. ``gc.freeze()`` moves them out of the collector's sight,
    and full collections come far less often (``MIDDLE_COLLECTIONS_PER_FULL``).
    """
    rarer_full_collections()  # before the imports too: their six cost a worker 0.6 s at start
    config.load()
    gc.freeze()
    return uvicorn.Server(config)


def _worker(config: uvicorn.Config) -> None:
    config.configure_logging()
    _built(config).run(sockets=[bound(config.host, config.port)])


def run(config: uvicorn.Config) -> None:
    """Serve `config` in `config.workers` processes until SIGTERM or SIGINT; exits with
    uvicorn's startup-failure code when the app cannot start."""
    if config.workers <= 1:
        server = _built(config)
        server.run()
        if not server.started:
            raise SystemExit(STARTUP_FAILURE)
        return
    bound(config.host, config.port).close()  # fail here if the port is taken
    spawn = multiprocessing.get_context("spawn")
    stop = threading.Event()
    failed = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for signum in signals.STOP:
        signal.signal(signum, on_signal)
    workers = [spawn.Process(target=_worker, args=(config,)) for _ in range(config.workers)]
    for worker in workers:
        worker.start()
    while not stop.wait(0.5):
        for i, worker in enumerate(workers):
            if worker.is_alive():
                continue
            if worker.exitcode == STARTUP_FAILURE:  # restarting would fail the same way
                log.error("worker_failed_to_start", pid=worker.pid)
                failed = True
                stop.set()
                break
            log.warning("worker_died", pid=worker.pid, exitcode=worker.exitcode)
            workers[i] = spawn.Process(target=_worker, args=(config,))
            workers[i].start()
    for worker in workers:
        if worker.is_alive():
            worker.terminate()  # SIGTERM: the worker drains, then stops
    for worker in workers:
        worker.join(config.timeout_graceful_shutdown or 30)
        if worker.is_alive():
            worker.kill()
            worker.join()
    if failed:
        raise SystemExit(STARTUP_FAILURE)
