"""In-memory state of the sandbox's Rakuten France sales web services.

Each instance (``fr`` …) is one seller account: its login and token, the items it
sold with their buyer messages and Rakuten France mails, the messages it sent
through ``contactuseraboutitem`` and the faults armed on it. Times are UTC to the
minute, the precision Rakuten's ``dd/mm/yyyy-HH:MM`` dates show.

Sandbox behaviour where Rakuten publishes none: an item is on the to-do list while
it has an unread buyer message or Rakuten mail, or a claim; the seller's message
through ``contactuseraboutitem`` marks the buyer's messages read.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from parley_sandbox.faults import CORRUPTING, Fault, FaultQueue, FaultTargets
from parley_sandbox.registry import InstanceRegistry

DEFAULT_LOGIN = "boutique-sandbox"  # the sandbox's public demo account, not a secret
DEFAULT_TOKEN = "sandbox-rakuten-token"  # noqa: S105 - public demo token
RAKUTEN_FRANCE = "Rakuten France"
MESSAGE, MAIL = "message", "mail"
AMICABLE, OPEN = "AMICABLE", "OPEN"
OPERATIONS = frozenset({"getitemtodolist", "getiteminfos", "contactuseraboutitem"})
# Every action answers XML, so every fault kind applies to every action.
FAULT_TARGETS = FaultTargets(OPERATIONS, documents=None)
CONTACT_AFTER_RECEIPT = timedelta(days=15)  # documented for contactuseraboutitem
CONTACT_AFTER_ORDER = timedelta(days=42)  # documented for contactuseraboutitem
MAX_CONTENT = 2000  # sandbox limit (Rakuten publishes none)


def to_minute(value: datetime) -> datetime:
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.replace(second=0, microsecond=0)


class RakutenRefusal(Exception):
    """An answer as an ``errorresponse``: ``type``/``code``/``message``/``detail``."""

    def __init__(
        self,
        http_status: int,
        detail: str,
        *,
        type_: str = "Sender",
        code: str = "ParameterError",
        message: str = "Problem with parameters.",
        retry_after: int = 0,
    ) -> None:
        super().__init__(detail)
        self.http_status = http_status
        self.detail = detail
        self.type = type_
        self.code = code
        self.message = message
        self.retry_after = retry_after


@dataclass
class StoredMessage:
    kind: str  # MESSAGE | MAIL
    sender: str
    recipient: str
    sent_at: datetime
    content: str
    status: str = "UNREAD"
    mail_id: str | None = None
    subject: str | None = None


@dataclass
class StoredItem:
    itemid: str
    purchaseid: str
    headline: str
    buyer: str
    ordered_at: datetime
    received_at: datetime | None = None
    claim: str | None = None  # None | AMICABLE | OPEN
    claim_comment: str | None = None
    messages: list[StoredMessage] = field(default_factory=list)

    def todo(self, login: str) -> bool:
        unread = any(m.status == "UNREAD" and m.sender != login for m in self.messages)
        return unread or self.claim is not None

    def last_activity(self) -> datetime:
        return max((m.sent_at for m in self.messages), default=self.ordered_at)


@dataclass
class ReceivedContact:
    itemid: str
    thread_id: str
    content: str
    received_at: datetime


@dataclass
class AccountConfig:
    name: str
    login: str = DEFAULT_LOGIN
    token: str = DEFAULT_TOKEN
    seller_id: str = "109698070"
    todo_page_size: int = 50


class RakutenAccount:
    """One seller account on Rakuten France."""

    def __init__(self, config: AccountConfig, now: Callable[[], datetime]) -> None:
        self.config = config
        self._now = now
        self.items: dict[str, StoredItem] = {}
        self.replies: list[ReceivedContact] = []
        self.faults = FaultQueue()
        self._ids = random.Random(config.name)

    def now(self) -> datetime:
        return to_minute(self._now())

    def new_id(self, digits: int = 10) -> str:
        low = 10 ** (digits - 1)
        while True:
            candidate = str(self._ids.randrange(low, low * 10))
            if candidate not in self.items:
                return candidate

    def item(
        self,
        itemid: str | None,
        *,
        buyer: str = "acheteur-sandbox",
        headline: str | None = None,
        ordered_at: datetime | None = None,
    ) -> StoredItem:
        if itemid is not None and itemid in self.items:
            return self.items[itemid]
        itemid = itemid or self.new_id()
        ordered = to_minute(ordered_at) if ordered_at else self.now() - timedelta(days=3)
        found = StoredItem(
            itemid=itemid,
            purchaseid=self.new_id(9),
            headline=headline or f"Article {itemid}",
            buyer=buyer,
            ordered_at=ordered,
        )
        self.items[itemid] = found
        return found

    def buyer_writes(self, item: StoredItem, content: str, at: datetime | None = None) -> None:
        item.messages.append(
            StoredMessage(
                kind=MESSAGE,
                sender=item.buyer,
                recipient=self.config.login,
                sent_at=to_minute(at) if at else self.now(),
                content=content,
            )
        )

    def rakuten_writes(
        self, item: StoredItem, content: str, subject: str, at: datetime | None = None
    ) -> StoredMessage:
        mail = StoredMessage(
            kind=MAIL,
            sender=RAKUTEN_FRANCE,
            recipient=self.config.login,
            sent_at=to_minute(at) if at else self.now(),
            content=content,
            mail_id=self.new_id(),
            subject=subject,
        )
        item.messages.append(mail)
        return mail

    def seller_writes(
        self, item: StoredItem, content: str, at: datetime | None = None, record: bool = True
    ) -> None:
        """``contactuseraboutitem``, with its documented conditions."""
        now = self.now()
        if not content.strip():
            raise RakutenRefusal(400, "The parameter content is mandatory")
        if len(content) > MAX_CONTENT:
            raise RakutenRefusal(400, f"The parameter content exceeds {MAX_CONTENT} characters")
        if item.claim == OPEN:
            raise RakutenRefusal(
                400,
                "The buyer cannot be contacted: the item is under a claim that is not amicable",
                code="ActionNotAllowed",
            )
        too_late = now - item.ordered_at > CONTACT_AFTER_ORDER or (
            item.received_at is not None and now - item.received_at > CONTACT_AFTER_RECEIPT
        )
        if too_late and item.claim != AMICABLE:
            raise RakutenRefusal(
                400, "The buyer can no longer be contacted about this item", code="ActionNotAllowed"
            )
        when = to_minute(at) if at else now
        item.messages.append(
            StoredMessage(
                kind=MESSAGE,
                sender=self.config.login,
                recipient=item.buyer,
                sent_at=when,
                content=content,
                status="READ",
            )
        )
        for message in item.messages:
            if message.kind == MESSAGE and message.sender == item.buyer:
                message.status = "READ"
        if record:
            self.replies.append(ReceivedContact(item.itemid, f"item:{item.itemid}", content, when))

    def todo(self) -> list[StoredItem]:
        found = [i for i in self.items.values() if i.todo(self.config.login)]
        return sorted(found, key=lambda i: (i.last_activity(), i.itemid))


class RakutenSandbox(InstanceRegistry[RakutenAccount]):
    """Every Rakuten France seller account of one sandbox process."""

    def __init__(
        self,
        *,
        seed: bool = True,
        now: Callable[[], datetime] | None = None,
        seeder: Callable[[RakutenSandbox], None] | None = None,
    ) -> None:
        self.now = now or (lambda: datetime.now(UTC))
        super().__init__(seed=seed, seeder=seeder)

    def _create(self, name: str) -> RakutenAccount:
        return RakutenAccount(AccountConfig(name=name), self.now)

    def _unknown(self, name: str) -> Exception:
        return RakutenRefusal(404, f"Unknown Rakuten account '{name}'")

    def _blank(self) -> RakutenSandbox:
        return RakutenSandbox(seed=False, now=self.now)


def corrupting(fault: Fault | None) -> bool:
    return fault is not None and fault.kind in CORRUPTING
