"""Load protection: bounded concurrent work per instance, abandoned work when the client
leaves.

Every API request reads MongoDB (its API key at least), so the number of requests in
flight is the number of database operations in flight. Without a bound, a burst of
expensive list requests piles up on the database until none of them completes in time
and every client retries into the pile. Here at most ``max_concurrent`` requests run
at once; a request over the limit waits up to ``queue_timeout`` seconds for a slot and
is then answered 503 + ``Retry-After`` at once, so the gateway stays fast for the
requests it takes and honest about the ones it cannot.

A read whose client disconnects is cancelled: its MongoDB call is abandoned (PyMongo
closes the connection) and the server stops the query at its ``maxTimeMS`` at the
latest. A REST read that has not started its response within ``read_deadline`` is
cancelled the same way and answered 503 + Retry-After: a database that hangs (rather
than refuses) would otherwise hold it for a socket timeout per retry. Writes (and
their commands) are not cut short: a reply half done when its client left would be
worse than a reply completed for no one; their own bounds (socket timeout, command
timeout) end them. GraphQL requests are POSTs but mostly queries: they are cancelled
when their client leaves (a mutation's command publish is bounded and refused as a
whole), but get no deadline, since a mutation may be under way.

Probes (/health, /ready), the metrics scrape and the API documents bypass the limit,
so a saturated instance is not restarted for being busy, and is seen to be busy.
"""

from __future__ import annotations

import asyncio
from asyncio import FIRST_COMPLETED
from collections.abc import Collection
from http import HTTPStatus

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from parley_gateway.api.problems import PROBLEM_TYPE_BASE, problem_response
from parley_platform.logging import get_logger

log = get_logger(__name__)

UNLIMITED_PATHS = frozenset({"/health", "/ready", "/metrics", "/openapi.json", "/docs", "/redoc"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SATURATED_RETRY_AFTER_SECONDS = 1


class ConcurrencyLimit:
    """ASGI middleware: a semaphore around each request, cancellation on disconnect."""

    def __init__(
        self,
        app: ASGIApp,
        max_concurrent: int,
        queue_timeout: float,
        *,
        read_deadline: float | None = None,
        retry_after: int = 5,
        unlimited_paths: Collection[str] = UNLIMITED_PATHS,
        cancellable_paths: Collection[str] = ("/graphql",),
    ) -> None:
        self.app = app
        self.read_deadline = read_deadline
        self.retry_after = retry_after
        self.max_concurrent = max_concurrent
        self.queue_timeout = queue_timeout
        self.unlimited_paths = frozenset(unlimited_paths)
        self.cancellable_paths = frozenset(cancellable_paths)
        self._slots = asyncio.Semaphore(max_concurrent)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path", "") in self.unlimited_paths:
            await self.app(scope, receive, send)
            return
        try:
            async with asyncio.timeout(self.queue_timeout):
                await self._slots.acquire()
        except TimeoutError:
            await self._refuse(scope, receive, send)
            return
        try:
            if scope.get("method") in SAFE_METHODS:
                await run_until_disconnect(
                    self.app,
                    scope,
                    receive,
                    send,
                    deadline=self.read_deadline,
                    on_deadline=self._too_slow,
                )
            elif scope.get("path") in self.cancellable_paths:
                await run_until_disconnect(self.app, scope, receive, send)
            else:
                await self.app(scope, receive, send)
        finally:
            self._slots.release()

    async def _too_slow(self, scope: Scope, receive: Receive, send: Send) -> None:
        deadline = f"{self.read_deadline:g}" if self.read_deadline is not None else "?"
        response = problem_response(
            Request(scope, receive),
            HTTPStatus.SERVICE_UNAVAILABLE,
            f"The request did not complete within {deadline} s (the discussion store is "
            "slow or unreachable); retry after the Retry-After delay.",
            problem_type=PROBLEM_TYPE_BASE + "store-unavailable",
            title="Store unavailable",
            headers={"Retry-After": str(self.retry_after)},
        )
        await response(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        log.warning("saturated: request refused", path=scope.get("path"))
        response = problem_response(
            Request(scope, receive),
            HTTPStatus.SERVICE_UNAVAILABLE,
            f"This gateway is working on {self.max_concurrent} requests already; retry "
            "after the Retry-After delay.",
            problem_type=PROBLEM_TYPE_BASE + "saturated",
            title="Too busy",
            headers={"Retry-After": str(SATURATED_RETRY_AFTER_SECONDS)},
        )
        await response(scope, receive, send)


async def run_until_disconnect(
    app: ASGIApp,
    scope: Scope,
    receive: Receive,
    send: Send,
    *,
    deadline: float | None = None,
    on_deadline: ASGIApp | None = None,
) -> None:
    """Runs ``app``; cancels it if the client disconnects before the response is sent,
    or if no response has started within ``deadline`` seconds (then ``on_deadline``
    answers instead). A response under way (a download) is never cut by the deadline.

    One reader owns the server's ``receive``: it hands the request's messages to the
    app through a one-slot queue (a body is never read ahead by more than a chunk),
    then waits for the disconnect the server reports when the client goes away.
    """
    inbox: asyncio.Queue[Message] = asyncio.Queue(maxsize=1)
    started = asyncio.Event()
    responded = False

    async def app_receive() -> Message:
        return await inbox.get()

    async def tracking_send(message: Message) -> None:
        nonlocal responded
        if message["type"] == "http.response.start":
            started.set()
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            responded = True
        await send(message)

    async def handle() -> None:
        await app(scope, app_receive, tracking_send)

    handler = asyncio.create_task(handle())

    async def read() -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                if not responded and not handler.done():
                    log.info("client disconnected: request abandoned", path=scope.get("path"))
                    handler.cancel()
                # Anyone still listening (a streaming response) learns it too.
                if not inbox.full():
                    inbox.put_nowait(message)
                return
            await inbox.put(message)

    reader = asyncio.create_task(read())
    timed_out = False
    try:
        if deadline is not None:
            response_started = asyncio.create_task(started.wait())
            done, _ = await asyncio.wait(
                {handler, response_started}, timeout=deadline, return_when=FIRST_COMPLETED
            )
            response_started.cancel()
            if not done:
                timed_out = True
                log.warning("request over its deadline: abandoned", path=scope.get("path"))
                handler.cancel()
        await handler
    except asyncio.CancelledError:
        if not handler.cancelled() or _current_task_cancelling():
            raise  # we are being cancelled ourselves, not by a disconnect or the deadline
    finally:
        reader.cancel()
    if timed_out and on_deadline is not None and not started.is_set():
        await on_deadline(scope, receive, send)


def _current_task_cancelling() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
