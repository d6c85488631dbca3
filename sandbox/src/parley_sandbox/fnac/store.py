"""In-memory state of the sandbox's Fnac Marketplace API shops.

Each instance (``fnac``, ``darty`` …) is one marketplace running the Fnac API as one
shop sees it: its credentials and session tokens, the messages of its conversations
(Fnac lists messages one by one, each tied to an order or an offer by its
``message_referer``), the replies the shop sent through ``messages_update`` and the
faults armed on it. Nothing is persisted. Times are UTC, to the second (the
precision of ``xs:dateTime`` as Fnac shows it).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from parley_sandbox.faults import FaultQueue, FaultTargets
from parley_sandbox.registry import InstanceRegistry

# The sandbox's public demo credentials (uuid-shaped, as base.xsd wants): not secrets.
DEFAULT_PARTNER_ID = "0A1B2C3D-0000-4000-8000-00000000F0AC"
DEFAULT_SHOP_ID = "5E6F7A8B-0000-4000-8000-00000000540B"
DEFAULT_KEY = "sandbox-fnac-key"
DEFAULT_TOKEN_TTL = timedelta(hours=1)

CLIENT, CALLCENTER, SELLER = "CLIENT", "CALLCENTER", "SELLER"
ORDER, OFFER = "ORDER", "OFFER"
OPERATIONS = frozenset({"auth", "messages_query", "messages_update", "message_file"})
# Corrupting faults spare file downloads: only the XML services answer a document.
FAULT_TARGETS = FaultTargets(OPERATIONS, frozenset({"auth", "messages_query", "messages_update"}))


def to_second(value: datetime) -> datetime:
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.replace(microsecond=0)


def new_id() -> str:
    """Fnac message ids are upper-case UUIDs (``6F9EF013-6387-F433-C3F5-4AAEF32AA317``)."""
    return str(uuid.uuid4()).upper()


def new_order_id() -> str:
    """Fnac order ids are 13 characters (``common.xsd`` ``order_id_restriction``)."""
    return uuid.uuid4().hex[:13].upper()


class FnacRefusal(Exception):
    """A request the shop refuses; routes answer it as Fnac does (XML ``<error>``)."""

    def __init__(
        self, http_status: int, message: str, *, code: str = "ERR_003", retry_after: int = 0
    ) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.message = message
        self.code = code
        self.retry_after = retry_after


@dataclass
class StoredFile:
    id: str
    name: str
    content_type: str
    content: bytes


@dataclass
class StoredMessage:
    id: str
    referer_type: str
    referer: str
    from_type: str
    from_name: str
    subject: str
    description: str
    created_at: datetime
    updated_at: datetime
    state: str = "UNREAD"
    archived: bool = False
    offer_title: str | None = None
    answer: str | None = None
    answer_at: datetime | None = None
    files: list[StoredFile] = field(default_factory=list)

    @property
    def thread_id(self) -> str:
        return f"{self.referer_type.lower()}:{self.referer}"


@dataclass
class Conversation:
    """What the sandbox knows of an order or offer beyond its messages."""

    referer_type: str
    referer: str
    customer_name: str
    incident: bool = False
    offer_title: str | None = None


@dataclass
class ReceivedReply:
    """A ``messages_update`` reply, as tests want to check it."""

    replied_to: str
    message_id: str
    thread_id: str
    to: str
    subject: str
    message_type: str
    body: str
    received_at: datetime


@dataclass
class ShopConfig:
    name: str
    partner_id: str = DEFAULT_PARTNER_ID
    shop_id: str = DEFAULT_SHOP_ID
    key: str = DEFAULT_KEY
    shop_name: str = "Boutique Sandbox"
    token_ttl: timedelta = DEFAULT_TOKEN_TTL


SUBJECT_LABELS = {
    "product_information": "Question sur le produit",
    "shipping_information": "Question sur la livraison",
    "order_information": "Question sur la commande",
    "offer_problem": "Problème avec l'article",
    "offer_not_received": "Article non reçu",
    "other_question": "Autre question",
}


class FnacShop:
    """One marketplace running the Fnac API, as one shop sees it."""

    def __init__(self, config: ShopConfig, now: Callable[[], datetime]) -> None:
        self.config = config
        self._now = now
        self.messages: dict[str, StoredMessage] = {}
        self.conversations: dict[tuple[str, str], Conversation] = {}
        self.files: dict[str, StoredFile] = {}
        self.replies: list[ReceivedReply] = []
        self.tokens: dict[str, datetime] = {}
        self.faults = FaultQueue()

    def now(self) -> datetime:
        return to_second(self._now())

    # --- tokens ----------------------------------------------------------------------

    def issue_token(self) -> tuple[str, datetime]:
        token = new_id()
        validity = self.now() + self.config.token_ttl
        self.tokens[token] = validity
        return token, validity

    def token_valid(self, token: str | None) -> bool:
        expiry = self.tokens.get(token or "")
        return expiry is not None and expiry > self.now()

    def expire_tokens(self) -> int:
        count = len(self.tokens)
        self.tokens.clear()
        return count

    # --- conversations ---------------------------------------------------------------

    def conversation(
        self,
        referer_type: str,
        referer: str,
        *,
        customer_name: str = "Client Fnac",
        offer_title: str | None = None,
    ) -> Conversation:
        key = (referer_type, referer)
        found = self.conversations.get(key)
        if found is None:
            found = Conversation(referer_type, referer, customer_name, offer_title=offer_title)
            self.conversations[key] = found
        return found

    def write(
        self,
        conversation: Conversation,
        *,
        from_type: str,
        from_name: str,
        subject: str,
        description: str,
        at: datetime | None = None,
        files: Iterable[tuple[str, str, bytes]] = (),
        message_id: str | None = None,
        state: str | None = None,
    ) -> StoredMessage:
        when = to_second(at) if at is not None else self.now()
        stored_files = []
        for name, content_type, content in files:
            stored = StoredFile(new_id(), name, content_type, content)
            self.files[stored.id] = stored
            stored_files.append(stored)
        if from_type == CALLCENTER:
            conversation.incident = True
        message = StoredMessage(
            id=message_id or new_id(),
            referer_type=conversation.referer_type,
            referer=conversation.referer,
            from_type=from_type,
            from_name=from_name,
            subject=subject,
            description=description,
            created_at=when,
            updated_at=when,
            state=state or ("READ" if from_type == SELLER else "UNREAD"),
            offer_title=conversation.offer_title,
            files=stored_files,
        )
        self.messages[message.id] = message
        return message

    def thread(self, referer_type: str, referer: str) -> list[StoredMessage]:
        found = [
            m
            for m in self.messages.values()
            if m.referer_type == referer_type and m.referer == referer
        ]
        return sorted(found, key=lambda m: (m.created_at, m.id))

    # --- messages_update -------------------------------------------------------------

    def reply(
        self,
        replied: StoredMessage,
        *,
        to: str,
        subject: str,
        message_type: str,
        body: str,
        at: datetime | None = None,
        message_id: str | None = None,
        record: bool = True,
    ) -> StoredMessage:
        """The shop answers ``replied``; ``record=False`` for seeded history."""
        conversation = self.conversation(replied.referer_type, replied.referer)
        if to in (CALLCENTER, "ALL") and not conversation.incident:
            raise FnacRefusal(
                200,
                "message_to CALLCENTER is allowed only if the order is in incident status",
                code="ERR_005",
            )
        if message_type != replied.referer_type:
            raise FnacRefusal(
                200,
                f"message_type {message_type} does not match the message's {replied.referer_type}",
                code="ERR_003",
            )
        at = to_second(at) if at is not None else self.now()
        sent = self.write(
            conversation,
            from_type=SELLER,
            from_name=self.config.shop_name,
            subject=SUBJECT_LABELS.get(subject, subject),
            description=body,
            at=at,
            message_id=message_id,
        )
        replied.answer, replied.answer_at = body, at
        replied.state, replied.updated_at = "READ", max(replied.updated_at, at)
        if not record:
            return sent
        self.replies.append(
            ReceivedReply(
                replied_to=replied.id,
                message_id=sent.id,
                thread_id=sent.thread_id,
                to=to,
                subject=subject,
                message_type=message_type,
                body=body,
                received_at=at,
            )
        )
        return sent

    def set_state(self, message: StoredMessage, action: str) -> None:
        if action in ("mark_as_read", "mark_as_read_and_archive"):
            message.state = "READ"
        if action == "mark_as_unread":
            message.state = "UNREAD"
        if action in ("archive", "mark_as_read_and_archive"):
            message.archived = True
        if action == "unarchive":
            message.archived = False
        message.updated_at = max(message.updated_at, self.now())

    # --- messages_query --------------------------------------------------------------

    def query(self, filters: dict[str, Any]) -> list[StoredMessage]:
        """``messages_query``'s filters; the caller sorts and pages."""
        found = []
        for message in self.messages.values():
            date_type = filters.get("date_type")
            if date_type is not None:
                value = message.created_at if date_type == "CreatedAt" else message.updated_at
                if filters.get("min") is not None and value < filters["min"]:
                    continue
                if filters.get("max") is not None and value > filters["max"]:
                    continue
            if filters.get("message_type") and message.referer_type != filters["message_type"]:
                continue
            if filters.get("message_state") and message.state != filters["message_state"]:
                continue
            archived = filters.get("message_archived")
            if archived is not None and message.archived != archived:
                continue
            if filters.get("message_id") and message.id != filters["message_id"]:
                continue
            if filters.get("order_fnac_id") and not (
                message.referer_type == ORDER and message.referer == filters["order_fnac_id"]
            ):
                continue
            if filters.get("offer_fnac_id") and not (
                message.referer_type == OFFER and message.referer == filters["offer_fnac_id"]
            ):
                continue
            from_types = filters.get("from_types")
            if from_types and message.from_type not in from_types:
                continue
            found.append(message)
        return found


class FnacSandbox(InstanceRegistry[FnacShop]):
    """Every Fnac-API marketplace of one sandbox process, created on first use."""

    def __init__(
        self,
        *,
        seed: bool = True,
        now: Callable[[], datetime] | None = None,
        seeder: Callable[[FnacSandbox], None] | None = None,
    ) -> None:
        self.now = now or (lambda: datetime.now(UTC))
        super().__init__(seed=seed, seeder=seeder)

    def _create(self, name: str) -> FnacShop:
        return FnacShop(ShopConfig(name=name), self.now)

    def _unknown(self, name: str) -> Exception:
        return FnacRefusal(404, f"Unknown Fnac marketplace '{name}'", code="ERR_404")

    def _blank(self) -> FnacSandbox:
        return FnacSandbox(seed=False, now=self.now)
