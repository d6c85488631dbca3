"""What every phase of the suite shares: the run's names (database, topic prefix,
consumer groups), the services as processes (deploy/local/devstack.py's ServiceGroup,
as `make run` and the e2e tests start them), Kafka and MongoDB helpers, RSS readings.

The suite never touches `make run`'s or the tests' data: its database is
``parley_bench`` (MONGODB_DATABASE when set, never ``parley``/``parley_test``) and its
topics ``bench.<run>.``-prefixed, deleted at the end.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import sys
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from pymongo import AsyncMongoClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "deploy" / "local"))

from devstack import Ports, ServiceGroup  # type: ignore[import-not-found]  # noqa: E402

from bench.stats import parse_vmrss  # noqa: E402
from parley_platform.topics_admin import delete_topics, ensure_topics  # noqa: E402

FORBIDDEN_DATABASES = {"", "parley", "parley_test"}
SERVICES = ("ingest", "normalizer", "responder", "invoicer", "gateway")


@dataclass
class Context:
    """One run of the suite: where it writes and what it started."""

    bootstrap: str
    mongo_uri: str
    database: str
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    log_dir: Path = ROOT / ".run" / "bench" / "logs"
    prefixes: list[str] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)  # single topics (create_topic)
    groups: list[ServiceGroup] = field(default_factory=list)

    @classmethod
    def from_environment(cls) -> Context:
        missing = [n for n in ("KAFKA_BOOTSTRAP_SERVERS", "MONGODB_URI") if not os.environ.get(n)]
        if missing:
            raise SystemExit(f"{', '.join(missing)} not set: run it through `make bench`")
        database = os.environ.get("MONGODB_DATABASE") or "parley_bench"
        if database in FORBIDDEN_DATABASES or not database.startswith("parley_bench"):
            database = "parley_bench"
        return cls(os.environ["KAFKA_BOOTSTRAP_SERVERS"], os.environ["MONGODB_URI"], database)

    def prefix(self, name: str) -> str:
        """A topic prefix of this run (``bench.<run>.<name>.``), deleted at the end."""
        prefix = f"bench.{self.run_id}.{name}."
        self.prefixes.append(prefix)
        return prefix

    def mongo(self) -> AsyncMongoClient[Any]:
        return AsyncMongoClient(self.mongo_uri, tz_aware=True)

    async def fresh_database(self) -> None:
        client = self.mongo()
        try:
            await client.drop_database(self.database)
        finally:
            await client.close()

    def group(self, prefix: str, **env: str) -> ServiceGroup:
        """Services on free ports, on this run's database and ``prefix``'s topics; each
        Faust app and consumer group named after the prefix, so it starts from the
        beginning of its own topics."""
        tag = prefix.rstrip(".").replace(".", "-")
        self.log_dir.mkdir(parents=True, exist_ok=True)
        group = ServiceGroup(
            env={
                "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
                "MONGODB_URI": self.mongo_uri,
                "MONGODB_DATABASE": self.database,
                "KAFKA_TOPIC_PREFIX": prefix,
                "NORMALIZER_APP_ID": f"parley-normalizer-{tag}",
                "RESPONDER_APP_ID": f"parley-responder-{tag}",
                "INGEST_GROUP_ID": f"parley-ingest-{tag}",
                "LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
                **env,
            },
            ports=Ports.free(),
            log_dir=self.log_dir / tag,
        )
        if not self.groups:
            atexit.register(self.stop_processes)  # also after Ctrl-C or a crash
        self.groups.append(group)
        return group

    def stop_processes(self) -> None:
        for group in self.groups:
            group.stop_all()

    async def cleanup(self) -> None:
        self.stop_processes()
        for prefix in self.prefixes:
            with contextlib.suppress(Exception):
                await delete_topics(self.bootstrap, prefix)
        if self.topics:
            with contextlib.suppress(Exception):
                admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
                await admin.start()
                try:
                    await admin.delete_topics(self.topics)
                finally:
                    await admin.close()
        await self.fresh_database()


async def create_topics(ctx: Context, prefix: str) -> None:
    await ensure_topics(ctx.bootstrap, 1, prefix)


async def create_topic(ctx: Context, name: str, partitions: int) -> None:
    """One topic of this run (deleted at the end)."""
    ctx.topics.append(name)
    admin = AIOKafkaAdminClient(bootstrap_servers=ctx.bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        await admin.close()


async def server_kind(ctx: Context) -> str:
    """ "FerretDB <version>", "MongoDB <version>" or what buildInfo says."""
    client = ctx.mongo()
    try:
        info = await client.admin.command("buildInfo")
    finally:
        await client.close()
    if "ferretdb" in info or "ferretdbVersion" in info or "ferretdbFeatures" in info:
        ferret = info.get("ferretdb", {})
        version = ferret.get("version") if isinstance(ferret, dict) else None
        backend = (ferret.get("package") if isinstance(ferret, dict) else None) or ""
        return f"FerretDB {version or info.get('ferretdbVersion') or info.get('version')} {backend}"
    return f"MongoDB {info.get('version')}"


def is_ferretdb(kind: str) -> bool:
    return kind.lower().startswith("ferretdb")


def http_ok(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - local
            return bool(resp.status == 200)
    except OSError:
        return False


async def wait_until(url: str, within: float = 120.0) -> None:
    """Until ``url`` answers 200 (a Faust worker's /ready: it holds its partitions)."""
    deadline = time.monotonic() + within
    while not await asyncio.to_thread(http_ok, url):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} not 200 after {within:.0f} s")
        await asyncio.sleep(0.2)


def rss_bytes(pid: int) -> int | None:
    """Resident set size of a process from /proc/<pid>/status (VmRSS), or None."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    return parse_vmrss(text)


@contextlib.asynccontextmanager
async def producer(ctx: Context) -> AsyncIterator[AIOKafkaProducer]:
    prod = AIOKafkaProducer(bootstrap_servers=ctx.bootstrap, acks="all", linger_ms=5)
    await prod.start()
    try:
        yield prod
    finally:
        await prod.stop()


async def committed_reached(
    ctx: Context, group_id: str, ends: Mapping[TopicPartition, int]
) -> bool:
    """True once ``group_id`` has committed every partition up to ``ends``."""
    admin = AIOKafkaAdminClient(bootstrap_servers=ctx.bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group_id, partitions=list(ends))
    finally:
        await admin.close()
    for tp, end in ends.items():
        meta = offsets.get(tp)
        if end > 0 and (meta is None or meta.offset < end):
            return False
    return True


def new_consumer(ctx: Context, *topics: str, group: str | None = None) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        *topics,
        bootstrap_servers=ctx.bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_poll_records=500,
    )


async def wait_assigned(consumer: AIOKafkaConsumer, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while not consumer.assignment():
        if time.monotonic() > deadline:
            raise TimeoutError("the consumer got no partitions")
        await consumer.getmany(timeout_ms=100)


@contextlib.contextmanager
def stopped_on_exit(group: ServiceGroup) -> Iterator[ServiceGroup]:
    try:
        yield group
    finally:
        group.stop_all()
