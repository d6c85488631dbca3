"""Probes: liveness says the process serves HTTP, readiness that MongoDB answers.

Kafka is not part of readiness: the list and the detail work without it, and a reply
that cannot be queued gets its own 503, so a broker outage does not take reads down.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, HTTPException

from parley_gateway.api.dependencies import Service, Settings
from parley_gateway.api.problems import PROBLEM_RESPONSES
from parley_platform.logging import get_logger

router = APIRouter(tags=["probes"])
log = get_logger(__name__)


@router.get("/health", summary="Liveness")
async def health() -> dict[str, str]:
    return {"status": "ok", "service": "gateway"}


@router.get("/ready", summary="Readiness: MongoDB answers", responses={503: PROBLEM_RESPONSES[503]})
async def ready(service: Service, settings: Settings) -> dict[str, str]:
    try:
        async with asyncio.timeout(settings.gateway_ready_timeout_seconds):
            await service.check_ready()
    except Exception as exc:
        log.warning("not ready", reason=f"{type(exc).__name__}: {exc}")
        raise HTTPException(status_code=503, detail="MongoDB does not answer.") from exc
    return {"status": "ready"}
