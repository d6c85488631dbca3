"""The email-relay family's write side (Amazon, CDON): a reply mail through SMTP.

A reply goes to the buyer's anonymised relay address, threaded on the conversation, so
the marketplace's relay files it on the buyer's thread (Amazon lets replies through
to buyers who opted out of seller messages only on the thread the buyer started).

Where the threading facts come from: the discussion's own messages in MongoDB
(``messages``, written by the normalizer from the inbound snapshots), not the snapshot
payload, which the normalizer does not keep. The last inbound message gives the buyer's
relay address and name (its sender) and ``In-Reply-To`` (its marketplace message id,
i.e. the mail's Message-ID); every known message id of the discussion, oldest first,
behind the root carried by the thread id, gives ``References``; the discussion's
subject gives ``Re: <subject>``. The destination (the connection) says which store
and marketplace the thread belongs to, so the discussion is read by its ``_id`` and
its messages by theirs (the responder's thread reader: the newest :data:`KNOWN_IDS_LIMIT`),
and the reply is sent *from* the connection's inbound address (or its
``from_address`` option): the merchant approves it as a sender at the marketplace
(Amazon rejects mail to buyers from addresses that are not the registered or an
approved one).

At most once, and where SMTP makes that weaker: SMTP offers no way to ask later
whether a message went out, so :meth:`EmailRelayReplies.shop_replies` answers None.
The responder records ``sending`` before calling :meth:`send` and ``sent`` on the
relay's 250; after a crash or an ambiguous fault (a timeout or a connection lost
mid-submission, reported as ``MarketplaceUnavailable``) it cannot tell, so the delivery
becomes ``unknown`` and is not sent again by itself: the merchant decides. When the
merchant sends it again, the mail carries the same ``Message-ID``: it is derived from
the command id, chosen before the first attempt, whatever the buyer wrote meanwhile,
so a relay or mail client that drops duplicate ids drops the copy (a definitive SMTP
refusal, 4xx or 5xx, means nothing was queued).

Attachments travel as MIME parts of the mail; which files may (10 MB per message at
Amazon, the assumed file types) is decided by the responder before it calls here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from parley_connectors.email_relay import (
    OutgoingAttachment,
    build_reply,
    normalize_address,
    reply_message_id,
    reply_references,
)
from parley_connectors.errors import BadRequest, NotFound
from parley_connectors.files import OutgoingFile
from parley_connectors.writing import (
    Destination,
    MailSender,
    ShopReply,
    ThreadReader,
    chronological,
)
from parley_schemas import DiscussionKey, ParticipantRole

KNOWN_IDS_LIMIT = 200


@dataclass(frozen=True)
class ReplyContext:
    """What a reply needs to know about its conversation."""

    sender: str
    buyer_address: str
    buyer_name: str | None
    in_reply_to: str | None
    known_ids: list[str]
    subject: str | None


class EmailRelayReplies:
    def __init__(self, threads: ThreadReader, sender: MailSender) -> None:
        self._threads = threads
        self._sender = sender

    async def send(
        self,
        destination: Destination,
        thread_id: str,
        body: str,
        to: list[ParticipantRole],
        attachments: Sequence[OutgoingFile] = (),
        *,
        reference: str = "",
    ) -> str | None:
        refused = {role for role in to if role is not ParticipantRole.CUSTOMER}
        if refused:
            names = ", ".join(sorted(role.value for role in refused))
            raise BadRequest(f"an email relay only reaches the buyer, not: {names}")
        context = await self.context(destination, thread_id)
        domain = context.sender.rpartition("@")[2]
        message_id = (
            reply_message_id(domain, "command", reference)
            if reference
            else reply_message_id(
                domain, thread_id, context.in_reply_to or "", str(len(context.known_ids)), body
            )
        )
        message = build_reply(
            sender=context.sender,
            to=context.buyer_address,
            to_name=context.buyer_name,
            body=body,
            subject=context.subject,
            in_reply_to=context.in_reply_to,
            references=reply_references(thread_id, context.known_ids),
            message_id=message_id,
            attachments=[
                OutgoingAttachment(f.name, f.content, f.content_type) for f in attachments
            ],
        )
        return await self._sender.send(message)

    async def shop_replies(
        self, destination: Destination, thread_id: str, since: datetime
    ) -> list[ShopReply] | None:
        """SMTP cannot be asked what was delivered: None (see the module docstring)."""
        return None

    async def context(self, destination: Destination, thread_id: str) -> ReplyContext:
        inbound = normalize_address(destination.options.get("inbound_address", ""))
        if not inbound:
            raise BadRequest("the email-relay connection has no inbound address")
        if destination.store_id is None or destination.marketplace is None:
            raise BadRequest("the email-relay destination names no store and marketplace")
        key = DiscussionKey(
            store_id=destination.store_id,
            marketplace=destination.marketplace,
            thread_id=thread_id,
        )
        discussion = await self._threads.discussion(key.discussion_id)
        if discussion is None:
            raise NotFound(f"no discussion for thread {thread_id}")
        messages = await self._threads.messages(
            discussion,
            {"marketplace_message_id": 1, "direction": 1, "sender": 1, "sent_at": 1},
            newest=KNOWN_IDS_LIMIT,
        )
        newest_first = chronological(messages)[::-1][:KNOWN_IDS_LIMIT]
        last_inbound = next(
            (
                doc
                for doc in newest_first
                if doc.get("direction") == "inbound" and (doc.get("sender") or {}).get("email")
            ),
            None,
        )
        if last_inbound is None:
            raise NotFound(f"thread {thread_id} has no buyer message to reply to")
        known_ids = [
            str(doc["marketplace_message_id"])
            for doc in reversed(newest_first)
            if doc.get("marketplace_message_id")
        ]
        subject = discussion.get("subject")
        order_id = discussion.get("order_id")
        if not subject and order_id:
            subject = f"Order {order_id}"
        sender = last_inbound["sender"]
        return ReplyContext(
            sender=normalize_address(destination.options.get("from_address") or inbound),
            buyer_address=str(sender["email"]),
            buyer_name=sender.get("name"),
            in_reply_to=last_inbound.get("marketplace_message_id"),
            known_ids=known_ids,
            subject=subject,
        )
