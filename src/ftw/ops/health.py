"""Liveness: the process answers and its database does."""

from __future__ import annotations

import time

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from ftw.accounts.auth import Anyone
from ftw.core.deps import SessionDep

router = APIRouter(tags=["ops"])


@router.get("/healthz")
async def healthz(session: SessionDep, _: Anyone) -> JSONResponse:
    started = time.perf_counter()
    try:
        await session.execute(text("SELECT 1"))
    except Exception as exc:  # any failure means not healthy; say which
        return JSONResponse({"status": "fail", "database": type(exc).__name__}, status_code=503)
    return JSONResponse(
        {"status": "ok", "database_ms": round((time.perf_counter() - started) * 1000, 2)},
    )
