"""Walk-through: a new marketplace family is one folder, and the services take it up.

The test copies the fake family (tests/support/families/fake/: reader, writer and
``FAMILY`` descriptor over an in-memory marketplace) into a folder of its own and adds
it to the registry; no production file names it. Then, on the real MongoDB-compatible
server and the real Kafka broker, the production paths see it:

- activated through ingest's activation (``parley connections add``'s code), which
  asks the family for its credential fields;
- synced by ingest's sync service with the production connector factory: its
  snapshots reach the raw topic;
- validated at the gateway against the family's own rules: an operator recipient and
  a body over its 50 characters are 422s naming the rule, a good reply is 202;
- delivered by the responder through the writers the registry builds (as its
  bootstrap builds them), and the marketplace holds the reply.

The normalizer is not in this loop (its handling is family-agnostic): the discussion
the gateway answers is stored as the normalizer writes it, from the synced snapshot.
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from integration.gateway.accounts import ClientFactory
from integration.gateway.documents import discussion_doc
from pymongo.asynchronous.database import AsyncDatabase
from support.kafka import Record, TopicProbe

from parley_connectors.email_relay import SmtpRelaySettings, SmtpSender
from parley_connectors.family import Family
from parley_connectors.registry import add_folder, families
from parley_connectors.writing import WriterDeps
from parley_ingest import activation
from parley_ingest.adapters.connections_repo import MongoConnectionRepository
from parley_ingest.adapters.kafka_sink import KafkaSnapshotSink
from parley_ingest.config import IngestSettings
from parley_ingest.connectors import connector_factory
from parley_ingest.sync import SyncService
from parley_platform.crypto import CredentialCipher
from parley_platform.kafka import KafkaPublisher
from parley_responder.adapters.kafka_results import KafkaResultSink
from parley_responder.adapters.mongo_deliveries import MongoDeliveryStore
from parley_responder.adapters.mongo_destinations import MongoDestinationLookup
from parley_responder.adapters.mongo_threads import MongoThreadReader
from parley_responder.bootstrap import writers
from parley_responder.handlers import Responder, RetryPolicy
from parley_schemas import (
    CONVERSATION_COMMANDS,
    DELIVERY_RESULTS,
    MARKETPLACE_RAW,
    REPLY_REQUESTED,
    DeliveryState,
    ReplyCommand,
)
from parley_store import DISCUSSIONS

pytestmark = pytest.mark.integration

FAKE = Path(__file__).parents[2] / "support" / "families" / "fake"
MARKETPLACE_ID = "fakemart"


@pytest.fixture(scope="module")
def fake_family(tmp_path_factory: pytest.TempPathFactory) -> tuple[Family, Any]:
    """The fake family in a folder of the test's own, added to the process registry;
    with its in-memory marketplace module (the one the family's code uses)."""
    folder = shutil.copytree(FAKE, tmp_path_factory.mktemp("families") / "walkthrough")
    family = add_folder(folder)
    return family, importlib.import_module(f"parley_family_{folder.name}.marketplace")


@pytest.fixture
async def publisher(kafka_bootstrap: str, topic_prefix: str) -> AsyncIterator[KafkaPublisher]:
    p = KafkaPublisher(kafka_bootstrap, "test-family-walkthrough", topic_prefix)
    await p.start()
    yield p
    await p.stop()


def reply_command(record: Record) -> ReplyCommand | None:
    envelope = record.envelope()
    if envelope.type != REPLY_REQUESTED.name:
        return None
    assert isinstance(envelope.data, ReplyCommand)
    return envelope.data


async def test_a_family_in_one_folder_is_activated_synced_validated_and_answered(
    fake_family: tuple[Family, Any],
    gateway_as: ClientFactory,
    gateway_db: AsyncDatabase[Any],
    mongo_uri: str,
    kafka_bootstrap: str,
    publisher: KafkaPublisher,
    topic_prefix: str,
    store_id: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    family, fake = fake_family
    assert families()["fake"] is family
    shop = f"shop-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)
    thread = fake.MARKETPLACE.thread(shop, "q-1", "Is it waterproof?")
    thread.messages.append(
        fake.FakeMessage(f"b-{shop}", "buyer", "Bonjour, is it waterproof?", now)
    )

    # Activated: the production activation asks the family for its credential fields.
    settings = IngestSettings(mongodb_uri=mongo_uri, mongodb_database=gateway_db.name)
    monkeypatch.setenv("WALKTHROUGH_FAKE_SHOP", shop)
    connection_id = f"c-{store_id}"
    args = argparse.Namespace(
        id=connection_id,
        store=store_id,
        family="fake",
        marketplace=MARKETPLACE_ID,
        base_url="fake://fakemart",
        credential_env=["shop=WALKTHROUGH_FAKE_SHOP"],
        api_key_env=None,
        shop_id=None,
        activated_at=(now - timedelta(minutes=5)).isoformat(),
        interval=None,
    )
    await activation.add_connection(args, settings)
    cipher = CredentialCipher(settings.credentials_key.get_secret_value())
    connections = MongoConnectionRepository(gateway_db, cipher)
    connection = await connections.get(connection_id)
    assert connection is not None and connection.credentials == {"shop": shop}

    # Synced: ingest builds the family's reader through the registry.
    sync = SyncService(connector_factory(connections), KafkaSnapshotSink(publisher))
    async with TopicProbe(kafka_bootstrap, MARKETPLACE_RAW, topic_prefix) as raw:
        outcome = await sync.sync(connection, datetime.now(UTC))
        assert outcome.completed and outcome.published == 1
        [record] = await raw.wait_for(lambda r: r.envelope().data.store_id == store_id, timeout=30)
    snapshot = record.envelope().data
    assert (snapshot.family, snapshot.marketplace, snapshot.thread_id) == (
        "fake",
        MARKETPLACE_ID,
        "q-1",
    )
    assert [m.body for m in snapshot.messages] == ["Bonjour, is it waterproof?"]

    # The discussion, as the normalizer writes it from that snapshot.
    doc = discussion_doc(store_id, "q-1", marketplace=MARKETPLACE_ID, subject=snapshot.subject)
    doc["family"] = "fake"
    await gateway_db[DISCUSSIONS].insert_one(doc)
    gateway, _ = await gateway_as(store_id)
    replies = f"/discussions/{doc['_id']}/replies"

    # Validated at the gateway against the family's own rules.
    to_operator = await gateway.post(replies, json={"body": "Yes.", "recipients": ["operator"]})
    assert to_operator.status_code == 422, to_operator.text
    assert to_operator.json()["errors"][0]["code"] == "recipient_not_accepted"
    too_long = await gateway.post(replies, json={"body": "x" * 51})
    assert too_long.status_code == 422, too_long.text
    assert too_long.json()["errors"][0]["code"] == "too_long_for_marketplace"
    assert "accepts 50" in too_long.json()["errors"][0]["detail"]

    async with TopicProbe(kafka_bootstrap, CONVERSATION_COMMANDS) as commands:
        accepted = await gateway.post(replies, json={"body": "Yes, fully waterproof."})
        assert accepted.status_code == 202, accepted.text
        command_id = accepted.json()["command_id"]
        [queued] = await commands.wait_for(
            lambda r: (c := reply_command(r)) is not None and c.command_id == command_id,
            timeout=30,
        )
    command = reply_command(queued)
    assert command is not None

    # Answered: the responder's writers come from the registry, as its bootstrap builds
    # them (the email relay's writer needs a mailer; this one is never used).
    destinations = MongoDestinationLookup(gateway_db, cipher)
    deps = WriterDeps(
        mailer=SmtpSender(SmtpRelaySettings(host="127.0.0.1", port=1)),
        threads=MongoThreadReader(gateway_db),
        credentials=destinations,
    )
    responder = Responder(
        MongoDeliveryStore(gateway_db),
        destinations,
        writers(deps),
        KafkaResultSink(publisher),
        RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.05),
    )
    async with TopicProbe(kafka_bootstrap, DELIVERY_RESULTS, topic_prefix) as results:
        await responder.on_reply(command)
        sent = await results.wait_for(
            lambda r: (
                r.envelope().data.command_id == command_id
                and r.envelope().data.state is DeliveryState.SENT
            ),
            timeout=30,
        )
    message_id = sent[-1].envelope().data.marketplace_message_id
    shop_messages = [m for m in thread.messages if m.author == "shop"]
    assert [(m.id, m.text) for m in shop_messages] == [(message_id, "Yes, fully waterproof.")]
