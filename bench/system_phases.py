"""P2 (freshness) and P4 (autoresponse): the whole system as processes, like `make run`.

P2: per family, a buyer message is created in the sandbox through its control API and
the clock runs from the moment ingest fetched it (the ``fetched_at`` of the raw
snapshot that first carries it, read from the raw topic) until the gateway lists it
(``GET /discussions?store_id=…``, polled every 50 ms). For the email relay (pushed)
``fetched_at`` is ingest's SMTP acceptance of the mail. Baseline: the floor of one
hop, i.e. produce a record, an aiokafka consumer upserts it by ``_id`` (one record at a
time, same number of samples).

P4: the merchant enables the Mirakl autoresponder through the gateway; per sample a
buyer opens a thread in the sandbox and the clock runs from the fetch until the
sandbox has received the autoresponse (its replies, polled every 50 ms). Baseline:
the floor of two hops (raw → normalizer → events → responder): consume, upsert by
``_id``, produce, consume, upsert.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pymongo import UpdateOne

from bench.harness import (
    SERVICES,
    Context,
    create_topic,
    create_topics,
    new_consumer,
    producer,
    wait_assigned,
)
from bench.report import figure
from bench.stats import summary

TOKEN = re.compile(r"BENCH[0-9a-f]{12}")
POLL_S = 0.05
TIMEOUT_S = 60.0
SYNC_INTERVAL_S = 1


class System:
    """Sandbox + the five services on a topic prefix of their own, a raw-topic watcher
    (token → fetched_at) and an API key for the bench's stores."""

    def __init__(self, ctx: Context, progress: Callable[[str], None]) -> None:
        self.ctx = ctx
        self.progress = progress
        self.fetched: dict[str, datetime] = {}
        self._watcher: asyncio.Task[None] | None = None
        self.stores = [f"bench-{f}" for f in ("mirakl", "allegro", "fnac", "rakuten", "email")]
        self.stores.append("bench-auto")

    async def __aenter__(self) -> System:
        ctx = self.ctx
        await ctx.fresh_database()
        self.prefix = ctx.prefix("sys")
        await create_topics(ctx, self.prefix)
        self.group = ctx.group(
            self.prefix,
            INGEST_TICK_SECONDS="0.2",
            RESPONDER_BASE_DELAY_SECONDS="0.2",
            SANDBOX_SEED="0",
        )
        self.progress("system: starting the sandbox and the five services")
        self.group.start_sandbox()
        self.group.start_services()
        from devstack import create_api_key  # type: ignore[import-not-found]

        key = await asyncio.to_thread(
            create_api_key, self.group, f"bench-{ctx.run_id}", self.stores
        )
        self.gateway = httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{self.group.ports.gateway}",
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )
        self.sandbox = httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{self.group.ports.sandbox}", timeout=30
        )
        self._watcher = asyncio.create_task(self._watch_raw())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._watcher:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._watcher
        with contextlib.suppress(Exception):
            await self.gateway.aclose()
            await self.sandbox.aclose()
        self.group.stop_all()

    def pids(self) -> dict[str, int]:
        return {n: p.pid for n, p in self.group.processes.items() if n in SERVICES}

    async def _watch_raw(self) -> None:
        from parley_schemas import MARKETPLACE_RAW, decode

        consumer = new_consumer(self.ctx, self.prefix + MARKETPLACE_RAW.name)
        await consumer.start()
        try:
            while True:
                batches = await consumer.getmany(timeout_ms=200)
                for recs in batches.values():
                    for rec in recs:
                        snap = decode(rec.value, MARKETPLACE_RAW).data
                        for message in snap.messages:
                            for token in TOKEN.findall(message.body):
                                self.fetched.setdefault(token, snap.fetched_at)
        finally:
            await consumer.stop()

    def activate(self, family: str, store: str, instance: str, marketplace: str | None) -> str:
        out: str = self.group.activate_family(
            family,
            f"{store}-{marketplace or instance}",
            store,
            instance,
            marketplace=marketplace,
            since=datetime.now(UTC) - timedelta(minutes=1),
            interval_seconds=SYNC_INTERVAL_S,
        )
        return out

    async def fetched_at(self, token: str) -> datetime:
        deadline = time.monotonic() + 10
        while token not in self.fetched:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no raw snapshot carried {token}")
            await asyncio.sleep(0.02)
        return self.fetched[token]


async def poll(condition: Callable[[], Awaitable[bool]], what: str) -> float:
    """Polls every 50 ms; answers the wall-clock time (epoch seconds) it first held."""
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        if await condition():
            return time.time()
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {TIMEOUT_S:.0f} s")
        await asyncio.sleep(POLL_S)


def new_token() -> str:
    return f"BENCH{uuid.uuid4().hex[:12]}"


# ------------------------------------------------------------------- P2: freshness

Writer = Callable[[System, str], Awaitable[None]]


