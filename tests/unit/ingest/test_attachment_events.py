"""A downloaded attachment is announced (attachment.stored) once per stored file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from parley_ingest.domain.connections import Connection
from parley_ingest.ports import FetchedFile, MalformedThread
from parley_ingest.sync import SyncService
from parley_schemas import (
    ATTACHMENT_STORED,
    AttachmentRef,
    Participant,
    ParticipantRole,
    RawMessage,
    RawThreadSnapshot,
)

NOW = datetime(2026, 4, 2, tzinfo=UTC)
CONNECTION = Connection(
    id="c1",
    store_id="s1",
    family="mirakl",
    marketplace="carrefour",
    base_url="http://sandbox",
    credentials={},
    activated_at=NOW,
    cursor=NOW,
)


class Connector:
    async def changes_since(
        self, since: datetime
    ) -> AsyncIterator[RawThreadSnapshot | MalformedThread]:
        yield RawThreadSnapshot(
            connection_id="c1",
            store_id="s1",
            marketplace="carrefour",
            family="mirakl",
            thread_id="t1",
            messages=[
                RawMessage(
                    marketplace_message_id="m1",
                    sender=Participant(role=ParticipantRole.CUSTOMER),
                    body="see photo",
                    sent_at=NOW,
                    attachments=[AttachmentRef(marketplace_attachment_id="a1", name="p.jpg")],
                )
            ],
            fetched_at=NOW,
        )

    async def fetch_attachment(self, attachment: AttachmentRef) -> FetchedFile:
        return FetchedFile("p.jpg", "image/jpeg", b"jpeg")

    async def aclose(self) -> None:
        pass


class Files:
    def __init__(self) -> None:
        self.saved: dict[str, str] = {}

    async def find(self, key: str) -> str | None:
        return self.saved.get(key)

    async def save(self, key: str, name: str, content_type: str, content: bytes, **_: str) -> str:
        self.saved[key] = f"file-{len(self.saved)}"
        return self.saved[key]


class Recording:
    def __init__(self) -> None:
        self.items: list[Any] = []

    async def publish(self, item: Any, *_: Any) -> None:
        self.items.append(item)

    async def dead_letter(self, *_: Any) -> None:
        pass


async def test_a_stored_attachment_is_announced_with_its_discussion_and_file() -> None:
    events, files = Recording(), Files()
    service = SyncService(lambda _c: Connector(), Recording(), files, events=events)

    await service.sync(CONNECTION, NOW)
    await service.sync(CONNECTION, NOW)  # found stored: the same file, the same id

    first, again = events.items
    assert first.type == ATTACHMENT_STORED.name and first.id == again.id
    assert first.subject == "s1:carrefour:t1"
    assert (first.data.file_id, first.data.name, first.data.size) == ("file-0", "p.jpg", 4)
    assert first.data.marketplace_message_id == "m1"
