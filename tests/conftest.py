"""Fixtures shared by every test layer: the real stack's addresses and clean databases.

Integration and end-to-end tests need the real Kafka broker and MongoDB-compatible
server that `make test` starts; when their addresses are missing the tests fail
loudly instead of skipping, so a broken stack can never pass as green.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from parley_platform.topics_admin import delete_topics, ensure_topics

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "deploy" / "local"))

# What `make run` uses (ServiceSettings' defaults): a test must never write there.
RUN_DATABASE = "parley"
RUN_TOPIC_PREFIX = ""
# Anything in the test session that falls back to the environment (settings objects
# built without a database or a prefix, subprocesses) gets these instead. The Makefile
# exports the same values; a bare `pytest` gets them from here.
TEST_DATABASE = os.environ.setdefault("MONGODB_DATABASE", "parley_test")
TEST_TOPIC_PREFIX = os.environ.setdefault("KAFKA_TOPIC_PREFIX", "test.")


def _print_tasks(_signum: int, _frame: Any) -> None:
    """``kill -USR1 <pytest pid>``: every asyncio task's stack, written to
    ``$TMPDIR/parley-asyncio-tasks-<pid>.txt`` (pytest captures stderr, so a dump there
    is lost with a hung test). A hung async fixture finalizer shows in thread dumps only
    as the event loop waiting; this names the coroutine it waits on."""
    path = Path(tempfile.gettempdir()) / f"parley-asyncio-tasks-{os.getpid()}.txt"
    loop = asyncio._get_running_loop()
    with path.open("a") as out:
        if loop is None:
            print("no running event loop", file=out)
            return
        for task in asyncio.all_tasks(loop):
            print(f"--- {task.get_name()}: {task.get_coro()!r}", file=out)
            task.print_stack(file=out)


signal.signal(signal.SIGUSR1, _print_tasks)

# structlog's built-in console renderer draws an exception with rich, every frame's
# locals included: one line logged with exc_info took 1.4-5 s of the event loop while
# MongoDB was down, and a timing test missed its deadline for it. Services configure
# their own (JSON) logging; code run in the test process gets plain tracebacks.
_PLAIN_CONSOLE = [
    structlog.contextvars.merge_contextvars,
    structlog.processors.add_log_level,
    structlog.processors.StackInfoRenderer(),
    structlog.dev.set_exc_info,
    structlog.processors.TimeStamper(fmt="%Y-%m-%d %H:%M:%S", utc=False),
    structlog.dev.ConsoleRenderer(exception_formatter=structlog.dev.plain_traceback),
]


@pytest.fixture(autouse=True)
def _plain_log_tracebacks() -> None:
    """Before each test: structlog's defaults with plain tracebacks, unless the process
    has configured structlog itself (a test's ``reset_defaults`` brings rich back)."""
    if not structlog.is_configured():
        structlog.configure(processors=_PLAIN_CONSOLE)


def pytest_configure(config: pytest.Config) -> None:
    """Refuses to run against the database or topics of `make run`."""
    if TEST_DATABASE in ("", RUN_DATABASE) or TEST_TOPIC_PREFIX == RUN_TOPIC_PREFIX:
        raise pytest.UsageError(
            f"MONGODB_DATABASE={TEST_DATABASE!r} KAFKA_TOPIC_PREFIX={TEST_TOPIC_PREFIX!r}: "
            "tests would write into what `make run` uses; unset them or pick test names"
        )


def require_env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set: run the tests through `make test`, which starts the stack")
    return value


@pytest.fixture(scope="session")
async def kafka_bootstrap() -> str:
    """The broker, with the session's topics (TEST_TOPIC_PREFIX) created: `make test`'s
    stack-up makes them already, a stack started by `make run` has only its own."""
    bootstrap = require_env("KAFKA_BOOTSTRAP_SERVERS")
    await ensure_topics(bootstrap, 1, TEST_TOPIC_PREFIX)
    return bootstrap


@pytest.fixture(scope="session")
def mongo_uri() -> str:
    return require_env("MONGODB_URI")


@pytest.fixture
async def topic_prefix(kafka_bootstrap: str) -> AsyncIterator[str]:
    """A private set of topics: tests that run services see only their own records."""
    prefix = f"t{uuid.uuid4().hex[:10]}."
    await ensure_topics(kafka_bootstrap, 1, prefix)
    try:
        yield prefix
    finally:
        await delete_topics(kafka_bootstrap, prefix)


@pytest.fixture
async def mongo_db(mongo_uri: str) -> AsyncIterator[AsyncDatabase[Any]]:
    """A throw-away database per test: tests never see each other's documents."""
    client: AsyncMongoClient[Any] = AsyncMongoClient(mongo_uri, tz_aware=True)
    name = f"parley_test_{uuid.uuid4().hex[:12]}"
    try:
        yield client[name]
    finally:
        await client.drop_database(name)
        await client.close()
