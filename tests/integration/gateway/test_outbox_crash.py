"""The gateway killed between storing a command and publishing it loses nothing.

The gateway runs as a process with the outbox's crash hook on
(``PARLEY_OUTBOX_CRASH_AFTER_RECORD=1``, see parley_platform.outbox): it ends with
``os._exit(137)`` right after the command's outbox record is stored and before it is
published, as a SIGKILL at that moment would. A few replies are asked for in a loop,
each killing the process; then a gateway starts without the hook. Its relay publishes
every stored command; a consumer that de-duplicates by CloudEvents id sees each
command exactly once (the wire may carry a duplicate, never a second id), and the
outbox ends empty. Real Kafka and FerretDB, no mocks.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from devstack import Ports, ServiceGroup, create_api_key
from integration.gateway.documents import discussion_doc
from pymongo.asynchronous.database import AsyncDatabase
from support.kafka import TopicProbe, envelopes_of
from support.waiting import eventually

from parley_platform.crypto import CredentialCipher
from parley_platform.outbox import CRASH_HOOK, outbox_collection
from parley_schemas import CONVERSATION_COMMANDS, REPLY_REQUESTED
from parley_store import DISCUSSIONS

pytestmark = pytest.mark.integration

CRASHES = 3  # bounded: one process start per crash


@pytest.fixture
def group(
    kafka_bootstrap: str, mongo_uri: str, mongo_db: AsyncDatabase[Any], topic_prefix: str
) -> Iterator[ServiceGroup]:
    group = ServiceGroup(
        env={
            "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "MONGODB_URI": mongo_uri,
            "MONGODB_DATABASE": mongo_db.name,
            "CREDENTIALS_KEY": CredentialCipher.generate_key(),
            "KAFKA_TOPIC_PREFIX": topic_prefix,
        },
        ports=Ports.free(),
    )
    yield group
    group.stop_all()


async def test_commands_stored_before_a_crash_are_published_after_the_restart_once_by_id(
    group: ServiceGroup, mongo_db: AsyncDatabase[Any], kafka_bootstrap: str, topic_prefix: str
) -> None:
    store = f"store-{uuid.uuid4().hex[:8]}"
    doc = discussion_doc(store, f"t-{uuid.uuid4().hex[:8]}")
    await mongo_db[DISCUSSIONS].insert_one(doc)
    key = create_api_key(group, f"acct-{store}", [store])
    outbox = mongo_db[outbox_collection("gateway")]
    url = f"http://127.0.0.1:{group.ports.gateway}"

    async with TopicProbe(kafka_bootstrap, CONVERSATION_COMMANDS, topic_prefix) as probe:
        async with httpx.AsyncClient(base_url=url, headers={"X-API-Key": key}) as api:
            assert isinstance(group.env, dict)
            group.env[CRASH_HOOK] = "1"
            stored: set[str] = set()
            for n in range(CRASHES):
                group.start("gateway", "parley_gateway")
                group.wait_healthy(["gateway"])
                with pytest.raises(httpx.TransportError):  # the process died mid-request
                    await api.post(
                        f"/discussions/{doc['_id']}/replies",
                        json={"body": f"Reply {n}", "action": "reply"},
                    )
                process = group.processes.pop("gateway")
                assert await asyncio.to_thread(process.wait, 30) == 137
                # Stored before the crash, and not published: the process died first.
                # (A restarted gateway's relay may publish the earlier ones meanwhile.)
                [record] = [
                    d
                    async for d in outbox.find({})
                    if d["envelope"]["data"].get("body") == f"Reply {n}"
                ]
                stored.add(record["_id"])
                on_the_wire = envelopes_of(await probe.drain(1.0), REPLY_REQUESTED.name)
                assert record["_id"] not in {e.id for e in on_the_wire}

            del group.env[CRASH_HOOK]
            group.start("gateway", "parley_gateway")
            group.wait_healthy(["gateway"])

            async def all_published() -> bool:
                return await outbox.count_documents({}) == 0

            await eventually(all_published, timeout=60)

        records = await probe.wait_for(
            lambda r: r.key == doc["key"].encode(), count=CRASHES, timeout=30
        )
        await probe.drain(2.0)
        on_the_wire = [
            e for e in envelopes_of(probe.seen, REPLY_REQUESTED.name) if e.subject == doc["key"]
        ]
        assert len(records) >= CRASHES
        # A consumer de-duplicating by id sees each stored command once: no loss, no
        # duplicate visible, and every command is one the merchant asked for.
        by_id = {e.id: e for e in on_the_wire}
        assert set(by_id) == stored
        assert sorted(e.data.body for e in by_id.values()) == [f"Reply {n}" for n in range(CRASHES)]
        assert len({e.data.command_id for e in by_id.values()}) == CRASHES
