"""Email-relay replies: the responder, over real SMTP into the sandbox's sink.

The conversation is built the way production builds it: relay mails parsed by the
connector, turned into snapshots by ingest's mapping and stored as the normalizer
stores them (support.stored_threads) in the real MongoDB-compatible server; delivery
results go to the real Kafka broker. The sink (aiosmtpd) keeps what the responder submitted, so the
threading headers can be checked on the mail itself.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase
from support.kafka import TopicProbe, session_topic_prefix
from support.stored_threads import store_snapshot

from parley_connectors.email_relay import (
    SmtpRelaySettings,
    SmtpSender,
    message_ids,
    new_inbound_address,
    parse_inbound,
)
from parley_connectors.email_relay.reading import snapshot_of
from parley_connectors.email_relay.writing import EmailRelayReplies
from parley_ingest.adapters.connections_repo import MongoConnectionRepository
from parley_ingest.domain.connections import Connection
from parley_platform.crypto import CredentialCipher
from parley_platform.kafka import KafkaPublisher
from parley_responder.adapters.kafka_results import KafkaResultSink
from parley_responder.adapters.mongo_deliveries import MongoDeliveryStore
from parley_responder.adapters.mongo_destinations import MongoDestinationLookup
from parley_responder.adapters.mongo_threads import MongoThreadReader
from parley_responder.handlers import Responder, RetryPolicy
from parley_responder.ports import Destination
from parley_sandbox.faults import Fault, FaultKind
from parley_sandbox.smtp_sink import EmailSandbox, SmtpSink
from parley_schemas import (
    DELIVERY_RESULTS,
    DeliveryState,
    DiscussionKey,
    ParticipantRole,
    ReplyCommand,
)

pytestmark = pytest.mark.integration

BUYER = "k7m2x9q4w1ab3cd@marketplace.amazon.de"
ORDER = "302-1234567-7654321"


@pytest.fixture
async def sink() -> AsyncIterator[tuple[EmailSandbox, int]]:
    state = EmailSandbox(listen_port=0)
    server = SmtpSink(state)
    await server.start(port=0)
    assert server.port is not None
    yield state, server.port
    await server.stop()


@pytest.fixture
async def publisher(kafka_bootstrap: str) -> AsyncIterator[KafkaPublisher]:
    p = KafkaPublisher(kafka_bootstrap, "test-responder-mail", session_topic_prefix())
    await p.start()
    yield p
    await p.stop()


def relay_mail(
    to: str,
    message_id: str,
    body: str,
    *,
    subject: str,
    sent_at: datetime,
    references: list[str] | None = None,
) -> bytes:
    message = EmailMessage()
    message["From"] = f"Jürgen Müller - Amazon Marketplace <{BUYER}>"
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = f"<{message_id}>"
    message["Date"] = sent_at.strftime("%a, %d %b %Y %H:%M:%S +0000")
    if references:
        message["In-Reply-To"] = f"<{references[-1]}>"
        message["References"] = " ".join(f"<{r}>" for r in references)
    message.set_content(body)
    return message.as_bytes()


async def conversation(
    db: AsyncDatabase[Any], cipher: CredentialCipher, *, with_order: bool = True
) -> tuple[Connection, str, list[str]]:
    """A store's email-relay connection and a two-message buyer thread in MongoDB."""
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
    subject = (
        f"Anfrage von Amazon-Kunde Jürgen (Bestellung: {ORDER})"
        if with_order
        else "Product details inquiry from Amazon customer Jürgen"
    )
    ids = [f"{uuid.uuid4().hex}@email.amazonses.com" for _ in range(2)]
    mails = [
        relay_mail(
            address, ids[0], "Wo ist mein Paket?", subject=subject, sent_at=now - timedelta(hours=2)
        ),
        relay_mail(
            address,
            ids[1],
            "Noch eine Frage: kommt es heute?",
            subject=f"Re: {subject}",
            sent_at=now - timedelta(hours=1),
            references=[ids[0]],
        ),
    ]
    thread_id = ""
    for raw in mails:
        mail = parse_inbound(raw)
        snapshot = snapshot_of(connection, mail, [], now)
        thread_id = snapshot.thread_id
        await store_snapshot(db, snapshot)
    return connection, thread_id, ids


def command(connection: Connection, thread_id: str, body: str) -> ReplyCommand:
    key = DiscussionKey(
        store_id=connection.store_id, marketplace=connection.marketplace, thread_id=thread_id
    )
    return ReplyCommand(
        command_id=uuid.uuid4().hex,
        discussion_id=key.discussion_id,
        store_id=connection.store_id,
        marketplace=connection.marketplace,
        thread_id=thread_id,
        body=body,
        recipients=[ParticipantRole.CUSTOMER],
        requested_by="agent@shop.example",
        requested_at=datetime.now(UTC),
    )


def responder(
    db: AsyncDatabase[Any], cipher: CredentialCipher, port: int, publisher: KafkaPublisher
) -> Responder:
    sender = SmtpSender(SmtpRelaySettings(host="127.0.0.1", port=port, starttls=False, timeout=10))

    async def no_sleep(_: float) -> None:
        return None

    return Responder(
        MongoDeliveryStore(db),
        MongoDestinationLookup(db, cipher),
        {"email_relay": EmailRelayReplies(MongoThreadReader(db), sender)},
        KafkaResultSink(publisher),
        RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.05),
        sleep=no_sleep,
    )


