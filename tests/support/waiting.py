"""Waiting for an eventually-consistent condition, with a deadline and a clear failure."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


async def eventually(
    condition: Callable[[], Awaitable[bool]], *, timeout: float = 30.0, interval: float = 0.3
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await condition():
        if loop.time() > deadline:
            raise AssertionError(f"condition {condition!r} not met within {timeout:.0f} s")
        await asyncio.sleep(interval)
