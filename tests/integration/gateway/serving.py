"""The gateway served over HTTP by uvicorn, for tests that need a real server.

An in-process ASGI transport buffers a response until it ends, and an event stream
does not end: those tests run the app under uvicorn, on a port of its own, with its
real lifespan (MongoDB, Kafka producer, the live events reader).
"""

from __future__ import annotations

import asyncio
import random
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import uvicorn
from devstack import STATIC_PORTS
from support.waiting import eventually

from parley_gateway.app import create_app
from parley_gateway.bootstrap import Runtime
from parley_gateway.config import GatewaySettings


@dataclass(frozen=True)
class Served:
    """A gateway served over HTTP: its base URL and its running runtime."""

    url: str
    runtime: Runtime


def listening_socket() -> socket.socket:
    """A socket bound to a free port below the kernel's ephemeral range, as devstack's
    ``Ports.free`` picks them (see there why), handed to uvicorn still bound: nothing
    can take the port between choosing it and serving on it."""
    rng = random.Random()
    while True:
        sock = socket.socket()
        try:
            sock.bind(("127.0.0.1", rng.randrange(*STATIC_PORTS)))
        except OSError:
            sock.close()
            continue
        return sock


@asynccontextmanager
async def serve(settings: GatewaySettings) -> AsyncIterator[Served]:
    """The app under uvicorn, once it serves and its live reader follows the events
    topic (from the topic's end, once it has its partitions); stopped on the way out.

    uvicorn logs at info: a failing test shows the requests it made (access log).
    """
    sock = listening_socket()
    port = int(sock.getsockname()[1])
    app = create_app(settings.model_copy(update={"gateway_live_keepalive_seconds": 0.5}))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="info"))
    task = asyncio.create_task(server.serve(sockets=[sock]))

    async def started() -> bool:
        if task.done():  # it failed to start: say why now, not after the timeout
            task.result()
            raise AssertionError("uvicorn stopped before it started")
        return bool(server.started)

    try:
        await eventually(started, timeout=30, interval=0.05)
        runtime: Runtime = app.state.runtime
        live = runtime.live
        assert live is not None

        async def following() -> bool:
            return bool(live.position.offsets)

        await eventually(following, timeout=30, interval=0.05)
        yield Served(f"http://127.0.0.1:{port}", runtime)
    finally:
        server.should_exit = True
        await task
        sock.close()