async def test_a_reply_reaches_the_buyer_alias_threaded_on_the_conversation(
    mongo_db: AsyncDatabase[Any],
    sink: tuple[EmailSandbox, int],
    publisher: KafkaPublisher,
    kafka_bootstrap: str,
) -> None:
    state, port = sink
    cipher = CredentialCipher(CredentialCipher.generate_key())
    connection, thread_id, ids = await conversation(mongo_db, cipher)
    reply = command(connection, thread_id, "Hallo Jürgen,\nes kommt heute. Grüße, Ihr Shop")

    async with TopicProbe(kafka_bootstrap, DELIVERY_RESULTS) as probe:
        await responder(mongo_db, cipher, port, publisher).on_reply(reply)
        records = await probe.wait_for(
            lambda r: reply.command_id.encode() in (r.value or b""), count=2
        )

    (mail,) = state.outbox
    seen = mail.describe(source=True)
    assert mail.rcpt_to == (BUYER,)
    assert mail.mail_from == connection.options["inbound_address"]
    assert seen["subject"] == f"Re: Anfrage von Amazon-Kunde Jürgen (Bestellung: {ORDER})"
    assert message_ids(seen["in_reply_to"]) == [ids[1]]
    assert message_ids(" ".join(seen["references"])) == ids
    assert seen["text"].strip() == "Hallo Jürgen,\nes kommt heute. Grüße, Ihr Shop"
    assert seen["content_type"] == "text/plain"
    states = [r.envelope().data for r in records]
    assert [s.state for s in states] == [DeliveryState.QUEUED, DeliveryState.SENT]
    assert states[-1].marketplace_message_id == message_ids(seen["message_id"])[0]


async def test_a_pre_sale_thread_keeps_its_root_first_in_references(
    mongo_db: AsyncDatabase[Any], sink: tuple[EmailSandbox, int]
) -> None:
    state, port = sink
    cipher = CredentialCipher(CredentialCipher.generate_key())
    connection, thread_id, ids = await conversation(mongo_db, cipher, with_order=False)
    assert thread_id == f"ref:{ids[0]}"
    replies = EmailRelayReplies(
        MongoThreadReader(mongo_db),
        SmtpSender(SmtpRelaySettings(host="127.0.0.1", port=port, starttls=False)),
    )
    destination = Destination(
        "email_relay",
        "mailto:x",
        {},
        dict(connection.options),
        store_id=connection.store_id,
        marketplace=connection.marketplace,
    )

    first = await replies.send(
        destination,
        thread_id,
        "Yes, in blue too.",
        [ParticipantRole.CUSTOMER],
        reference="cmd-relay0001",
    )
    # The buyer writes in between: the thread changes, the reply's Message-ID does not.
    later = relay_mail(
        connection.options["inbound_address"],
        f"{uuid.uuid4().hex}@email.amazonses.com",
        "Also in red?",
        subject="Re: Product details inquiry from Amazon customer Jürgen",
        sent_at=datetime.now(UTC),
        references=ids,
    )
    snapshot = snapshot_of(connection, parse_inbound(later), [], datetime.now(UTC))
    await store_snapshot(mongo_db, snapshot)
    again = await replies.send(
        destination,
        thread_id,
        "Yes, in blue too.",
        [ParticipantRole.CUSTOMER],
        reference="cmd-relay0001",
    )

    sent = [m.describe() for m in state.outbox]
    assert message_ids(" ".join(sent[0]["references"])) == ids
    assert sent[0]["subject"] == "Re: Product details inquiry from Amazon customer Jürgen"
    # A resend (the merchant's, after an unknown outcome) carries the same Message-ID,
    # chosen from the command before the first attempt.
    assert first == again and sent[0]["message_id"] == sent[1]["message_id"]
    assert await replies.shop_replies(destination, thread_id, datetime.now(UTC)) is None


async def test_relay_faults_are_retried_or_fail_the_delivery_with_the_reason(
    mongo_db: AsyncDatabase[Any],
    sink: tuple[EmailSandbox, int],
    publisher: KafkaPublisher,
    kafka_bootstrap: str,
) -> None:
    state, port = sink
    cipher = CredentialCipher(CredentialCipher.generate_key())
    connection, thread_id, _ = await conversation(mongo_db, cipher)
    service = responder(mongo_db, cipher, port, publisher)

    state.faults.arm(Fault(kind=FaultKind.SERVER_ERROR, status=451))
    retried = command(connection, thread_id, "Second try works.")
    await service.on_reply(retried)
    assert [m.describe()["text"].strip() for m in state.outbox] == ["Second try works."]

    state.faults.arm(Fault(kind=FaultKind.SERVER_ERROR, status=554))
    refused = command(connection, thread_id, "This one is refused.")
    async with TopicProbe(kafka_bootstrap, DELIVERY_RESULTS) as probe:
        await service.on_reply(refused)
        records = await probe.wait_for(
            lambda r: refused.command_id.encode() in (r.value or b""), count=2
        )
    final = records[-1].envelope().data
    assert final.state is DeliveryState.FAILED
    assert final.error is not None and "554" in final.error
    assert len(state.outbox) == 1, "a refused reply is not retried"


async def test_a_reply_to_the_operator_is_refused_before_any_mail(
    mongo_db: AsyncDatabase[Any],
    sink: tuple[EmailSandbox, int],
    publisher: KafkaPublisher,
    kafka_bootstrap: str,
) -> None:
    state, port = sink
    cipher = CredentialCipher(CredentialCipher.generate_key())
    connection, thread_id, _ = await conversation(mongo_db, cipher)
    to_operator = command(connection, thread_id, "Dear Amazon").model_copy(
        update={"recipients": [ParticipantRole.OPERATOR]}
    )
    async with TopicProbe(kafka_bootstrap, DELIVERY_RESULTS) as probe:
        await responder(mongo_db, cipher, port, publisher).on_reply(to_operator)
        records = await probe.wait_for(
            lambda r: to_operator.command_id.encode() in (r.value or b""), count=2
        )
    assert records[-1].envelope().data.state is DeliveryState.FAILED
    assert state.outbox == []
