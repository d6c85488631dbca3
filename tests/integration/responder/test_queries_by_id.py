"""The responder's hot paths read and write each record by ``_id``, on the real server.

A reply and an autoresponse go out through the email relay (real SMTP into the
sandbox's sink) on a conversation stored as the normalizer stores it; every command
the responder sends to the MongoDB-compatible server is recorded
(``pymongo.monitoring``) and each filter must be exactly ``{_id: value}``, the one
FerretDB v1 pushes down on SQLite and MongoDB's cheapest. Allowed, and why: the
delivery queue's guarded writes (``_id`` plus the lease's ``$or`` or the merchant
retry round): they make a lease and "remove only this round" atomic on MongoDB, and
the queue holds only the replies not settled yet.

The discussion carries ``message_ids`` (its messages' ids, kept by the normalizer),
which the responder reads its thread by (parley_responder.adapters.mongo_threads).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase
from support.query_log import Query, QueryLog, monitored
from support.stored_threads import store_snapshot

from parley_connectors.email_relay import (
    SmtpRelaySettings,
    SmtpSender,
    new_inbound_address,
    parse_inbound,
)
from parley_connectors.email_relay.reading import snapshot_of
from parley_connectors.email_relay.writing import EmailRelayReplies
from parley_ingest.adapters.connections_repo import MongoConnectionRepository
from parley_ingest.domain.connections import Connection
from parley_platform.crypto import CredentialCipher
from parley_responder.adapters.mongo_autoresponder import (
    MongoConversationReader,
    MongoNotificationLog,
)
from parley_responder.adapters.mongo_deliveries import (
    DELIVERY_QUEUE,
    MongoDeliveryQueue,
    MongoDeliveryStore,
)
from parley_responder.adapters.mongo_destinations import MongoDestinationLookup
from parley_responder.adapters.mongo_threads import MongoThreadReader
from parley_responder.adapters.mongo_usage import MongoConversationUsage
from parley_responder.autoresponder import Autoresponder
from parley_responder.domain.attachments import ReplyFile
from parley_responder.handlers import Responder
from parley_responder.ports import PreparedReply
from parley_sandbox.smtp_sink import EmailSandbox, SmtpSink
from parley_schemas import (
    Direction,
    DiscussionKey,
    Envelope,
    MessageReceived,
    Participant,
    ParticipantRole,
    ReplyCommand,
)
from parley_store import DISCUSSIONS
from parley_store.autoresponder_store import MongoAutoresponderStore
from parley_store.autoresponders import AutoresponderChange, AutoresponderKey, apply_change

pytestmark = pytest.mark.integration

BUYER = "k7m2x9q4w1ab3cd@marketplace.amazon.de"


def allowed(query: Query) -> bool:
    if query.collection == DELIVERY_QUEUE and query.command in ("update", "delete"):
        return query.by_id_with_guards({"$or", "command.retry"})
    return False


def assert_by_id(log: QueryLog) -> None:
    assert log.queries, "the flow sent no query at all"
    offenders = log.not_by_id(allowed)
    assert offenders == [], "\n".join(f"{q.command} {q.collection} {q.filter}" for q in offenders)


class Results:
    def __init__(self) -> None:
        self.envelopes: list[Envelope[Any]] = []

    async def emit(self, envelope: Envelope[Any]) -> None:
        self.envelopes.append(envelope)


class Mailbox:
    def __init__(self) -> None:
        self.mails: list[EmailMessage] = []

    async def send(self, mail: EmailMessage) -> str:
        self.mails.append(mail)
        return str(mail["Message-ID"])


@pytest.fixture
async def sink() -> AsyncIterator[tuple[EmailSandbox, int]]:
    state = EmailSandbox(listen_port=0)
    server = SmtpSink(state)
    await server.start(port=0)
    assert server.port is not None
    yield state, server.port
    await server.stop()


@pytest.fixture
async def watched(
    mongo_uri: str, mongo_db: AsyncDatabase[Any]
) -> AsyncIterator[tuple[AsyncDatabase[Any], QueryLog]]:
    async with monitored(mongo_uri, mongo_db.name) as pair:
        yield pair


def relay_mail(to: str, message_id: str, body: str, sent_at: datetime) -> bytes:
    message = EmailMessage()
    message["From"] = f"Jürgen - Amazon Marketplace <{BUYER}>"
    message["To"] = to
    message["Subject"] = "Anfrage von Amazon-Kunde Jürgen (Bestellung: 302-1234567-7654321)"
    message["Message-ID"] = f"<{message_id}>"
    message["Date"] = sent_at.strftime("%a, %d %b %Y %H:%M:%S +0000")
    message.set_content(body)
    return message.as_bytes()


async def conversation(
    db: AsyncDatabase[Any], cipher: CredentialCipher
) -> tuple[Connection, DiscussionKey, str]:
    """An email-relay connection and a buyer thread of one message, stored as the
    normalizer stores them; returns the connection, the thread and the message id."""
    store = f"store-{uuid.uuid4().hex[:8]}"
    address = new_inbound_address(store, "amazon-de", "inbound.parley.test")
    now = datetime.now(UTC)
    connection = Connection(
        id=f"c-{store}",
        store_id=store,
        family="email_relay",
        marketplace="amazon-de",
        base_url=f"mailto:{address}",
        credentials={},
        activated_at=now - timedelta(days=1),
        cursor=now - timedelta(days=1),
        options={"inbound_address": address},
    )
    await MongoConnectionRepository(db, cipher).add(connection)
    mail = parse_inbound(
        relay_mail(address, f"{uuid.uuid4().hex}@email.amazonses.com", "Wo ist es?", now)
    )
    snapshot = snapshot_of(connection, mail, [], now)
    (message_id,) = await store_snapshot(db, snapshot)
    return connection, snapshot.key, message_id


def responder(db: AsyncDatabase[Any], cipher: CredentialCipher, port: int) -> Responder:
    sender = SmtpSender(SmtpRelaySettings(host="127.0.0.1", port=port, starttls=False, timeout=10))
    return Responder(
        MongoDeliveryStore(db),
        MongoDestinationLookup(db, cipher),
        {"email_relay": EmailRelayReplies(MongoThreadReader(db), sender)},
        Results(),
    )


async def test_a_reply_and_an_autoresponse_use_ids_only(
    watched: tuple[AsyncDatabase[Any], QueryLog], sink: tuple[EmailSandbox, int]
) -> None:
    db, log = watched
    state, port = sink
    cipher = CredentialCipher(CredentialCipher.generate_key())
    _, key, message_id = await conversation(db, cipher)
    discussion = await db[DISCUSSIONS].find_one({"_id": key.discussion_id})
    assert discussion is not None
    await MongoAutoresponderStore(db).save(
        apply_change(
            AutoresponderKey(key.store_id, key.marketplace, discussion["channel"]),
            AutoresponderChange(
                enabled=True, template="Danke, {buyer_name}!", notify_shop_address="s@shop.test"
            ),
            at=datetime.now(UTC),
            by="acc",
        )
    )
    replies = responder(db, cipher, port)
    mailbox = Mailbox()
    autoresponder = Autoresponder(
        MongoAutoresponderStore(db),
        MongoConversationReader(db),
        replies,
        MongoNotificationLog(db),
        mailbox,
        from_address="bot@parley.test",
    )
    buyer = Participant(role=ParticipantRole.CUSTOMER, name="Jürgen", email=BUYER)
    event = MessageReceived(
        discussion_id=key.discussion_id,
        store_id=key.store_id,
        marketplace=key.marketplace,
        thread_id=key.thread_id,
        message_id=message_id,
        direction=Direction.INBOUND,
        sender=buyer,
        body="Wo ist es?",
        sent_at=datetime.now(UTC),
    )
    reply = ReplyCommand(
        command_id=uuid.uuid4().hex,
        discussion_id=key.discussion_id,
        store_id=key.store_id,
        marketplace=key.marketplace,
        thread_id=key.thread_id,
        body="Heute.",
        recipients=[ParticipantRole.CUSTOMER],
        requested_by="agent@shop.example",
        requested_at=datetime.now(UTC),
    )

    log.recording = True
    await autoresponder.on_message(event)
    await replies.on_reply(reply)
    log.recording = False

    assert len(state.outbox) == 2, "the autoresponse and the reply reached the buyer"
    assert [m.rcpt_to for m in state.outbox] == [(BUYER,), (BUYER,)]
    assert len(mailbox.mails) == 1, "the shop's copy of the autoresponse"
    assert_by_id(log)


async def test_the_outbox_queue_and_conversation_usage_use_ids_only(
    watched: tuple[AsyncDatabase[Any], QueryLog],
) -> None:
    db, log = watched
    cipher = CredentialCipher(CredentialCipher.generate_key())
    _, key, _ = await conversation(db, cipher)
    store = MongoDeliveryStore(db)
    queue = MongoDeliveryQueue(db)
    usage = MongoConversationUsage(db)
    sent = ReplyCommand(
        command_id=f"cmd.{uuid.uuid4().hex}",  # a dot: not a field name as it is
        discussion_id=key.discussion_id,
        store_id=key.store_id,
        marketplace=key.marketplace,
        thread_id=key.thread_id,
        body="Mit Foto.",
        recipients=[ParticipantRole.CUSTOMER],
        requested_by="agent@shop.example",
        requested_at=datetime.now(UTC),
    )
    photo = ReplyFile(file_id="f1", name="a.png", content_type="image/png", size=1234)
    now = datetime.now(UTC)

    log.recording = True
    await queue.add(sent)
    assert await queue.claim(sent.command_id, "me", now, now + timedelta(minutes=1))
    await store.mark_sending(sent.command_id, 1, now, None)
    await store.save_prepared(sent.command_id, PreparedReply(body=sent.body, native=(photo,)))
    await store.mark_sent(sent.command_id, "m-1")
    await queue.remove(sent)
    counted = await usage.attachment_bytes(key.discussion_id, "another-command")
    excluded = await usage.attachment_bytes(key.discussion_id, sent.command_id)
    log.recording = False

    assert (counted, excluded) == (1234, 0)
    assert_by_id(log)
