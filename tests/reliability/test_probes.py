"""Probes that break the running system as an operator would, counting the damage.

Each probe drives a burst through the real system (sandbox → ingest → Kafka →
normalizer → MongoDB; gateway → Kafka → responder → sandbox), breaks one thing in
the middle — a service killed with SIGKILL, the broker or the database stopped — or
has the marketplace misbehave, lets the system recover, and counts:

- lost: a buyer message at the marketplace that Parley never stored, or a reply the
  API accepted that never reached the marketplace;
- duplicated: a buyer message stored twice;
- double-sent: a reply that reached the marketplace more than once;
- falsely sent: a reply shown ``sent`` whose message is not at the marketplace.

Counts are bounded (tens of messages), so the suite fits in CI.
"""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from devstack import ServiceGroup, create_api_key
from pymongo.asynchronous.database import AsyncDatabase
from support.reliability import PrivateStack, Report
from support.waiting import eventually

from parley_schemas import DiscussionKey
from parley_store import DELIVERIES, MESSAGES

pytestmark = pytest.mark.reliability

MARKETPLACE = "carrefour"
SETTLE = 120.0  # how long the system may take to recover and catch up


def _suffix() -> str:
    return uuid.uuid4().hex[:8]


async def _connected(system: ServiceGroup, name: str) -> tuple[str, str]:
    """A store on its own sandbox Mirakl instance, synced every 2 s."""
    store, instance = f"rel-{name}-{_suffix()}", f"rel{name}{_suffix()}"
    system.activate_family(
        "mirakl",
        f"{store}-{MARKETPLACE}",
        store,
        instance,
        marketplace=MARKETPLACE,
        since=datetime.now(UTC) - timedelta(minutes=1),
        interval_seconds=2,
    )
    return store, instance


async def _buyer_writes(
    sandbox: httpx.AsyncClient, instance: str, body: str, thread_id: str | None = None
) -> dict[str, Any]:
    payload: dict[str, Any] = {"body": body, "sender": "CUSTOMER", "customer_name": "Ana Reis"}
    if thread_id:
        payload["thread_id"] = thread_id
    answer = await sandbox.post(f"/_sandbox/mirakl/{instance}/messages", json=payload)
    assert answer.status_code == 201, answer.text
    result: dict[str, Any] = answer.json()
    return result


async def _stored_inbound(db: AsyncDatabase[Any], store: str, threads: set[str]) -> Counter[str]:
    """How many times each marketplace message id is stored, over the given threads."""
    seen: Counter[str] = Counter()
    for thread in threads:
        key = DiscussionKey(store_id=store, marketplace=MARKETPLACE, thread_id=thread)
        async for doc in db[MESSAGES].find(
            {"discussion_id": key.discussion_id}, {"marketplace_message_id": 1, "direction": 1}
        ):
            if doc.get("direction") == "inbound":
                seen[str(doc.get("marketplace_message_id"))] += 1
    return seen


async def _burst_while(
    system: ServiceGroup,
    sandbox: httpx.AsyncClient,
    db: AsyncDatabase[Any],
    report: Report,
    probe: str,
    breakage: Any,
    *,
    threads: int = 10,
    per_thread: int = 3,
) -> None:
    """Buyer messages arrive while ``breakage`` (an async callable) breaks something."""
    store, instance = await _connected(system, "".join(c for c in probe if c.isalnum())[:12])
    sent: dict[str, str] = {}  # marketplace message id → thread
    thread_ids: list[str] = []
    for i in range(threads):
        first = await _buyer_writes(sandbox, instance, f"Question {i}.0")
        thread_ids.append(first["thread_id"])
        sent[first["message_id"]] = first["thread_id"]
    broken = asyncio.create_task(breakage())
    for round_ in range(1, per_thread):
        for i, thread in enumerate(thread_ids):
            more = await _buyer_writes(sandbox, instance, f"Question {i}.{round_}", thread)
            sent[more["message_id"]] = thread
        await asyncio.sleep(0.5)  # spread the burst over the breakage
    await broken
    threads_set = set(thread_ids)
    seen: Counter[str] = Counter()

    async def all_stored() -> bool:
        seen.clear()
        seen.update(await _stored_inbound(db, store, threads_set))
        return set(sent) <= set(seen)

    await eventually(all_stored, timeout=SETTLE, interval=1.0)
    lost = len(set(sent) - set(seen))
    duplicated = sum(n - 1 for n in seen.values() if n > 1)
    report.record(probe, buyer_messages=len(sent), lost=lost, duplicated=duplicated)
    assert (lost, duplicated) == (0, 0)


