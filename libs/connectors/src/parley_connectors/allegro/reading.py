"""The Allegro connector: Message Center threads and post-purchase issues since the cursor.

Neither of Allegro's conversation APIs can filter by "changed since" (see
:mod:`parley_connectors.allegro.client` for the documented facts), so each channel is
walked from its documented order:

- Message Center: ``GET /messaging/threads`` is sorted by last message date, newest
  first; paging stops at the first thread whose ``lastMessageDateTime`` is before the
  cursor. Each changed thread is then read whole (all its messages), because the
  normalizer derives subject and initiator from the full conversation.
- Discussions: ``GET /sale/issues`` is sorted by *opening* date, newest first, and an
  old issue can get a new message. Paging therefore goes back to the cursor less a
  look-back (connection option ``issues_lookback_days``, 90 days by default: an
  assumption that disputes and claims do not stay active longer), and keeps the issues
  whose last chat message (``chat.lastMessage.createdAt``) is at or after the cursor.

Changed conversations of both channels are then fetched oldest activity first. A
snapshot's ``updated_at`` is the activity time the *listing* showed, never a later
message read afterwards: a thread that moved to the top of the list while we paged is
then still ahead of the cursor and is caught by the next pass.

Mapping: ``author.isInterlocutor`` → customer, otherwise merchant (the seller);
issue roles BUYER → customer, SELLER → merchant, ADMIN / SYSTEM / FULFILLMENT (and any
role Allegro adds later) → operator. ``relatesTo.order`` and an issue's
``checkoutForm`` become entity "order", ``relatesTo.offer`` and ``offer`` "offer",
``product`` "product". Issue threads are ``issue:<issueId>`` (channel
"discussions"); Message Center threads keep Allegro's id (channel "message_center").

Tokens rotate on every refresh; the connector saves them into the connection's
encrypted credentials through :class:`CredentialsRepository` (ingest's connection
repository), and re-reads them there when another process rotated them first.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from parley_connectors.allegro import (
    AllegroClient,
    AllegroIssue,
    AllegroMessage,
    AllegroPayloadError,
    AllegroThread,
    Channel,
    IssueMessage,
    OAuthTokens,
    RefreshLock,
    RefreshLocks,
    client_credentials,
    credentials_with_tokens,
    parse_thread_key,
    thread_key,
    tokens_from_credentials,
)
from parley_connectors.reading import (
    ConnectionInfo,
    CredentialsRepository,
    FetchedFile,
    MalformedThread,
)
from parley_schemas import (
    AttachmentRef,
    Participant,
    ParticipantRole,
    RawEntity,
    RawMessage,
    RawThreadSnapshot,
    utcnow,
)

DEFAULT_ISSUES_LOOKBACK = timedelta(days=90)
_ISSUE_ROLES = {"BUYER": ParticipantRole.CUSTOMER, "SELLER": ParticipantRole.MERCHANT}


class ConnectionTokenStore:
    """The connection's credentials as a token store: rotated tokens are persisted.

    Without a repository (tests, one-off runs) the tokens live in memory only.
    """

    def __init__(self, connection: ConnectionInfo, repo: CredentialsRepository | None) -> None:
        self._connection_id = connection.id
        self._credentials = dict(connection.credentials)
        self._repo = repo

    async def load(self) -> OAuthTokens:
        if self._repo is not None:
            latest = await self._repo.get(self._connection_id)
            if latest is not None:
                self._credentials = dict(latest.credentials)
        return tokens_from_credentials(self._credentials)

    async def save(self, tokens: OAuthTokens) -> None:
        self._credentials = credentials_with_tokens(self._credentials, tokens)
        if self._repo is not None:
            await self._repo.save_credentials(self._connection_id, self._credentials)

    def refresh_lock(self) -> RefreshLock | None:
        """The connection's refresh lock, when the repository offers one: the responder
        refreshes the same tokens, and one refresh at a time keeps the rotation intact."""
        if isinstance(self._repo, RefreshLocks):
            return self._repo.lock_for(self._connection_id)
        return None


def client_for(
    connection: ConnectionInfo, repo: CredentialsRepository | None = None, **kwargs: Any
) -> AllegroClient:
    """The Allegro client of a connection (``options.auth_url`` overrides the token host)."""
    return AllegroClient(
        connection.base_url,
        client_credentials(connection.credentials),
        ConnectionTokenStore(connection, repo),
        auth_url=connection.options.get("auth_url") or None,
        **kwargs,
    )


@dataclass(frozen=True)
class _Changed:
    """A conversation the listing showed as changed, and when."""

    activity: datetime
    thread: AllegroThread | None = None
    issue: AllegroIssue | None = None


class AllegroConnector:
    def __init__(
        self,
        connection: ConnectionInfo,
        client: AllegroClient | None = None,
        credentials: CredentialsRepository | None = None,
    ) -> None:
        self._connection = connection
        self._client = client or client_for(connection, credentials)
        days = connection.options.get("issues_lookback_days")
        self._lookback = timedelta(days=float(days)) if days else DEFAULT_ISSUES_LOOKBACK

    async def aclose(self) -> None:
        await self._client.aclose()

    async def changes_since(
        self, since: datetime
    ) -> AsyncIterator[RawThreadSnapshot | MalformedThread]:
        changed: list[_Changed] = []
        async for thread in self._client.threads_since(since):
            if isinstance(thread, AllegroPayloadError):
                yield _malformed(thread)
                continue
            assert thread.last_message_date_time is not None
            changed.append(_Changed(thread.last_message_date_time, thread=thread))
        async for issue in self._client.issues(opened_since=since - self._lookback):
            if isinstance(issue, AllegroPayloadError):
                yield _malformed(issue)
            elif issue.last_activity >= since:
                changed.append(_Changed(issue.last_activity, issue=issue))
        changed.sort(key=lambda c: c.activity)
        for item in changed:
            if item.thread is not None:
                yield await self._thread_snapshot(item.thread)
            elif item.issue is not None:
                yield await self._issue_snapshot(item.issue)

    async def fetch_thread(self, thread_id: str) -> RawThreadSnapshot | MalformedThread:
        """One conversation now, whatever the cursor (manual resync)."""
        channel, allegro_id = parse_thread_key(thread_id)
        try:
            if channel is Channel.DISCUSSIONS:
                return await self._issue_snapshot(await self._client.get_issue(allegro_id))
            return await self._thread_snapshot(await self._client.get_thread(allegro_id))
        except AllegroPayloadError as exc:
            return _malformed(exc, thread_id)

    async def fetch_attachment(self, attachment: AttachmentRef) -> FetchedFile:
        """The bytes of a Message Center or issue attachment (F4)."""
        assert attachment.marketplace_attachment_id is not None
        channel, allegro_id = parse_thread_key(attachment.marketplace_attachment_id)
        if channel is Channel.DISCUSSIONS:
            file = await self._client.download_issue_attachment(allegro_id)
        else:
            file = await self._client.download(allegro_id)
        return FetchedFile(name=file.name, content_type=file.content_type, content=file.content)

    # --- Message Center ----------------------------------------------------------------

    async def _thread_snapshot(self, thread: AllegroThread) -> RawThreadSnapshot | MalformedThread:
        try:
            messages, raw = await self._client.messages(thread.id)
        except AllegroPayloadError as exc:
            return _malformed(exc, thread.id)
        c = self._connection
        customer = _customer(thread)
        seller = next((m.author.login for m in messages if not m.author.is_interlocutor), None)
        participants = [customer]
        if seller:
            participants.append(
                Participant(role=ParticipantRole.MERCHANT, name=seller, marketplace_id=seller)
            )
        last = thread.last_message_date_time or max((m.created_at for m in messages), default=None)
        return RawThreadSnapshot(
            connection_id=c.id,
            store_id=c.store_id,
            marketplace=c.marketplace,
            family=c.family,
            channel=Channel.MESSAGE_CENTER.value,
            thread_id=thread.id,
            subject=next((m.subject for m in messages if m.subject), None),
            entities=_message_entities(messages),
            participants=participants,
            messages=[_message(m, customer) for m in messages],
            created_at=messages[0].created_at if messages else last,
            updated_at=last,
            fetched_at=utcnow(),
            payload={"thread": thread.model_dump(mode="json", by_alias=True), "messages": raw},
        )

    # --- post-purchase issues -----------------------------------------------------------

    async def _issue_snapshot(self, issue: AllegroIssue) -> RawThreadSnapshot | MalformedThread:
        key = thread_key(Channel.DISCUSSIONS, issue.id)
        try:
            chat, raw = await self._client.chat(issue.id)
        except AllegroPayloadError as exc:
            return _malformed(exc, key)
        initial = issue.chat.initial_message if issue.chat else None
        if initial is not None and all(m.id != initial.id for m in chat):
            chat = sorted([initial, *chat], key=lambda m: (m.created_at, m.id))
        c = self._connection
        buyer = issue.buyer
        customer = Participant(
            role=ParticipantRole.CUSTOMER,
            name=buyer.login if buyer else None,
            marketplace_id=(buyer.id or buyer.login) if buyer else None,
        )
        return RawThreadSnapshot(
            connection_id=c.id,
            store_id=c.store_id,
            marketplace=c.marketplace,
            family=c.family,
            channel=Channel.DISCUSSIONS.value,
            thread_id=key,
            subject=_issue_subject(issue),
            entities=_issue_entities(issue),
            participants=[customer],
            messages=[_issue_message(m, customer) for m in chat],
            created_at=issue.opened_date,
            updated_at=issue.last_activity,
            fetched_at=utcnow(),
            payload={"issue": issue.model_dump(mode="json", by_alias=True), "chat": raw},
        )


def _customer(thread: AllegroThread) -> Participant:
    login = thread.interlocutor.login if thread.interlocutor else None
    return Participant(role=ParticipantRole.CUSTOMER, name=login, marketplace_id=login)


def _message(m: AllegroMessage, customer: Participant) -> RawMessage:
    if m.author.is_interlocutor:
        sender = customer.model_copy(update={"name": m.author.login or customer.name})
        recipients = [ParticipantRole.MERCHANT]
    else:
        sender = Participant(
            role=ParticipantRole.MERCHANT, name=m.author.login, marketplace_id=m.author.login
        )
        recipients = [ParticipantRole.CUSTOMER]
    return RawMessage(
        marketplace_message_id=m.id,
        sender=sender,
        recipients=recipients,
        body=m.text,
        sent_at=m.created_at,
        attachments=[
            AttachmentRef(
                marketplace_attachment_id=a.attachment_id,
                name=a.file_name,
                content_type=a.mime_type,
            )
            for a in m.attachments
        ],
    )


def _message_entities(messages: list[AllegroMessage]) -> list[RawEntity]:
    found: dict[tuple[str, str], RawEntity] = {}
    for m in messages:
        related = m.relates_to
        if related is None:
            continue
        if related.order is not None:
            found.setdefault(
                ("order", related.order.id), RawEntity(type="order", id=related.order.id)
            )
        if related.offer is not None:
            found.setdefault(
                ("offer", related.offer.id), RawEntity(type="offer", id=related.offer.id)
            )
    return list(found.values())


def _issue_message(m: IssueMessage, customer: Participant) -> RawMessage:
    role = _ISSUE_ROLES.get(m.author.role.upper(), ParticipantRole.OPERATOR)
    recipients = (
        [ParticipantRole.CUSTOMER]
        if role is ParticipantRole.MERCHANT
        else [ParticipantRole.MERCHANT]
    )
    if role is ParticipantRole.CUSTOMER:
        # The issue's buyer: the same marketplace id as the thread's customer participant.
        sender = customer.model_copy(update={"name": m.author.login or customer.name})
    else:
        sender = Participant(
            role=role,
            name=m.author.login or ("Allegro" if role is ParticipantRole.OPERATOR else None),
            marketplace_id=m.author.login,
        )
    return RawMessage(
        marketplace_message_id=m.id,
        sender=sender,
        recipients=recipients,
        body=m.text or "",
        sent_at=m.created_at,
        attachments=[
            AttachmentRef(
                marketplace_attachment_id=(
                    thread_key(Channel.DISCUSSIONS, a.attachment_id) if a.attachment_id else None
                ),
                name=a.file_name,
            )
            for a in m.attachments
        ],
    )


def _issue_subject(issue: AllegroIssue) -> str | None:
    if issue.subject:
        return issue.subject
    if issue.reason is not None and (issue.reason.description or issue.reason.type):
        return issue.reason.description or issue.reason.type
    kind = (issue.type or "issue").lower()
    return f"{kind} {issue.reference_number}" if issue.reference_number else None


def _issue_entities(issue: AllegroIssue) -> list[RawEntity]:
    entities = []
    if issue.checkout_form is not None:
        entities.append(RawEntity(type="order", id=issue.checkout_form.id))
    if issue.offer is not None:
        entities.append(RawEntity(type="offer", id=issue.offer.id))
    if issue.product is not None:
        entities.append(RawEntity(type="product", id=issue.product.id))
    return entities


def _malformed(exc: AllegroPayloadError, thread_id: str | None = None) -> MalformedThread:
    payload = exc.payload if isinstance(exc.payload, dict) else None
    return MalformedThread(exc.reason, exc.thread_id or thread_id, payload)
