"""In-memory state of the sandbox's Mirakl operator instances.

Each instance (``carrefour``, ``empik`` …) is one operator platform as one shop sees
it: its threads, their messages and attachments, the replies the shop posted through
M12 and the faults armed on it. Nothing is persisted: a sandbox restart, or a reset,
is a clean slate, which is what tests and demos want.

The state keeps Python objects; :mod:`parley_sandbox.mirakl.wire` turns them into the
documented JSON. Times are UTC and truncated to milliseconds, the precision the wire
format shows, so a date read from an answer can be sent back as ``updated_since``
and mean exactly the same instant.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from parley_sandbox.faults import FaultQueue

DEFAULT_API_KEY = "sandbox-shop-key"  # the sandbox's public demo key, not a secret
MAX_MESSAGES_PER_THREAD = 1000  # documented for M12
MAX_ATTACHMENTS_PER_ENTITY = 50  # documented for M12
MAX_ORDER_DOCUMENTS = 50  # documented for OR74
INSTANCE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")

CUSTOMER, OPERATOR, SHOP = "CUSTOMER", "OPERATOR", "SHOP"
PARTY_TYPES = frozenset({CUSTOMER, OPERATOR, SHOP})


def truncate_ms(value: datetime) -> datetime:
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


class Clock:
    """Wall-clock time that never repeats: each reading is at least 1 ms after the last.

    Two events in the same millisecond would tie on ``date_updated``; strictly
    increasing times keep ``updated_since`` filtering and ordering unambiguous.
    """

    def __init__(self, source: Callable[[], datetime] | None = None) -> None:
        self._source = source or (lambda: datetime.now(UTC))
        self._last: datetime | None = None

    def now(self) -> datetime:
        current = truncate_ms(self._source())
        if self._last is not None and current <= self._last:
            current = self._last + timedelta(milliseconds=1)
        self._last = current
        return current


@dataclass(frozen=True)
class Party:
    """A thread participant: the customer, the operator or the shop."""

    type: str
    display_name: str
    id: str | None = None


@dataclass
class StoredAttachment:
    id: str
    name: str
    content_type: str
    content: bytes
    entity_key: str

    @property
    def size(self) -> int:
        return len(self.content)


@dataclass
class StoredMessage:
    id: str
    body: str
    date_created: datetime
    sender: Party
    to: list[Party]
    attachments: list[StoredAttachment] = field(default_factory=list)


@dataclass
class StoredThread:
    id: str
    topic: dict[str, str] | None
    entities: list[dict[str, str]]
    authorized: list[Party]
    date_created: datetime
    date_updated: datetime
    messages: list[StoredMessage] = field(default_factory=list)
    no_store_reply_needed: list[dict[str, Any]] = field(default_factory=list)

    @property
    def entity_key(self) -> str:
        """Attachments are counted per entity (e.g. per order) across its threads."""
        if not self.entities:
            return f"thread:{self.id}"
        first = self.entities[0]
        return f"{first['type']}:{first['id']}"

    def party(self, kind: str) -> Party | None:
        return next((p for p in self.authorized if p.type == kind), None)

    def current_participants(self) -> list[Party]:
        seen: list[Party] = []
        for message in self.messages:
            for party in [message.sender, *message.to]:
                if party not in seen:
                    seen.append(party)
        return seen

    def shop_reply_needed_since(self) -> datetime | None:
        """Since when the shop owes an answer: the oldest message after its last one."""
        since = None
        for message in reversed(self.messages):
            if message.sender.type == SHOP:
                break
            since = message.date_created
        return since


@dataclass
class ReceivedReply:
    """A message the shop posted through M12, as tests want to check it."""

    thread_id: str
    message_id: str
    body: str
    to: list[Party]
    topic: dict[str, str] | None
    attachments: list[StoredAttachment]
    received_at: datetime
    shop_id: int | None


@dataclass
class StoredOrderDocument:
    """A document the shop filed on an order through OR74."""

    id: str
    order_id: str
    file_name: str
    type_code: str
    content_type: str
    content: bytes
    date_uploaded: datetime

    @property
    def size(self) -> int:
        return len(self.content)


@dataclass
class InstanceConfig:
    name: str
    api_key: str = DEFAULT_API_KEY
    shop_id: int = 1000
    shop_name: str = "Sandbox Shop"
    operator_name: str = ""

    def __post_init__(self) -> None:
        if not self.operator_name:
            self.operator_name = self.name.replace("-", " ").title()


class SandboxError(Exception):
    """A request the instance refuses; routes turn it into a Mirakl error answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class MiraklInstance:
    """One operator platform as one shop sees it."""

    def __init__(self, config: InstanceConfig, clock: Clock) -> None:
        self.config = config
        self.clock = clock
        self.threads: dict[str, StoredThread] = {}
        self.attachments: dict[str, StoredAttachment] = {}
        self.replies: list[ReceivedReply] = []
        self.order_documents: dict[str, list[StoredOrderDocument]] = {}
        self.faults = FaultQueue()

    @property
    def shop(self) -> Party:
        return Party(SHOP, self.config.shop_name, str(self.config.shop_id))

    @property
    def operator(self) -> Party:
        return Party(OPERATOR, self.config.operator_name)

    # --- threads -------------------------------------------------------------------

    def open_thread(
        self,
        *,
        topic: str,
        entities: list[dict[str, str]],
        customer: Party | None,
        at: datetime | None = None,
        thread_id: str | None = None,
        topic_type: str = "FREE_TEXT",
    ) -> StoredThread:
        when = truncate_ms(at) if at is not None else self.clock.now()
        authorized = [p for p in (customer, self.operator, self.shop) if p is not None]
        thread = StoredThread(
            id=thread_id or str(uuid.uuid4()),
            topic={"type": topic_type, "value": topic},
            entities=entities,
            authorized=authorized,
            date_created=when,
            date_updated=when,
        )
        self.threads[thread.id] = thread
        return thread

    def thread(self, thread_id: str) -> StoredThread:
        thread = self.threads.get(thread_id)
        if thread is None:
            raise SandboxError(404, f"Thread with id '{thread_id}' not found")
        return thread

    def post(
        self,
        thread: StoredThread,
        *,
        sender: Party,
        body: str,
        to: list[Party],
        files: Iterable[tuple[str, str, bytes]] = (),
        at: datetime | None = None,
        message_id: str | None = None,
    ) -> StoredMessage:
        """Adds a message to a thread, enforcing the documented M12 limits."""
        if len(thread.messages) >= MAX_MESSAGES_PER_THREAD:
            raise SandboxError(
                400, f"Thread '{thread.id}' reached {MAX_MESSAGES_PER_THREAD} messages"
            )
        files = list(files)
        key = thread.entity_key
        already = sum(1 for a in self.attachments.values() if a.entity_key == key)
        if already + len(files) > MAX_ATTACHMENTS_PER_ENTITY:
            raise SandboxError(
                400,
                f"At most {MAX_ATTACHMENTS_PER_ENTITY} attachments are allowed across the "
                f"threads of the same entity ({already} already)",
            )
        when = truncate_ms(at) if at is not None else self.clock.now()
        attachments = [
            StoredAttachment(str(uuid.uuid4()), name, content_type, content, key)
            for name, content_type, content in files
        ]
        message = StoredMessage(
            id=message_id or str(uuid.uuid4()),
            body=body,
            date_created=when,
            sender=sender,
            to=to,
            attachments=attachments,
        )
        thread.messages.append(message)
        thread.messages.sort(key=lambda m: m.date_created)
        thread.date_updated = max(thread.date_updated, when)
        for attachment in attachments:
            self.attachments[attachment.id] = attachment
        return message

    def query(
        self,
        *,
        updated_since: datetime | None,
        entity_type: str | None,
        entity_ids: frozenset[str],
    ) -> list[StoredThread]:
        """M11's filters; the caller orders and pages."""
        found = []
        for thread in self.threads.values():
            if updated_since is not None and thread.date_updated < updated_since:
                continue
            if entity_type and not any(
                e["type"] == entity_type and (not entity_ids or e["id"] in entity_ids)
                for e in thread.entities
            ):
                continue
            found.append(thread)
        return found

    # --- order documents (OR72, OR74) ------------------------------------------------

    def knows_order(self, order_id: str) -> bool:
        """The sandbox has no order book: an order exists once a thread is about it."""
        return any(
            e.get("type") == "MMP_ORDER" and e.get("id") == order_id
            for thread in self.threads.values()
            for e in thread.entities
        )

    def file_order_document(
        self, order_id: str, file_name: str, type_code: str, content_type: str, content: bytes
    ) -> StoredOrderDocument:
        document = StoredOrderDocument(
            id=str(uuid.uuid4().int % 10**9),
            order_id=order_id,
            file_name=file_name,
            type_code=type_code,
            content_type=content_type,
            content=content,
            date_uploaded=self.clock.now(),
        )
        self.order_documents.setdefault(order_id, []).append(document)
        return document