def _kill_and_restart(system: ServiceGroup, name: str, delay: float = 1.5) -> Any:
    async def breakage() -> None:
        await asyncio.sleep(delay)
        system.stop(name, sig=signal.SIGKILL)
        await asyncio.sleep(1.0)
        system.start(name, f"parley_{name}")
        await asyncio.to_thread(system.wait_healthy, [name])

    return breakage


@pytest.mark.parametrize("service", ["ingest", "normalizer"])
async def test_a_service_killed_mid_burst_loses_and_duplicates_nothing(
    service: str,
    system: ServiceGroup,
    sandbox: httpx.AsyncClient,
    store_db: AsyncDatabase[Any],
    report: Report,
) -> None:
    await _burst_while(
        system,
        sandbox,
        store_db,
        report,
        f"kill -9 {service} mid-burst",
        _kill_and_restart(system, service),
    )


def _outage(stack: PrivateStack, name: str, seconds: float) -> Any:
    async def breakage() -> None:
        await asyncio.sleep(1.0)
        await asyncio.to_thread(stack.stop, name)
        await asyncio.sleep(seconds)
        await asyncio.to_thread(stack.start, name)

    return breakage


@pytest.mark.parametrize("dependency", ["kafka", "mongo"])
async def test_a_dependency_outage_mid_sync_loses_and_duplicates_nothing(
    dependency: str,
    private_stack: PrivateStack,
    system: ServiceGroup,
    sandbox: httpx.AsyncClient,
    store_db: AsyncDatabase[Any],
    report: Report,
) -> None:
    await _burst_while(
        system,
        sandbox,
        store_db,
        report,
        f"{dependency} stopped mid-sync",
        _outage(private_stack, dependency, 10.0),
    )


# --- replies -----------------------------------------------------------------------


async def _replies_at_marketplace(
    sandbox: httpx.AsyncClient, instance: str
) -> list[dict[str, Any]]:
    replies: list[dict[str, Any]] = (
        await sandbox.get(f"/_sandbox/mirakl/{instance}/replies")
    ).json()["replies"]
    return replies


