"""The autoresponder's service layer (F19): conversation events in, one autoresponse out.

For each buyer message the normalizer announces, :func:`~.domain.autoreply.decide`
says whether it is the thread's first and the store wants it answered. The answer
then takes the very path of a merchant's reply (:class:`~.handlers.Responder`), with
a command id derived from the discussion: the outbox creates that record once, so a
redelivered event, a restart or a second instance never sends a second autoresponse,
and the normalizer shows it as an outbound message like any reply.

The shop's notification copy follows, once per autoresponse: the log is checked
before sending and written after. SMTP cannot be asked afterwards whether a mail
went out, so a crash between the relay's 250 and the log write sends the copy again
on the redelivery; it carries the same Message-ID (derived from the command id), so
mail clients show it as the same mail. A relay that is down fails the event, which
the stream retries (the autoresponse itself is then only announced again, never
re-sent); a relay that refuses the copy for good is logged and given up on.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from parley_connectors.errors import MarketplaceError, MarketplaceUnavailable
from parley_platform.logging import get_logger
from parley_platform.metrics import AUTORESPONSES
from parley_responder.domain.autoreply import (
    Decision,
    Skip,
    auto_command_id,
    decide,
    is_buyer_message,
)
from parley_responder.ports import (
    AutoresponderLookup,
    ConversationReader,
    Mailer,
    NotificationLog,
    ReplyDelivery,
)
from parley_schemas import (
    MESSAGE_RECEIVED,
    Envelope,
    MessageReceived,
    ParticipantRole,
    ReplyAction,
    ReplyCommand,
    utcnow,
)
from parley_store import DiscussionDocument
from parley_store.autoresponders import (
    AUTORESPONDER_REQUESTER,
    AutoresponderKey,
    AutoresponderSettings,
    NotificationCopy,
    TemplateValues,
    notification_mail,
    notification_message_id,
    render,
)

log = get_logger(__name__)


class Autoresponder:
    def __init__(
        self,
        settings: AutoresponderLookup,
        conversations: ConversationReader,
        replies: ReplyDelivery,
        notifications: NotificationLog,
        mailer: Mailer,
        *,
        from_address: str,
        max_age: timedelta = timedelta(hours=24),
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._settings = settings
        self._conversations = conversations
        self._replies = replies
        self._notifications = notifications
        self._mailer = mailer
        self._from = from_address
        self._max_age = max_age
        self._clock = clock

    async def handle(self, envelope: Envelope[Any]) -> None:
        """Every conversation event comes here; only received messages can trigger."""
        if envelope.type == MESSAGE_RECEIVED.name:
            await self.on_message(envelope.data)

    async def on_message(self, event: MessageReceived) -> None:
        if not is_buyer_message(event):  # no reads at all for operator messages
            AUTORESPONSES.labels("skipped", Skip.NOT_A_BUYER).inc()
            return
        discussion = await self._conversations.discussion(event.discussion_id)
        settings = (
            await self._settings.get(
                AutoresponderKey(discussion.store_id, discussion.marketplace, discussion.channel)
            )
            if discussion is not None
            else None
        )
        messages = await self._conversations.messages(event.discussion_id)
        decision: Decision = decide(
            event, discussion, messages, settings, now=self._clock(), max_age=self._max_age
        )
        if not decision.send or discussion is None or settings is None:
            log.info(
                "no autoresponse",
                discussion_id=event.discussion_id,
                message_id=event.message_id,
                reason=decision.skip.value if decision.skip else None,
            )
            AUTORESPONSES.labels("skipped", decision.skip or "none").inc()
            return
        command = self._command(discussion, settings, event)
        log.info("autoresponse", discussion_id=discussion.id, command_id=command.command_id)
        await self._replies.on_reply(command)
        AUTORESPONSES.labels("sent", "none").inc()
        await self._notify(command, discussion, settings, event)

    def _command(
        self,
        discussion: DiscussionDocument,
        settings: AutoresponderSettings,
        event: MessageReceived,
    ) -> ReplyCommand:
        text = render(
            settings, TemplateValues(buyer_name=event.sender.name, order_id=discussion.order_id)
        )
        return ReplyCommand(
            command_id=auto_command_id(discussion.id),
            discussion_id=discussion.id,
            store_id=discussion.store_id,
            marketplace=discussion.marketplace,
            thread_id=discussion.thread_id,
            action=ReplyAction.REPLY,  # the workflow status stays the merchant's to set
            body=text,
            recipients=[ParticipantRole.CUSTOMER],
            requested_by=AUTORESPONDER_REQUESTER,
            requested_at=self._clock(),
        )

    async def _notify(
        self,
        command: ReplyCommand,
        discussion: DiscussionDocument,
        settings: AutoresponderSettings,
        event: MessageReceived,
    ) -> None:
        recipients = settings.notify_addresses
        if not recipients or await self._notifications.notified(command.command_id):
            return
        delivery = await self._conversations.delivery(command.command_id)
        outcome = None
        if delivery is not None:
            outcome = delivery.state + (f": {delivery.error}" if delivery.error else "")
        copy = NotificationCopy(
            settings=settings,
            text=command.body,
            thread_id=discussion.thread_id,
            buyer_name=event.sender.name,
            outcome=outcome,
        )
        domain = self._from.rpartition("@")[2] or "parley.invalid"
        mail = notification_mail(
            copy,
            from_address=self._from,
            message_id=notification_message_id(command.command_id, domain),
            at=self._clock(),
        )
        try:
            await self._mailer.send(mail)
        except MarketplaceUnavailable:
            raise  # the relay may take it later: the stream retries the event
        except MarketplaceError as exc:
            log.warning(
                "autoresponse copy not sent", command_id=command.command_id, reason=str(exc)
            )
            return
        await self._notifications.record(command.command_id, discussion.id, recipients)
        log.info("autoresponse copy sent", command_id=command.command_id, to=recipients)
