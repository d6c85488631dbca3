"""The responder killed between the marketplace call and the delivery record.

The sandbox is told to keep the reply but hold its answer back (a lost answer), the
responder process is killed with SIGKILL while it waits, and a new one starts. The
new one must find the reply already at the marketplace and not send it again.
"""

from __future__ import annotations

import signal
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from devstack import Ports, ServiceGroup
from pymongo.asynchronous.database import AsyncDatabase
from support.kafka import TopicProbe
from support.waiting import eventually

from parley_platform.crypto import CredentialCipher
from parley_platform.kafka import KafkaPublisher
from parley_schemas import (
    CONVERSATION_COMMANDS,
    DELIVERY_RESULTS,
    REPLY_REQUESTED,
    DeliveryState,
    DiscussionKey,
    Envelope,
    ParticipantRole,
    ReplyCommand,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def processes(
    kafka_bootstrap: str, mongo_uri: str, mongo_db: AsyncDatabase[Any], topic_prefix: str
) -> Iterator[ServiceGroup]:
    group = ServiceGroup(
        env={
            "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "MONGODB_URI": mongo_uri,
            "MONGODB_DATABASE": mongo_db.name,
            "CREDENTIALS_KEY": CredentialCipher.generate_key(),
            "RESPONDER_APP_ID": f"responder-crash-{uuid.uuid4().hex[:8]}",
            "KAFKA_TOPIC_PREFIX": topic_prefix,
            "SANDBOX_SEED": "0",
        },
        ports=Ports.free(),
    )
    group.start_sandbox()
    group.start("responder", "parley_responder")
    group.wait_healthy(["responder"])
    yield group
    group.stop_all()


@pytest.fixture
async def publisher(kafka_bootstrap: str, topic_prefix: str) -> AsyncIterator[KafkaPublisher]:
    p = KafkaPublisher(kafka_bootstrap, "test-crash", topic_prefix)
    await p.start()
    yield p
    await p.stop()


async def test_killed_mid_send_the_reply_reaches_the_marketplace_exactly_once(
    processes: ServiceGroup, publisher: KafkaPublisher, kafka_bootstrap: str, topic_prefix: str
) -> None:
    instance = f"crash{uuid.uuid4().hex[:6]}"
    store = f"store-{instance}"
    processes.activate(
        f"c-{instance}", store, instance, since=datetime.now(UTC), interval_seconds=3600
    )
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{processes.ports.sandbox}") as sb:
        thread_id = (
            await sb.post(
                f"/_sandbox/mirakl/{instance}/messages",
                json={"body": "Allô ?", "sender": "CUSTOMER", "customer_name": "Inès"},
            )
        ).json()["thread_id"]
        armed = await sb.post(
            f"/_sandbox/mirakl/{instance}/faults",
            json={"kind": "lost_answer", "operations": ["M12"], "delay_seconds": 25},
        )
        assert armed.status_code == 201, armed.text

        key = DiscussionKey(store_id=store, marketplace=instance, thread_id=thread_id)
        command = ReplyCommand(
            command_id=uuid.uuid4().hex,
            discussion_id=key.discussion_id,
            store_id=store,
            marketplace=instance,
            thread_id=thread_id,
            body="Bonjour Inès, c'est en route.",
            recipients=[ParticipantRole.CUSTOMER],
            requested_by="test",
            requested_at=datetime.now(UTC),
        )

        async def replies() -> list[dict[str, Any]]:
            got: list[dict[str, Any]] = (
                await sb.get(f"/_sandbox/mirakl/{instance}/replies")
            ).json()["replies"]
            return got

        async with TopicProbe(kafka_bootstrap, DELIVERY_RESULTS, topic_prefix) as results:
            await publisher.publish(
                CONVERSATION_COMMANDS,
                Envelope[ReplyCommand](
                    source="/test", type=REPLY_REQUESTED.name, subject=str(key), data=command
                ),
            )

            async def marketplace_has_it() -> bool:
                return len(await replies()) == 1

            await eventually(marketplace_has_it, timeout=60)
            # The marketplace kept the reply; the responder still waits for the answer.
            processes.stop("responder", sig=signal.SIGKILL)
            processes.start("responder", "parley_responder")
            processes.wait_healthy(["responder"])

            def sent(r: Any) -> bool:
                env = r.envelope()
                return env.data.command_id == command.command_id and (
                    env.data.state is DeliveryState.SENT
                )

            (final,) = await results.wait_for(sent, timeout=90)

        assert len(await replies()) == 1, "sent exactly once"
        assert final.envelope().data.marketplace_message_id == (await replies())[0]["message_id"]
        assert final.envelope().data.occurred_at > datetime.now(UTC) - timedelta(minutes=5)
