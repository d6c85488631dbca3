"""Stopping background tasks: the one way a service ends its loops at shutdown.

Cancelling once and awaiting is not enough on Python 3.11: ``asyncio.wait_for`` drops
a cancellation that lands in the loop turn its inner future completes in, and PyMongo's
socket send goes through it. A loop whose cancellation was dropped so goes on (its next
sleep, its next pass), and a shutdown that awaits it never ends; a test session's
teardown hung on exactly that. So the task is cancelled again until it ends, for at
most a grace period, and what is still running then is left behind and named.
"""

from __future__ import annotations

import asyncio
from typing import Any

from .logging import get_logger

log = get_logger(__name__)

RECANCEL_SECONDS = 0.1  # how often a task still running is cancelled again


async def cancel_and_wait(*tasks: asyncio.Task[Any], grace: float = 5.0) -> set[asyncio.Task[Any]]:
    """Cancels ``tasks`` and waits for them to end; answers those still running after
    ``grace`` s (logged as left behind). A task's own exception is not raised here:
    it was logged where it happened, and a shutdown goes on regardless."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace
    pending = {t for t in tasks if not t.done()}
    while pending:
        remaining = deadline - loop.time()
        if remaining <= 0:
            break
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=min(RECANCEL_SECONDS, remaining))
    for task in pending:
        log.warning("task still running at shutdown: left behind", task=task.get_name())
    for task in tasks:
        if task.done() and not task.cancelled():
            task.exception()  # retrieved: no "exception was never retrieved" at exit
    return pending
