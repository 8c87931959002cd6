"""Stop signals, and putting a handler of ours in front of the one already installed."""

from __future__ import annotations

import functools
import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

STOP = (signal.SIGTERM, signal.SIGINT)

PassOn = Callable[[], None]


def _forward(handler: Any, signum: int, frame: FrameType | None) -> None:
    """Hand the signal to whoever had it before us (uvicorn), or to the default action."""
    if callable(handler):
        handler(signum, frame)
    elif handler != signal.SIG_IGN:
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)


@contextmanager
def in_front(on_signal: Callable[[int, FrameType | None, PassOn], None]) -> Iterator[None]:
    """For the block, a stop signal reaches `on_signal` first, with a callable that passes it
    on to the handler installed before. Signals reach only the main thread: elsewhere (an app
    served from a test's thread) nothing is installed."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous: dict[int, Any] = {}

    def handle(signum: int, frame: FrameType | None) -> None:
        on_signal(signum, frame, functools.partial(_forward, previous[signum], signum, frame))

    for stop in STOP:
        previous[stop] = signal.getsignal(stop)
        signal.signal(stop, handle)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            if signal.getsignal(signum) is handle:
                signal.signal(signum, handler)
