"""The per-request Redis connections: reused while healthy, never reused mid-reply."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from redis.exceptions import ConnectionError, ResponseError

from ftw.core.redispool import RedisPool

REDIS_URL = "redis://127.0.0.1:6379/13"


async def test_one_connection_answers_one_caller_after_another() -> None:
    pool = RedisPool.from_url(REDIS_URL)
    try:
        first, second = await pool.call("CLIENT", "ID"), await pool.call("CLIENT", "ID")
        assert first == second
    finally:
        await pool.aclose()


async def test_a_command_given_up_mid_reply_never_answers_the_next_caller() -> None:
    pool = RedisPool.from_url(REDIS_URL)
    key = f"test-{uuid.uuid4().hex}"
    try:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.05):
                await pool.call("BLPOP", key, "0.3")  # its nil reply comes 0.3 s later
        assert await pool.call("ECHO", "mine") == b"mine"
        await asyncio.sleep(0.35)
        assert await pool.call("ECHO", "again") == b"again"
    finally:
        await pool.aclose()


async def test_an_error_reply_raises_and_the_next_command_is_answered() -> None:
    pool = RedisPool.from_url(REDIS_URL)
    try:
        with pytest.raises(ResponseError):
            await pool.call("NOSUCHCOMMAND")
        assert await pool.call("ECHO", "ok") == b"ok"
    finally:
        await pool.aclose()


async def test_an_unreachable_redis_raises_a_connection_error() -> None:
    pool = RedisPool.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    with pytest.raises(ConnectionError):
        await pool.call("PING")
