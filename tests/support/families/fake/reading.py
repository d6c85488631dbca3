"""The fake family's reader: the shop's threads with a message at or after the cursor."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

from parley_connectors.reading import ConnectionInfo, MalformedThread
from parley_schemas import Participant, ParticipantRole, RawMessage, RawThreadSnapshot, utcnow

from .marketplace import MARKETPLACE, FakeThread

_ROLES = {"buyer": ParticipantRole.CUSTOMER, "shop": ParticipantRole.MERCHANT}


class FakeReader:
    def __init__(self, connection: ConnectionInfo) -> None:
        self._connection = connection
        self._shop = connection.credentials["shop"]

    async def changes_since(
        self, since: datetime
    ) -> AsyncIterator[RawThreadSnapshot | MalformedThread]:
        threads = MARKETPLACE.threads.get(self._shop, {}).values()
        for thread in sorted(threads, key=lambda t: t.messages[-1].at):
            if thread.messages[-1].at >= since:
                yield self.snapshot(thread)

    async def fetch_thread(self, thread_id: str) -> RawThreadSnapshot | MalformedThread:
        thread = MARKETPLACE.threads.get(self._shop, {}).get(thread_id)
        if thread is None:
            return MalformedThread("no such thread", thread_id)
        return self.snapshot(thread)

    async def aclose(self) -> None:
        """Nothing to close: the marketplace is in memory."""

    def snapshot(self, thread: FakeThread) -> RawThreadSnapshot:
        c = self._connection
        return RawThreadSnapshot(
            connection_id=c.id,
            store_id=c.store_id,
            marketplace=c.marketplace,
            family=c.family,
            channel="messages",
            thread_id=thread.id,
            subject=thread.subject,
            participants=[Participant(role=ParticipantRole.CUSTOMER, name="Buyer")],
            messages=[
                RawMessage(
                    marketplace_message_id=m.id,
                    sender=Participant(role=_ROLES[m.author]),
                    recipients=[ParticipantRole.MERCHANT],
                    body=m.text,
                    sent_at=m.at,
                )
                for m in thread.messages
            ],
            created_at=thread.messages[0].at,
            updated_at=thread.messages[-1].at,
            fetched_at=utcnow(),
            payload={"id": thread.id},
        )