def families(system: System, run: str) -> dict[str, tuple[str, Writer]]:
    """family → (store, how a buyer writes a message carrying a token)."""
    sb = system.sandbox

    async def mirakl(s: System, token: str) -> None:
        r = await sb.post(
            f"/_sandbox/mirakl/bench{run}/messages",
            json={
                "body": f"{token} où est ma commande ?",
                "sender": "CUSTOMER",
                "customer_name": "Camille Martin",
                "order_id": f"O-{token}-A",
            },
        )
        r.raise_for_status()

    async def allegro(s: System, token: str) -> None:
        r = await sb.post(
            f"/_sandbox/allegro/bench{run}/messages",
            json={
                "text": f"{token} kiedy wysyłka?",
                "buyer_login": "kupujacy_bench",
                "subject": "Pytanie",
                "order_id": str(uuid.uuid4()),
            },
        )
        r.raise_for_status()

    async def fnac(s: System, token: str) -> None:
        r = await sb.post(
            f"/_sandbox/fnac/bench{run}/messages",
            json={
                "body": f"{token} suivi ?",
                "sender_name": "Camille Martin",
                "order_id": uuid.uuid4().hex[:13].upper(),
                "subject": "Commande",
            },
        )
        r.raise_for_status()

    async def rakuten(s: System, token: str) -> None:
        r = await sb.post(
            f"/_sandbox/rakuten/bench{run}/messages",
            json={"body": f"{token} expédition ?", "buyer": "marie.bench", "headline": "Blu-ray"},
        )
        r.raise_for_status()

    inbound: dict[str, str] = {}

    async def email(s: System, token: str) -> None:
        digits = f"{uuid.uuid4().int % 10**17:017d}"
        r = await sb.post(
            "/_sandbox/email/inbound",
            json={
                "to": inbound["address"],
                "marketplace": "amazon",
                "tld": "fr",
                "buyer_name": "Léa Moreau",
                "buyer_alias": f"bench{token[5:]}",
                "order_id": f"{digits[:3]}-{digits[3:10]}-{digits[10:]}",
                "body": f"{token} colis non reçu",
            },
        )
        r.raise_for_status()
        if not r.json().get("accepted"):
            raise RuntimeError(f"the relay refused the mail: {r.text}")

    async def setup_email() -> None:
        printed = system.activate("email_relay", "bench-email", "", "amazon-fr")
        inbound["address"] = printed.splitlines()[-1]

    system.setup_email = setup_email  # type: ignore[attr-defined]
    return {
        "mirakl": ("bench-mirakl", mirakl),
        "allegro": ("bench-allegro", allegro),
        "fnac": ("bench-fnac", fnac),
        "rakuten": ("bench-rakuten", rakuten),
        "email_relay": ("bench-email", email),
    }


async def listed(system: System, store: str, token: str) -> bool:
    """On the store's first page of 100: the family's discussions of a run all share a
    minute where the marketplace dates to the minute (Rakuten), and the list breaks
    that tie by id, so a new one need not be among the first 10."""
    r = await system.gateway.get("/discussions", params={"store_id": store, "limit": "100"})
    r.raise_for_status()
    return any(token in (item.get("last_message_preview") or "") for item in r.json()["items"])


async def floor(ctx: Context, hops: int, samples: int) -> list[float]:
    """Seconds from producing a record until ``hops`` consumers in a chain have each
    upserted it by ``_id`` (and passed it on): the least a pipeline of that many Kafka
    hops can take on this machine."""
    topics = [f"bench.{ctx.run_id}.floor{hops}.{i}" for i in range(hops)]
    for topic in topics:
        await create_topic(ctx, topic, 1)
    consumers = [new_consumer(ctx, t, group=f"{t}-g") for t in topics]
    client = ctx.mongo()
    coll = client[ctx.database]["bench_floor"]
    done: dict[str, float] = {}
    try:
        for c in consumers:
            await c.start()
            await wait_assigned(c)
        async with producer(ctx) as prod:

            async def hop(i: int) -> None:
                while True:
                    batches = await consumers[i].getmany(timeout_ms=100)
                    for recs in batches.values():
                        for rec in recs:
                            key = rec.value.decode()
                            await coll.bulk_write(
                                [
                                    UpdateOne(
                                        {"_id": f"{i}:{key}"}, {"$set": {"v": key}}, upsert=True
                                    )
                                ]
                            )
                            await consumers[i].commit()
                            if i + 1 < hops:
                                await prod.send_and_wait(topics[i + 1], rec.value)
                            else:
                                done[key] = time.perf_counter()

            tasks = [asyncio.create_task(hop(i)) for i in range(hops)]
            try:
                out = []
                for n in range(samples + 1):  # the first one warms the path up
                    key = uuid.uuid4().hex
                    start = time.perf_counter()
                    await prod.send_and_wait(topics[0], key.encode())
                    deadline = time.monotonic() + 30
                    while key not in done:
                        if time.monotonic() > deadline:
                            raise TimeoutError("the floor pipeline did not deliver")
                        await asyncio.sleep(0.001)
                    if n:
                        out.append(done[key] - start)
                return out
            finally:
                for t in tasks:
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        for c in consumers:
            await c.stop()
        await coll.drop()
        await client.close()


