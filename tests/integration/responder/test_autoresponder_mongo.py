"""The autoresponder on its real MongoDB adapters: settings, discussions, the outbox and
the copy log on the MongoDB-compatible server, across a "restart" (a second instance
built on the same database). Only the marketplace and the SMTP relay are stand-ins."""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from parley_responder.adapters.mongo_autoresponder import (
    MongoConversationReader,
    MongoNotificationLog,
)
from parley_responder.adapters.mongo_deliveries import MongoDeliveryStore
from parley_responder.autoresponder import Autoresponder
from parley_responder.domain.autoreply import auto_command_id
from parley_schemas import (
    MESSAGE_RECEIVED,
    Direction,
    DiscussionKey,
    Envelope,
    MessageReceived,
    Participant,
    ParticipantRole,
    ReplyCommand,
    utcnow,
)
from parley_store import DISCUSSIONS, MESSAGES, ensure_indexes
from parley_store.autoresponder_store import MongoAutoresponderStore
from parley_store.autoresponders import AutoresponderChange, AutoresponderKey, apply_change

pytestmark = pytest.mark.integration

KEY = DiscussionKey(store_id="shop-1", marketplace="allegro", thread_id="T-1")
BUYER = Participant(role=ParticipantRole.CUSTOMER, name="Jan")


class OutboxReplies:
    """The reply path reduced to its once-only step: the real outbox's ``open``."""

    def __init__(self, db: AsyncDatabase[Any], marketplace: list[str]) -> None:
        self._outbox = MongoDeliveryStore(db)
        self._marketplace = marketplace

    async def on_reply(self, command: ReplyCommand) -> None:
        _, created = await self._outbox.open(command)
        if created:
            self._marketplace.append(command.body)
            await self._outbox.mark_sent(command.command_id, "mp-1")


class Mailbox:
    def __init__(self) -> None:
        self.mails: list[EmailMessage] = []

    async def send(self, mail: EmailMessage) -> str:
        self.mails.append(mail)
        return str(mail["Message-ID"])


def autoresponder(
    db: AsyncDatabase[Any], marketplace: list[str], mailbox: Mailbox
) -> Autoresponder:
    return Autoresponder(
        MongoAutoresponderStore(db),
        MongoConversationReader(db),
        OutboxReplies(db, marketplace),
        MongoNotificationLog(db),
        mailbox,
        from_address="bot@parley.test",
        max_age=timedelta(hours=1),
    )


async def test_first_message_is_answered_and_copied_once_across_a_restart(
    mongo_db: AsyncDatabase[Any],
) -> None:
    await ensure_indexes(mongo_db)
    now = utcnow()
    discussion_id = KEY.discussion_id
    await mongo_db[DISCUSSIONS].insert_one(
        {
            "_id": discussion_id,
            "key": str(KEY),
            "store_id": KEY.store_id,
            "marketplace": KEY.marketplace,
            "family": "allegro",
            "channel": "message_center",
            "thread_id": KEY.thread_id,
            "order_id": "ORD-1",
            "created_at": now,
        }
    )
    await mongo_db[MESSAGES].insert_one(
        {
            "_id": "m1",
            "discussion_id": discussion_id,
            "direction": "inbound",
            "sender": BUYER.model_dump(mode="json"),
            "body": "Dzień dobry",
            "sent_at": now,
        }
    )
    await MongoAutoresponderStore(mongo_db).save(
        apply_change(
            AutoresponderKey(KEY.store_id, KEY.marketplace, "message_center"),
            AutoresponderChange(
                enabled=True,
                template="Hej {buyer_name}, {order_id}",
                notify_shop_address="shop@example.com",
            ),
            at=now,
            by="acc",
        )
    )
    event = Envelope[MessageReceived](
        source="/test",
        type=MESSAGE_RECEIVED.name,
        subject=str(KEY),
        data=MessageReceived(
            discussion_id=discussion_id,
            store_id=KEY.store_id,
            marketplace=KEY.marketplace,
            thread_id=KEY.thread_id,
            message_id="m1",
            direction=Direction.INBOUND,
            sender=BUYER,
            body="Dzień dobry",
            sent_at=now,
        ),
    )
    marketplace: list[str] = []
    mailbox = Mailbox()

    await autoresponder(mongo_db, marketplace, mailbox).handle(event)
    await autoresponder(mongo_db, marketplace, mailbox).handle(event)  # after a restart

    assert marketplace == ["Hej Jan, ORD-1"]
    (mail,) = mailbox.mails
    assert mail["To"] == "shop@example.com"
    assert "Delivery: sent" in mail.get_content()
    copy = await mongo_db["autoresponse_copies"].find_one({"_id": auto_command_id(discussion_id)})
    assert copy is not None and copy["recipients"] == ["shop@example.com"]