class MiraklSandbox:
    """Every operator instance of one sandbox process, created on first use."""

    def __init__(
        self,
        *,
        seed: bool = True,
        clock: Clock | None = None,
        seeder: Callable[[MiraklSandbox], None] | None = None,
    ) -> None:
        self.clock = clock or Clock()
        self.instances: dict[str, MiraklInstance] = {}
        self._seeder = seeder
        self.seeded = False
        if seed:
            self.seed()

    def instance(self, name: str) -> MiraklInstance:
        if not INSTANCE_NAME.match(name):
            raise SandboxError(404, f"Unknown Mirakl instance '{name}'")
        found = self.instances.get(name)
        if found is None:
            found = MiraklInstance(InstanceConfig(name=name), self.clock)
            self.instances[name] = found
        return found

    def configure(self, config: InstanceConfig) -> MiraklInstance:
        instance = self.instance(config.name)
        instance.config = config
        return instance

    def seed(self) -> None:
        if self._seeder is not None:
            self._seeder(self)
            self.seeded = True

    def reset(self, *, seed: bool, name: str | None = None) -> None:
        """Forgets threads, replies and faults (of one instance, or of all)."""
        if name is None:
            self.instances.clear()
        else:
            self.instances.pop(name, None)
        if seed:
            self.seed_only(name)

    def seed_only(self, name: str | None) -> None:
        if self._seeder is None:
            return
        if name is None:
            self.seed()
            return
        # Seed into a scratch sandbox, then keep only the instance asked for.
        scratch = MiraklSandbox(seed=False, clock=self.clock, seeder=self._seeder)
        scratch.seed()
        if name in scratch.instances:
            self.instances[name] = scratch.instances[name]
