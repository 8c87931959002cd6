"""What a background task handler gets besides its payload (``core.tasks`` queues the task;
the worker builds one context per process)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ftw.config import Settings
from ftw.core.db import Database
from ftw.core.switches import Board
from ftw.integrations import Integrations


@dataclass
class TaskContext:
    db: Database
    settings: Settings
    integrations: Integrations
    switches: Board = field(init=False)  # this worker's copy of the launch switches

    def __post_init__(self) -> None:
        rules = self.settings.switches
        self.switches = Board(ttl_s=rules.ttl_s, retry_after_s=rules.retry_after_s)


Handler = Callable[[TaskContext, dict[str, Any]], Awaitable[None]]