async def freshness(system: System, samples: int) -> dict[str, Any]:
    run = system.ctx.run_id
    fams = families(system, run)
    await system.sandbox.put(f"/_sandbox/allegro/bench{run}", json={})
    for family, (store, _) in fams.items():
        if family == "email_relay":
            await system.setup_email()  # type: ignore[attr-defined]
        else:
            marketplace = "allegro" if family == "allegro" else None
            system.activate(family, store, f"bench{run}", marketplace)
    system.progress("P2: baseline (one Kafka hop + upsert)")
    base = summary(await floor(system.ctx, 1, samples))
    figures: list[dict[str, Any]] = []
    notes: list[str] = []
    raw: dict[str, list[float]] = {}
    for family, (store, write) in fams.items():
        latencies: list[float] = []
        for n in range(samples):
            system.progress(f"P2 {family}: {n + 1}/{samples}")
            token = new_token()
            await write(system, token)

            async def visible(s: str = store, t: str = token) -> bool:
                return await listed(system, s, t)

            seen = await poll(visible, f"{family} {token}")
            fetched = await system.fetched_at(token)
            latencies.append(seen - fetched.timestamp())
        stats = summary(latencies)
        raw[family] = latencies
        for stat in ("p50", "p99"):
            figures.append(figure(f"{family} {stat}", stats[stat], base[stat], "s", group=family))
    notes.append(
        f"latencies are polled every {POLL_S * 1000:.0f} ms through the gateway: up to that much "
        "(plus one list request) is the measurement's own; ingest syncs every "
        f"{SYNC_INTERVAL_S} s, which the figure excludes (it starts at the fetch)"
    )
    return {
        "title": "freshness: marketplace message → visible through the API",
        "measures": f"{samples} messages per family, from ingest's fetch (email relay: SMTP "
        "acceptance) to the gateway listing it",
        "baseline": "one Kafka hop: produce, an aiokafka consumer upserts by _id (p50/p99 of "
        "as many samples)",
        "figures": figures,
        "notes": notes,
        "samples": raw,
    }


# ------------------------------------------------------------------- P4: autoresponse


async def autoresponse(system: System, samples: int) -> dict[str, Any]:
    run = system.ctx.run_id
    store, instance = "bench-auto", f"benchauto{run}"
    r = await system.gateway.put(
        f"/autoresponders/{store}/{instance}/messages",
        json={
            "enabled": True,
            "template": "Hello {buyer_name}, we got your message about {order_id}.",
            "shop_name": "Boutique Bench",
            "sender_name": "Service client",
            "notify_shop_address": f"shop-{run}@example.com",
        },
    )
    r.raise_for_status()
    system.activate("mirakl", store, instance, None)
    system.progress("P4: baseline (two Kafka hops + upserts)")
    base = summary(await floor(system.ctx, 2, samples))
    from_fetch, from_write = [], []
    for n in range(samples):
        system.progress(f"P4: {n + 1}/{samples}")
        token = new_token()
        written_at = time.time()
        w = await system.sandbox.post(
            f"/_sandbox/mirakl/{instance}/messages",
            json={
                "body": f"{token} bonjour",
                "sender": "CUSTOMER",
                "customer_name": "Camille Martin",
                "order_id": f"O-{token}-A",
            },
        )
        w.raise_for_status()
        thread = w.json()["thread_id"]

        async def replied(t: str = thread) -> bool:
            got = await system.sandbox.get(
                f"/_sandbox/mirakl/{instance}/replies", params={"thread_id": t}
            )
            got.raise_for_status()
            return bool(got.json()["replies"])

        seen = await poll(replied, f"autoresponse to {token}")
        fetched = await system.fetched_at(token)
        from_fetch.append(seen - fetched.timestamp())
        from_write.append(seen - written_at)
    a, w_ = summary(from_fetch), summary(from_write)
    figures = [
        figure(f"fetch → autoresponse {stat}", a[stat], base[stat], "s", group="mirakl")
        for stat in ("p50", "p99")
    ]
    return {
        "title": "buyer message → autoresponse at the sandbox",
        "measures": f"{samples} buyer messages on a Mirakl instance with the autoresponder "
        "enabled through the gateway; from ingest's fetch to the sandbox holding the reply "
        f"(polled every {POLL_S * 1000:.0f} ms)",
        "baseline": "two Kafka hops (consume, upsert by _id, produce, consume, upsert)",
        "figures": figures,
        "notes": [
            f"from the buyer's message (sync interval {SYNC_INTERVAL_S} s included): "
            f"p50 {w_['p50']:.2f} s, p99 {w_['p99']:.2f} s"
        ],
        "samples": {"from_fetch": from_fetch, "from_write": from_write},
    }
