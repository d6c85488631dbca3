"""The Mirakl connector: M11 since the cursor, M10 when M11 truncated a thread.

M11 returns at most a thread's last 100 messages; when ``metadata.total_count`` says
there are more, the whole thread is read with M10 so no message is ever skipped.
Mirakl's parties map onto Parley's roles: CUSTOMER → customer, SHOP → merchant,
OPERATOR → operator. Entity types MMP_ORDER and MMP_OFFER become "order" and "offer".
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

from parley_connectors.mirakl import (
    MiraklClient,
    MiraklMessage,
    MiraklParticipant,
    MiraklPayloadError,
    MiraklSender,
    MiraklThread,
)
from parley_connectors.mirakl.models import MiraklCustomerOrganization
from parley_connectors.reading import ConnectionInfo, FetchedFile, MalformedThread
from parley_schemas import (
    AttachmentRef,
    Organization,
    Participant,
    ParticipantRole,
    RawEntity,
    RawMessage,
    RawThreadSnapshot,
    utcnow,
)

_ROLES = {
    "CUSTOMER": ParticipantRole.CUSTOMER,
    "SHOP": ParticipantRole.MERCHANT,
    "OPERATOR": ParticipantRole.OPERATOR,
}
_ENTITY_TYPES = {"MMP_ORDER": "order", "MMP_OFFER": "offer", "PRODUCT": "product"}
M11_MESSAGE_CAP = 100


class UnknownParty(ValueError):
    """A sender or participant type Mirakl added that Parley cannot place."""


class MiraklConnector:
    def __init__(self, connection: ConnectionInfo, client: MiraklClient | None = None) -> None:
        self._connection = connection
        shop_id = connection.options.get("shop_id")
        self._client = client or MiraklClient(
            connection.base_url,
            connection.credentials["api_key"],
            shop_id=int(shop_id) if shop_id else None,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def changes_since(
        self, since: datetime
    ) -> AsyncIterator[RawThreadSnapshot | MalformedThread]:
        async for item in self._client.list_thread_results(since, with_messages=True):
            if isinstance(item, MiraklPayloadError):
                yield MalformedThread(item.reason, item.thread_id, _as_dict(item.payload))
                continue
            thread = item
            total = thread.metadata.total_count if thread.metadata else None
            if total is not None and total > len(thread.messages):
                try:
                    thread = await self._client.get_thread(thread.id)
                except MiraklPayloadError as exc:
                    yield MalformedThread(exc.reason, exc.thread_id, _as_dict(exc.payload))
                    continue
            try:
                yield self.snapshot(thread)
            except UnknownParty as exc:
                yield MalformedThread(str(exc), thread.id, thread.raw)

    async def fetch_thread(self, thread_id: str) -> RawThreadSnapshot | MalformedThread:
        """M10: the whole thread."""
        try:
            thread = await self._client.get_thread(thread_id)
            return self.snapshot(thread)
        except MiraklPayloadError as exc:
            return MalformedThread(exc.reason, exc.thread_id, _as_dict(exc.payload))
        except UnknownParty as exc:
            return MalformedThread(str(exc), thread_id)

    async def fetch_attachment(self, attachment: AttachmentRef) -> FetchedFile:
        """M13: the attachment's bytes."""
        assert attachment.marketplace_attachment_id is not None
        file = await self._client.download_attachment(attachment.marketplace_attachment_id)
        return FetchedFile(name=file.name, content_type=file.content_type, content=file.content)

    def snapshot(self, thread: MiraklThread) -> RawThreadSnapshot:
        c = self._connection
        company = _company(thread.customer_organization)
        return RawThreadSnapshot(
            connection_id=c.id,
            store_id=c.store_id,
            marketplace=c.marketplace,
            family=c.family,
            channel="messages",
            thread_id=thread.id,
            subject=thread.topic.value if thread.topic else None,
            entities=[
                RawEntity(type=_ENTITY_TYPES.get(e.type, e.type.lower()), id=e.id, label=e.label)
                for e in thread.entities
            ],
            participants=[_participant(p, company) for p in thread.authorized_participants],
            messages=[_message(m, company) for m in thread.messages],
            created_at=thread.date_created,
            updated_at=thread.date_updated,
            fetched_at=utcnow(),
            # M11's metadata says since when the shop's reply is needed (absent: none).
            reply_signal=thread.metadata is not None,
            reply_expected_since=(
                thread.metadata.shop_reply_needed_since if thread.metadata else None
            ),
            payload=thread.raw,
        )


def _role(party: str) -> ParticipantRole:
    try:
        return _ROLES[party.upper()]
    except KeyError:
        raise UnknownParty(f"unknown Mirakl party type {party!r}") from None


def _company(org: MiraklCustomerOrganization | None) -> Organization | None:
    """The buying company of a B2B thread (``customer_organization``), if Mirakl gives one."""
    if org is None or not (org.id or org.display_name):
        return None
    return Organization(name=org.display_name, id=org.id)


def _participant(p: MiraklParticipant, company: Organization | None) -> Participant:
    role = _role(p.type)
    return Participant(
        role=role,
        name=p.display_name,
        marketplace_id=p.id,
        organization=company if role is ParticipantRole.CUSTOMER else None,
    )


def _sender(s: MiraklSender, company: Organization | None) -> Participant:
    org = s.organization_details
    role = _role(s.party)
    return Participant(
        role=role,
        name=s.display_name or (org.display_name if org else None),
        marketplace_id=org.id if org else None,
        organization=company if role is ParticipantRole.CUSTOMER else None,
    )


def _message(m: MiraklMessage, company: Organization | None) -> RawMessage:
    return RawMessage(
        marketplace_message_id=m.id,
        sender=_sender(m.sender, company),
        recipients=[_role(r.type) for r in m.to],
        body=m.body,
        sent_at=m.date_created,
        attachments=[
            AttachmentRef(marketplace_attachment_id=a.id, name=a.name, size=a.size)
            for a in m.attachments
        ],
    )


def _as_dict(payload: object) -> dict[str, object] | None:
    return payload if isinstance(payload, dict) else None