async def _deliveries(db: AsyncDatabase[Any], command_ids: list[str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for command_id in command_ids:
        doc = await db[DELIVERIES].find_one({"_id": command_id})
        if doc is not None:
            found[command_id] = doc
    return found


async def test_replies_under_marketplace_faults_and_a_killed_responder_are_sent_once_truly(
    system: ServiceGroup,
    sandbox: httpx.AsyncClient,
    store_db: AsyncDatabase[Any],
    report: Report,
) -> None:
    """Identical texts in each thread; lost answers, 5xx, 429 and a malformed answer at
    the marketplace; the responder killed with SIGKILL while answers are held back."""
    store, instance = await _connected(system, "replies")
    key = create_api_key(system, f"rel-{_suffix()}", [store])
    threads = [
        (await _buyer_writes(sandbox, instance, f"Colis {i} ?"))["thread_id"] for i in range(4)
    ]
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{system.ports.gateway}",
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    ) as api:
        discussions: dict[str, str] = {}

        async def listed() -> bool:
            page = (await api.get("/discussions", params={"limit": 50})).json()
            discussions.update({d["thread_id"]: d["id"] for d in page["items"]})
            return set(threads) <= set(discussions)

        await eventually(listed, timeout=SETTLE)
        for fault in (
            {"kind": "lost_answer", "delay_seconds": 8, "count": 2},
            {"kind": "server_error", "status": 502, "count": 2},
            {"kind": "rate_limit", "retry_after": 1, "count": 2},
            {"kind": "malformed", "count": 1},
        ):
            armed = await sandbox.post(
                f"/_sandbox/mirakl/{instance}/faults", json={**fault, "operations": ["M12"]}
            )
            assert armed.status_code == 201, armed.text
        commands: list[tuple[str, str]] = []  # (command id, thread)
        for round_ in range(3):
            for thread in threads:
                answer = await api.post(
                    f"/discussions/{discussions[thread]}/replies",
                    json={"body": "Merci, c'est en route."},  # the same text every time
                )
                assert answer.status_code == 202, answer.text
                commands.append((answer.json()["command_id"], thread))
            if round_ == 0:
                await asyncio.sleep(2.0)  # a lost answer is being held back now
                system.stop("responder", sig=signal.SIGKILL)
                system.start("responder", "parley_responder")
                await asyncio.to_thread(system.wait_healthy, ["responder"])

        ids = [c for c, _ in commands]
        records: dict[str, Any] = {}

        async def settled() -> bool:
            records.clear()
            records.update(await _deliveries(store_db, ids))
            return len(records) == len(ids) and all(
                r["state"] in ("sent", "failed", "unknown") for r in records.values()
            )

        await eventually(settled, timeout=SETTLE * 2, interval=1.0)

    at_marketplace = await _replies_at_marketplace(sandbox, instance)
    by_id = {r["message_id"]: r for r in at_marketplace}
    sent = [r for r in records.values() if r["state"] == "sent"]
    falsely_sent = sum(
        1
        for r in sent
        if r.get("marketplace_message_id") not in by_id
        or by_id[r["marketplace_message_id"]]["thread_id"] != r["thread_id"]
    )
    claimed = Counter(r.get("marketplace_message_id") for r in sent)
    shared_ids = sum(n - 1 for n in claimed.values() if n > 1)  # two replies, one message
    landed = Counter(r["thread_id"] for r in at_marketplace)
    accepted = Counter(thread for _, thread in commands)
    shown_sent = Counter(r["thread_id"] for r in sent)
    shown_unknown = Counter(r["thread_id"] for r in records.values() if r["state"] == "unknown")
    # More messages at the marketplace than replies accepted: one went twice.
    double_sent = sum(max(0, landed[t] - accepted[t]) for t in accepted)
    # Landed, yet shown failed (not unknown): a merchant retry would send it again.
    falsely_failed = (
        sum(max(0, landed[t] - shown_sent[t] - shown_unknown[t]) for t in accepted) - double_sent
    )
    report.record(
        "replies under marketplace faults + responder kill -9",
        replies_accepted=len(ids),
        at_marketplace=len(at_marketplace),
        shown_sent=len(sent),
        shown_unknown=sum(shown_unknown.values()),
        shown_failed=sum(1 for r in records.values() if r["state"] == "failed"),
        lost=len(ids) - len(records),
        double_sent=double_sent,
        falsely_sent=falsely_sent + shared_ids,
        falsely_failed=max(0, falsely_failed),
    )
    assert (double_sent, falsely_sent, shared_ids, max(0, falsely_failed)) == (0, 0, 0, 0)


async def _discussions_ready(
    system: ServiceGroup, sandbox: httpx.AsyncClient, name: str, threads: int
) -> tuple[str, str, dict[str, str]]:
    """A connected store with ``threads`` buyer threads, and the gateway's API key; answers
    (instance, key, thread id → discussion id)."""
    store, instance = await _connected(system, name)
    key = create_api_key(system, f"rel-{_suffix()}", [store])
    ids = [
        (await _buyer_writes(sandbox, instance, f"Bonjour {i}"))["thread_id"]
        for i in range(threads)
    ]
    discussions: dict[str, str] = {}
    async with _api(system, key) as api:

        async def listed() -> bool:
            page = (await api.get("/discussions", params={"limit": 50})).json()
            discussions.update({d["thread_id"]: d["id"] for d in page["items"]})
            return set(ids) <= set(discussions)

        await eventually(listed, timeout=SETTLE)
    return instance, key, discussions


def _api(system: ServiceGroup, key: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{system.ports.gateway}",
        headers={"Authorization": f"Bearer {key}"},
        timeout=20,
    )


@pytest.mark.parametrize("dependency", ["kafka", "mongo"])
async def test_replies_during_an_outage_are_refused_or_delivered_once(
    dependency: str,
    private_stack: PrivateStack,
    system: ServiceGroup,
    sandbox: httpx.AsyncClient,
    report: Report,
) -> None:
    """While the broker or the database is down, each reply is either durably accepted
    (202, then delivered once after recovery) or refused with 503 problem+json and
    Retry-After, never left hanging; nothing refused reaches the marketplace."""
    instance, key, discussions = await _discussions_ready(system, sandbox, "out" + dependency, 3)
    accepted: list[str] = []
    refused: list[str] = []
    other: list[str] = []
    slowest = 0.0
    loop = asyncio.get_running_loop()
    await asyncio.to_thread(private_stack.stop, dependency)
    try:
        async with _api(system, key) as api:
            for i, discussion in enumerate(list(discussions.values()) * 2):
                text = f"During the {dependency} outage, reply {i}."
                started = loop.time()
                try:
                    answer = await api.post(
                        f"/discussions/{discussion}/replies", json={"body": text}
                    )
                except httpx.TimeoutException:
                    other.append(f"{text}: no answer within 20 s")
                    continue
                finally:
                    slowest = max(slowest, loop.time() - started)
                if answer.status_code == 202:
                    accepted.append(text)
                elif (
                    answer.status_code == 503
                    and answer.headers.get("content-type", "").startswith(
                        "application/problem+json"
                    )
                    and "retry-after" in answer.headers
                ):
                    refused.append(text)
                else:
                    other.append(f"{text}: {answer.status_code} {answer.text[:200]}")
    finally:
        await asyncio.to_thread(private_stack.start, dependency)

    replies: list[dict[str, Any]] = []

    async def delivered() -> bool:
        replies[:] = await _replies_at_marketplace(sandbox, instance)
        texts = {r["body"] for r in replies}
        return set(accepted) <= texts

    await eventually(delivered, timeout=SETTLE, interval=1.0)
    counts = Counter(r["body"] for r in replies)
    report.record(
        f"replies while {dependency} is down",
        attempted=len(accepted) + len(refused) + len(other),
        accepted=len(accepted),
        refused_503=len(refused),
        other_answers=other,
        slowest_answer_seconds=round(slowest, 2),
        lost=sum(1 for t in accepted if counts[t] == 0),
        double_sent=sum(n - 1 for n in counts.values() if n > 1),
        refused_but_sent=sum(1 for t in refused if counts[t] > 0),
    )
    assert other == []
    assert all(counts[t] == 1 for t in accepted)
    assert not any(counts[t] for t in refused)


async def test_one_throttled_store_delays_no_other_store(
    system: ServiceGroup,
    sandbox: httpx.AsyncClient,
    store_db: AsyncDatabase[Any],
    report: Report,
) -> None:
    """Store A's marketplace answers 429 (Retry-After 20 s, three times); store B's reply,
    queued after A's, is delivered while A's still waits, and A's goes once A may send."""
    a_instance, a_key, a_discussions = await _discussions_ready(system, sandbox, "throttled", 1)
    b_instance, b_key, b_discussions = await _discussions_ready(system, sandbox, "other", 1)
    armed = await sandbox.post(
        f"/_sandbox/mirakl/{a_instance}/faults",
        json={"kind": "rate_limit", "retry_after": 20, "count": 3, "operations": ["M12"]},
    )
    assert armed.status_code == 201, armed.text
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with _api(system, a_key) as a_api, _api(system, b_key) as b_api:
        (a_discussion,) = a_discussions.values()
        (b_discussion,) = b_discussions.values()
        a = await a_api.post(f"/discussions/{a_discussion}/replies", json={"body": "A: soon."})
        b = await b_api.post(f"/discussions/{b_discussion}/replies", json={"body": "B: now."})
        assert (a.status_code, b.status_code) == (202, 202), (a.text, b.text)
    a_command, b_command = a.json()["command_id"], b.json()["command_id"]

    async def b_sent() -> bool:
        doc = await store_db[DELIVERIES].find_one({"_id": b_command})
        return doc is not None and doc["state"] == "sent"

    await eventually(b_sent, timeout=SETTLE, interval=0.5)
    b_seconds = loop.time() - started
    a_record = await store_db[DELIVERIES].find_one({"_id": a_command})
    a_when_b_sent = a_record["state"] if a_record else "absent"

    async def a_sent() -> bool:
        doc = await store_db[DELIVERIES].find_one({"_id": a_command})
        return doc is not None and doc["state"] == "sent"

    await eventually(a_sent, timeout=SETTLE, interval=1.0)
    a_seconds = loop.time() - started
    a_replies = await _replies_at_marketplace(sandbox, a_instance)
    b_replies = await _replies_at_marketplace(sandbox, b_instance)
    report.record(
        "one throttled store among others",
        other_store_sent_after_seconds=round(b_seconds, 1),
        throttled_store_sent_after_seconds=round(a_seconds, 1),
        throttled_state_when_other_sent=a_when_b_sent,
        double_sent=max(0, len(a_replies) - 1) + max(0, len(b_replies) - 1),
    )
    assert a_when_b_sent != "sent", "B waited for A's backoff"
    assert (len(a_replies), len(b_replies)) == (1, 1)


# --- last: what the suite's services wrote in their logs ---------------------------

SECRET_MARKERS = (
    # The sandbox's demo credentials of every family the suite drove (Rakuten's travel in
    # request URLs), API keys, and the beginning of every download-link token.
    "sandbox-shop-key",
    "sandbox-rakuten-token",
    "pwd=",
    "Bearer prl_",
)


async def test_the_logs_hold_no_credential_token_or_message_text(
    system: ServiceGroup, sandbox: httpx.AsyncClient, report: Report
) -> None:
    """Runs last (file order). A Rakuten round trip first — its login and token go in the
    query string of every web-service call — then every service log of the suite is
    scanned for credentials, keys and the texts buyers and merchants wrote."""
    store = f"rel-rakuten-{_suffix()}"
    system.activate_family(
        "rakuten",
        f"{store}-rakuten",
        store,
        "fr",
        marketplace="rakuten",
        since=datetime.now(UTC) - timedelta(minutes=1),
        interval_seconds=2,
    )
    buyer_text = f"Secret question {_suffix()}"
    written = await sandbox.post("/_sandbox/rakuten/fr/messages", json={"body": buyer_text})
    assert written.status_code == 201, written.text
    key = create_api_key(system, f"rel-{_suffix()}", [store])
    reply_text = f"Secret answer {_suffix()}"
    async with _api(system, key) as api:
        found: list[dict[str, Any]] = []

        async def listed() -> bool:
            found[:] = (await api.get("/discussions")).json()["items"]
            return bool(found)

        await eventually(listed, timeout=SETTLE)
        answer = await api.post(f"/discussions/{found[0]['id']}/replies", json={"body": reply_text})
        assert answer.status_code == 202, answer.text

    async def delivered() -> bool:
        replies = (await sandbox.get("/_sandbox/rakuten/fr/replies")).json()["replies"]
        return any(r["content"] == reply_text for r in replies)

    await eventually(delivered, timeout=SETTLE)

    markers = (*SECRET_MARKERS, key, buyer_text, reply_text, "Merci, c'est en route.")
    leaks: dict[str, list[str]] = {}
    scanned = 0
    # Parley's own services; the sandbox plays the marketplaces and is not scanned.
    for log in sorted(p for p in system.log_dir.glob("*.log") if p.stem != "sandbox"):
        for number, line in enumerate(log.read_text(errors="replace").splitlines(), 1):
            scanned += 1
            for marker in markers:
                if marker in line:
                    leaks.setdefault(marker[:24], []).append(f"{log.name}:{number}")
    report.record(
        "log scan",
        lines_scanned=scanned,
        leaks={marker: len(where) for marker, where in leaks.items()},
        first_places={marker: where[:3] for marker, where in leaks.items()},
    )
    assert scanned > 0
    assert leaks == {}
