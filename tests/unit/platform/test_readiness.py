"""Readiness checks: every failure is a named reason and a 503, never a hang or a 500."""

from __future__ import annotations

import asyncio
from typing import Any

from devstack import free_port

from parley_platform.readiness import (
    KafkaProbe,
    check_readiness,
    faust_group_joined,
    lazy_mongo_ping,
)


async def test_all_checks_ok_is_ready() -> None:
    async def fine() -> None:
        return None

    outcome = await check_readiness({"a": fine, "b": fine})
    assert outcome.ready and outcome.status == 200
    assert outcome.body("svc") == {
        "status": "ready",
        "service": "svc",
        "checks": {"a": "ok", "b": "ok"},
    }


async def test_a_failing_or_hanging_check_is_named_and_answers_503() -> None:
    async def fine() -> None:
        return None

    async def broken() -> None:
        raise ConnectionRefusedError("secret detail not shown")

    async def hangs() -> None:
        await asyncio.Event().wait()

    outcome = await check_readiness({"ok": fine, "db": broken, "broker": hangs}, within=0.2)
    assert outcome.status == 503
    assert outcome.checks == {
        "ok": "ok",
        "db": "failed (ConnectionRefusedError)",
        "broker": "no answer within 0.2s",
    }


async def test_a_broker_nobody_listens_on_is_not_ready() -> None:
    probe = KafkaProbe(f"127.0.0.1:{free_port()}", request_timeout_ms=500)
    try:
        outcome = await check_readiness({"kafka": probe}, within=2)
    finally:
        await probe.close()
    assert outcome.status == 503
    assert outcome.checks["kafka"] != "ok"


class FakeConsumer:
    def __init__(self, assigned: set[Any]) -> None:
        self.assigned = assigned

    def assignment(self) -> set[Any]:
        return self.assigned


class FakeApp:
    def __init__(self, assigned: set[Any], rebalancing: bool = False) -> None:
        self.consumer = FakeConsumer(assigned)
        self.rebalancing = rebalancing


async def test_a_worker_without_partitions_or_rebalancing_is_not_ready() -> None:
    cases = {
        "joined": faust_group_joined(FakeApp({("t", 0)})),
        "waiting": faust_group_joined(FakeApp(set())),
        "moving": faust_group_joined(FakeApp({("t", 0)}, rebalancing=True)),
    }
    outcome = await check_readiness(cases)
    assert outcome.checks == {
        "joined": "ok",
        "waiting": "no partitions assigned yet",
        "moving": "rebalancing",
    }


async def test_probes_during_a_long_start_up_share_one_waiter() -> None:
    started: list[int] = []
    release = asyncio.Event()

    class Runtime:
        mongo: Any = None

    async def runtime() -> Any:
        started.append(1)
        await release.wait()
        return Runtime()

    ping = lazy_mongo_ping(runtime)
    for _ in range(5):
        outcome = await check_readiness({"mongodb": ping}, within=0.05)
        assert outcome.checks["mongodb"] == "no answer within 0.05s"
    assert started == [1]
    release.set()
