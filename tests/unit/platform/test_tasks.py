"""Stopping background tasks when a cancellation can be dropped (Python 3.11's
``asyncio.wait_for``, under PyMongo's socket send): parley_platform.tasks."""

from __future__ import annotations

import asyncio

from parley_platform.tasks import cancel_and_wait


async def _drops_the_first_cancellation(passes: list[int]) -> None:
    """A periodic loop whose pass turns one cancellation into an ordinary result, as a
    driver call does when the cancel lands as its I/O completes."""
    dropped = False
    while True:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            if dropped:
                raise
            dropped = True
        passes.append(1)


async def test_a_task_that_drops_a_cancellation_is_cancelled_again_until_it_ends() -> None:
    passes: list[int] = []
    task = asyncio.create_task(_drops_the_first_cancellation(passes))
    await asyncio.sleep(0)
    assert await cancel_and_wait(task, grace=2) == set()
    assert task.cancelled()
    assert passes == [1]  # it did go on once after the first cancellation


async def test_a_task_that_never_ends_is_left_behind_after_the_timeout() -> None:
    release = asyncio.Event()

    async def stubborn() -> None:
        while not release.is_set():
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                continue

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0)
    assert await cancel_and_wait(task, grace=0.3) == {task}
    assert not task.done()
    release.set()
    task.cancel()
    await asyncio.wait([task], timeout=1)
    assert task.done()


async def test_finished_and_failed_tasks_are_fine_to_stop() -> None:
    async def fails() -> None:
        raise RuntimeError("boom")

    done = asyncio.create_task(asyncio.sleep(0))
    failed = asyncio.create_task(fails())
    await asyncio.wait([done, failed])
    assert await cancel_and_wait(done, failed, grace=1) == set()
