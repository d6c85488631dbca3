"""The autoresponder's decision and service layer, with in-memory fakes of its ports."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from types import SimpleNamespace
from typing import Any

import pytest

from parley_connectors.errors import BadRequest, MarketplaceUnavailable
from parley_platform.streams import RetryPolicy, consume_envelopes
from parley_responder.autoresponder import Autoresponder
from parley_responder.bootstrap import MAY_COME_BACK
from parley_responder.domain.autoreply import Skip, auto_command_id, decide
from parley_responder.ports import Delivery
from parley_schemas import (
    CONVERSATION_EVENTS,
    DISCUSSION_CREATED,
    MESSAGE_RECEIVED,
    DeliveryState,
    Direction,
    DiscussionKey,
    Envelope,
    MessageReceived,
    Participant,
    ParticipantRole,
    ReplyCommand,
)
from parley_store import DeliveryInfo, DiscussionDocument, MessageDocument
from parley_store.autoresponders import (
    AUTORESPONDER_REQUESTER,
    AutoresponderChange,
    AutoresponderKey,
    AutoresponderSettings,
    apply_change,
)

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
KEY = DiscussionKey(store_id="shop-1", marketplace="allegro", thread_id="T-1")
DISCUSSION_ID = KEY.discussion_id
BUYER = Participant(role=ParticipantRole.CUSTOMER, name="Jan Kowalski")
OPERATOR = Participant(role=ParticipantRole.OPERATOR, name="Allegro")
MERCHANT = Participant(role=ParticipantRole.MERCHANT)


def discussion(*, draft: bool = False, channel: str = "message_center") -> DiscussionDocument:
    return DiscussionDocument(
        _id=DISCUSSION_ID,
        key=str(KEY),
        store_id=KEY.store_id,
        marketplace=KEY.marketplace,
        family="allegro",
        channel=channel,
        thread_id=KEY.thread_id,
        order_id="ORD-7",
        created_at=NOW,
        draft=draft,
    )


def message(
    id: str,
    sender: Participant = BUYER,
    *,
    minutes: int = 0,
    command_id: str | None = None,
) -> MessageDocument:
    outbound = sender.role is ParticipantRole.MERCHANT
    return MessageDocument(
        _id=id,
        discussion_id=DISCUSSION_ID,
        direction=Direction.OUTBOUND if outbound else Direction.INBOUND,
        sender=sender,
        body=f"message {id}",
        sent_at=NOW - timedelta(minutes=10) + timedelta(minutes=minutes),
        command_id=command_id,
        delivery=DeliveryInfo(state=DeliveryState.SENT, updated_at=NOW) if command_id else None,
    )


def received(stored: MessageDocument) -> MessageReceived:
    return MessageReceived(
        discussion_id=DISCUSSION_ID,
        store_id=KEY.store_id,
        marketplace=KEY.marketplace,
        thread_id=KEY.thread_id,
        message_id=stored.id,
        direction=stored.direction,
        sender=stored.sender,
        body=stored.body,
        sent_at=stored.sent_at,
    )


def settings(*, enabled: bool = True, **fields: Any) -> AutoresponderSettings:
    return apply_change(
        AutoresponderKey(KEY.store_id, KEY.marketplace, "message_center"),
        AutoresponderChange(
            enabled=enabled,
            template=fields.pop("template", "Dzień dobry {buyer_name}, zamówienie {order_id}."),
            shop_name="Sklep",
            notify_shop_address="shop@example.com",
            **fields,
        ),
        at=NOW,
        by="acc",
    )


# --- the decision ---------------------------------------------------------------------


def decide_for(
    event_message: MessageDocument,
    stored: list[MessageDocument],
    *,
    setting: AutoresponderSettings | None = None,
    found: DiscussionDocument | None = None,
) -> Skip | None:
    decision = decide(
        received(event_message),
        found or discussion(),
        stored,
        setting if setting is not None else settings(),
        now=NOW,
        max_age=timedelta(hours=1),
    )
    return decision.skip if not decision.send else None


def test_the_buyers_first_message_is_answered() -> None:
    first = message("m1")
    assert decide_for(first, [first]) is None


def test_a_second_buyer_message_is_not_answered_whatever_the_event_order() -> None:
    first, second = message("m1"), message("m2", minutes=1)
    assert decide_for(second, [first, second]) is Skip.NOT_FIRST
    assert decide_for(first, [second, first]) is None  # the first still is, even if late


def test_operator_and_merchant_messages_are_never_answered() -> None:
    operator = message("m1", OPERATOR)
    assert decide_for(operator, [operator]) is Skip.NOT_A_BUYER
    ours = message("m2", MERCHANT, command_id="cmd-1")
    event = received(ours).model_copy(update={"direction": Direction.INBOUND})
    decision = decide(event, discussion(), [ours], settings(), now=NOW, max_age=timedelta(1))
    assert decision.skip is Skip.NOT_A_BUYER


def test_a_thread_the_merchant_already_answered_is_left_alone() -> None:
    first = message("m1")
    outside_parley = message("r1", MERCHANT, minutes=1)  # answered on the marketplace
    assert decide_for(first, [first, outside_parley]) is Skip.MERCHANT_REPLIED
    through_parley = message("r2", MERCHANT, minutes=1, command_id="cmd-abc")
    assert decide_for(first, [first, through_parley]) is Skip.MERCHANT_REPLIED


def test_our_own_autoresponse_does_not_count_as_the_merchant_answering() -> None:
    """A redelivered event after the autoresponse went out still proceeds (the outbox
    makes the send a no-op; the copy may still be missing)."""
    first = message("m1")
    ours = message("a1", MERCHANT, minutes=1, command_id=auto_command_id(DISCUSSION_ID))
    assert decide_for(first, [first, ours]) is None


def test_disabled_missing_draft_and_stale_are_skipped() -> None:
    first = message("m1")
    assert decide_for(first, [first], setting=settings(enabled=False)) is Skip.NOT_ENABLED
    assert decide_for(first, [first], found=discussion(draft=True)) is Skip.DRAFT
    stale = message("m0", minutes=-120)
    assert decide_for(stale, [stale]) is Skip.TOO_OLD
    decision = decide(received(first), None, [], settings(), now=NOW, max_age=timedelta(1))
    assert decision.skip is Skip.NO_DISCUSSION


def test_the_command_id_is_stable_per_discussion_and_fits_the_contract() -> None:
    assert auto_command_id(DISCUSSION_ID) == auto_command_id(DISCUSSION_ID)
    assert auto_command_id(DISCUSSION_ID) != auto_command_id(DISCUSSION_ID + "x")
    assert 8 <= len(auto_command_id(DISCUSSION_ID)) <= 64


# --- the service ----------------------------------------------------------------------


class Conversations:
    def __init__(self, found: DiscussionDocument | None, messages: list[MessageDocument]) -> None:
        self.found = found
        self.stored = messages
        self.deliveries: dict[str, Delivery] = {}

    async def discussion(self, discussion_id: str) -> DiscussionDocument | None:
        return self.found

    async def messages(self, discussion_id: str) -> list[MessageDocument]:
        return list(self.stored)

    async def delivery(self, command_id: str) -> Delivery | None:
        return self.deliveries.get(command_id)


class OutboxReplies:
    """The reply path as the autoresponder sees it: the outbox opens a command id once,
    and only an opened command reaches the marketplace."""

    def __init__(self, conversations: Conversations) -> None:
        self.conversations = conversations
        self.commands: list[ReplyCommand] = []
        self.marketplace: list[str] = []

    async def on_reply(self, command: ReplyCommand) -> None:
        self.commands.append(command)
        if command.command_id in self.conversations.deliveries:
            return
        self.marketplace.append(command.body)
        self.conversations.deliveries[command.command_id] = Delivery(command.command_id, "sent", 1)


class Lookup:
    def __init__(self, found: AutoresponderSettings | None) -> None:
        self.found = found
        self.asked: list[AutoresponderKey] = []

    async def get(self, key: AutoresponderKey) -> AutoresponderSettings | None:
        self.asked.append(key)
        return self.found


class CopyLog:
    def __init__(self) -> None:
        self.entries: dict[str, list[str]] = {}

    async def notified(self, command_id: str) -> bool:
        return command_id in self.entries

    async def record(self, command_id: str, discussion_id: str, recipients: list[str]) -> None:
        self.entries.setdefault(command_id, recipients)


class Mailbox:
    def __init__(self, *failures: Exception) -> None:
        self.failures = list(failures)
        self.mails: list[EmailMessage] = []

    async def send(self, mail: EmailMessage) -> str:
        if self.failures:
            raise self.failures.pop(0)
        self.mails.append(mail)
        return str(mail["Message-ID"]).strip("<>")


class World:
    def __init__(
        self,
        stored: list[MessageDocument],
        setting: AutoresponderSettings | None,
        mailbox: Mailbox | None = None,
    ) -> None:
        self.conversations = Conversations(discussion(), stored)
        self.replies = OutboxReplies(self.conversations)
        self.lookup = Lookup(setting)
        self.log = CopyLog()
        self.mailbox = mailbox or Mailbox()
        self.autoresponder = Autoresponder(
            self.lookup,
            self.conversations,
            self.replies,
            self.log,
            self.mailbox,
            from_address="bot@parley.test",
            max_age=timedelta(hours=1),
            clock=lambda: NOW,
        )

    async def event(self, stored: MessageDocument) -> None:
        await self.autoresponder.handle(
            Envelope[MessageReceived](
                source="/test", type=MESSAGE_RECEIVED.name, subject=str(KEY), data=received(stored)
            )
        )


async def test_first_message_gets_one_rendered_autoresponse_through_the_reply_path() -> None:
    first = message("m1")
    world = World([first], settings(notify_extra_address="boss@example.com"))
    await world.event(first)

    (command,) = world.replies.commands
    assert command.command_id == auto_command_id(DISCUSSION_ID)
    assert command.body == "Dzień dobry Jan Kowalski, zamówienie ORD-7."
    assert command.recipients == [ParticipantRole.CUSTOMER]
    assert command.requested_by == AUTORESPONDER_REQUESTER
    assert (command.store_id, command.marketplace, command.thread_id) == (
        KEY.store_id,
        KEY.marketplace,
        KEY.thread_id,
    )
    assert world.lookup.asked == [AutoresponderKey("shop-1", "allegro", "message_center")]
    assert world.replies.marketplace == [command.body]
    (mail,) = world.mailbox.mails
    assert mail["To"] == "shop@example.com, boss@example.com"
    assert "Dzień dobry Jan Kowalski" in mail.get_content()
    assert "Delivery: sent" in mail.get_content()


async def test_redelivery_sends_neither_the_autoresponse_nor_the_copy_again() -> None:
    first = message("m1")
    world = World([first], settings())
    await world.event(first)
    # The normalizer has recorded our autoresponse by the time the event comes again.
    world.conversations.stored.append(
        message("a1", MERCHANT, minutes=1, command_id=auto_command_id(DISCUSSION_ID))
    )
    await world.event(first)
    assert len(world.replies.marketplace) == 1
    assert len(world.mailbox.mails) == 1


async def test_a_copy_lost_to_a_crash_is_sent_on_redelivery_with_the_same_message_id() -> None:
    first = message("m1")
    world = World([first], settings(), Mailbox(MarketplaceUnavailable("relay down")))
    with pytest.raises(MarketplaceUnavailable):
        await world.event(first)  # the stream retries the event
    assert world.mailbox.mails == [] and world.log.entries == {}
    await world.event(first)
    assert len(world.replies.marketplace) == 1
    (mail,) = world.mailbox.mails
    assert auto_command_id(DISCUSSION_ID) in world.log.entries
    assert mail["Message-ID"].startswith("<autoresponse-")


async def test_a_refused_copy_is_given_up_without_failing_the_event() -> None:
    first = message("m1")
    world = World([first], settings(), Mailbox(BadRequest("550 no such user")))
    await world.event(first)
    assert len(world.replies.marketplace) == 1
    assert world.mailbox.mails == []


async def test_second_message_operator_message_and_answered_thread_get_nothing() -> None:
    first, second = message("m1"), message("m2", minutes=1)
    operator = message("o1", OPERATOR, minutes=2)
    world = World([first, second, operator], settings())
    await world.event(second)
    await world.event(operator)
    assert world.replies.commands == [] and world.mailbox.mails == []

    answered = World([first, message("r1", MERCHANT, minutes=1)], settings())
    await answered.event(first)
    assert answered.replies.commands == [] and answered.mailbox.mails == []


async def test_other_events_are_ignored() -> None:
    world = World([message("m1")], settings())
    await world.autoresponder.handle(
        Envelope[Any](source="/test", type=DISCUSSION_CREATED.name, subject=str(KEY), data={})
    )
    assert world.lookup.asked == [] and world.replies.commands == []


async def test_no_copy_without_addresses_but_the_buyer_is_still_answered() -> None:
    first = message("m1")
    disabled_copy = settings().model_copy(update={"notify_shop_address": None})
    world = World([first], disabled_copy)
    await world.event(first)
    assert len(world.replies.marketplace) == 1
    assert world.mailbox.mails == []


async def test_a_relay_down_for_many_retries_delays_the_copy_but_never_loses_it() -> None:
    """Through the stream as the responder runs it: the event is retried while the
    relay is down, far past the dead-letter budget, and the copy goes out once."""
    first = message("m1")
    world = World([first], settings(), Mailbox(*[MarketplaceUnavailable("relay down")] * 40))
    value = Envelope[MessageReceived](
        source="/test", type=MESSAGE_RECEIVED.name, subject=str(KEY), data=received(first)
    ).to_json_bytes()
    dead: list[str] = []

    class DeadLetters:
        async def dead_letter(self, stage: str, reason: str, **where: Any) -> None:
            dead.append(reason)

    async def events() -> AsyncIterator[Any]:
        yield SimpleNamespace(
            key=b"k",
            value=value,
            message=SimpleNamespace(topic="t.events", partition=0, offset=1, headers=[]),
        )

    await consume_envelopes(
        events(),
        {"t.events": CONVERSATION_EVENTS},
        world.autoresponder.handle,
        DeadLetters(),
        stage="autoresponder",
        policy=RetryPolicy(
            max_attempts=5, base_delay=0.0001, max_delay=0.001, transient=MAY_COME_BACK
        ),
    )
    assert dead == []
    assert len(world.mailbox.mails) == 1 and auto_command_id(DISCUSSION_ID) in world.log.entries
    assert len(world.replies.marketplace) == 1, "the autoresponse itself went out once"
