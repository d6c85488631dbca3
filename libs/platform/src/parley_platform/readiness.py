"""Readiness that means it: a service is ready only when it can do its work now.

``/health`` says the process is alive (restart it if not); ``/ready`` says whether to
send it work. A stream processor that cannot reach MongoDB or the broker, or has not
yet joined its consumer group (no partitions assigned, or a rebalance in progress),
processes nothing, so it answers 503 with the failing checks named, and the
orchestrator keeps it out of rotation and the operator sees why.

Each check runs under its own short deadline, all at once, so a probe answers within
a couple of seconds even while a dependency hangs rather than refuses.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiokafka import AIOKafkaClient
from pymongo import AsyncMongoClient

from .kafka_security import KafkaSecurity, kafka_client_options

Check = Callable[[], Awaitable[object]]

DEFAULT_CHECK_TIMEOUT = 2.0


@dataclass(frozen=True)
class Readiness:
    """The outcome of every check: ``ok`` or why not."""

    checks: Mapping[str, str]

    @property
    def ready(self) -> bool:
        return all(value == "ok" for value in self.checks.values())

    @property
    def status(self) -> int:
        return 200 if self.ready else 503

    def body(self, service: str) -> dict[str, Any]:
        return {
            "status": "ready" if self.ready else "not ready",
            "service": service,
            "checks": dict(self.checks),
        }


async def _run(check: Check, within: float) -> str:
    """``ok`` when ``check`` returns a truthy value (or None) in time, else the reason."""
    try:
        async with asyncio.timeout(within):
            result = await check()
    except TimeoutError:
        return f"no answer within {within:g}s"
    except Exception as exc:  # any failure is a reason not to be ready, never a 500
        return f"failed ({type(exc).__name__})"
    if result is False:
        return "not yet"
    if isinstance(result, str):
        return result
    return "ok"


async def check_readiness(
    checks: Mapping[str, Check], *, within: float = DEFAULT_CHECK_TIMEOUT
) -> Readiness:
    """Runs every check concurrently, each bounded by ``within`` seconds."""
    names = list(checks)
    results = await asyncio.gather(*(_run(checks[name], within) for name in names))
    return Readiness(dict(zip(names, results, strict=True)))


@dataclass
class KafkaProbe:
    """Asks the broker for its metadata over one long-lived client connection.

    A port that accepts connections is not a broker that answers; a metadata request
    is the cheapest real question. The client is made on first use, inside the
    caller's event loop, and kept, so a probe costs one round trip.
    """

    bootstrap_servers: str
    request_timeout_ms: int = 2000
    security: KafkaSecurity | None = None
    _client: AIOKafkaClient | None = field(default=None, init=False, repr=False)

    async def __call__(self) -> bool:
        if self._client is None:
            client = AIOKafkaClient(
                bootstrap_servers=self.bootstrap_servers.split(","),
                request_timeout_ms=self.request_timeout_ms,
                **kafka_client_options(self.security),
            )
            try:
                await client.bootstrap()
            except BaseException:
                await client.close()
                raise
            self._client = client
        await self._client.fetch_all_metadata()
        return True

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None


def faust_group_joined(app: Any) -> Check:
    """A check that the Faust worker has joined its group and is not rebalancing.

    Until the group coordinator has assigned partitions the worker consumes nothing;
    during a rebalance it has stopped consuming. Either way it is not ready.
    """

    async def joined() -> str | bool:
        if getattr(app, "rebalancing", False):
            return "rebalancing"
        assignment: set[Any] = set()
        with contextlib.suppress(Exception):  # a consumer not started yet has none
            assignment = set(app.consumer.assignment())
        return True if assignment else "no partitions assigned yet"

    return joined


class _HasMongo(Protocol):
    mongo: AsyncMongoClient[Any]


def lazy_mongo_ping(runtime: Callable[[], Awaitable[_HasMongo]]) -> Check:
    """A MongoDB check through the worker's own client, once its runtime is built.

    The runtime is awaited shielded: a probe that times out while the worker is still
    connecting must not cancel the worker's own start-up.
    """

    building: asyncio.Future[_HasMongo] | None = None

    async def ping() -> None:
        nonlocal building
        # One waiter at most: probes every few seconds during a long outage must not
        # pile up tasks waiting for the same start-up.
        if building is None or (building.done() and building.exception() is not None):
            building = asyncio.ensure_future(runtime())
        built = await asyncio.shield(building)
        await built.mongo.admin.command("ping")

    return ping


def add_ready_page(
    app: Any,
    service: str,
    mongo: Check,
    kafka_bootstrap_servers: str,
    security: KafkaSecurity | None = None,
) -> None:
    """Serves ``GET /ready`` on a Faust app's web server: 200 when MongoDB and the broker
    answer and the worker holds partitions, else 503 naming what is missing."""
    checks: dict[str, Check] = {
        "mongodb": mongo,
        "kafka": KafkaProbe(kafka_bootstrap_servers, security=security),
        "consumer_group": faust_group_joined(app),
    }

    async def ready(web: Any, request: Any) -> Any:
        outcome = await check_readiness(checks)
        return web.json(outcome.body(service), status=outcome.status)

    app.page("/ready")(ready)
