"""The Allegro family's write side, in both channels.

A Message Center thread (Parley thread id = Allegro's thread id) is answered with
``POST /messaging/threads/{threadId}/messages``; a dispute or claim (thread id
``issue:<issueId>``) with ``POST /sale/issues/{issueId}/message``. Both reach the
buyer only, which :mod:`parley_connectors.reply_rules` checks beforehand.

To tell whether a reply arrived, the conversation is read back: the seller's messages
(Message Center: ``author.isInterlocutor`` false; issues: role SELLER) created at or
after a moment (less a clock-skew margin). Which of them is our reply is decided by
the responder's reconciliation, never by the text alone.

The connection's OAuth tokens rotate on refresh, and a used refresh token is dead, so
one service must own the rotation: ingest, which owns the connections and their
credentials (parley_store.collections.OWNERS). The responder only reads the tokens
ingest saved (:class:`CredentialsReader`, the latest on every load). When they will
not do (expired, or refused with 401), it never spends the refresh token itself: its
token store's refresh lock is never granted, and asking for it sends ingest a resync
of the connection (:class:`RefreshRequests`), whose sync refreshes, saves and so
rotates the tokens under ingest's own lock. Meanwhile the responder's
:class:`~parley_connectors.allegro.AllegroAuth` re-reads the store until new tokens
appear (within its lock wait), or reports the marketplace unavailable for now, and the
reply is retried later like any transient fault. So a refresh token is used by one
service, saved before use, and never lost between two.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from parley_connectors.allegro import (
    AllegroClient,
    Channel,
    OAuthTokens,
    RefreshLock,
    TokenStore,
    client_credentials,
    credentials_with_tokens,
    parse_thread_key,
    tokens_from_credentials,
)
from parley_connectors.errors import BadRequest
from parley_connectors.files import OutgoingFile
from parley_connectors.writing import CredentialsReader, Destination, RefreshRequests, ShopReply
from parley_schemas import ParticipantRole

CLOCK_SKEW = timedelta(minutes=2)


class _AskIngest:
    """The refresh lock of a token store whose tokens ingest rotates: never granted, so
    this process never spends the refresh token; the first try asks ingest to refresh."""

    def __init__(self, destination: Destination, requests: RefreshRequests) -> None:
        self._destination = destination
        self._requests = requests
        self._asked = False

    async def acquire(self) -> bool:
        if not self._asked:
            self._asked = True
            await self._requests.request_refresh(self._destination)
        return False

    async def release(self) -> None:
        """Never acquired: nothing to release."""


class DestinationTokenStore:
    """The destination's tokens, read back from ingest's credentials when a reader is
    given (production); in memory only otherwise (tests, one-off scripts), where this
    process may refresh them itself."""

    def __init__(
        self,
        destination: Destination,
        credentials: CredentialsReader | None,
        refreshes: RefreshRequests | None = None,
    ) -> None:
        self._destination = destination
        self._credentials = dict(destination.credentials)
        shared = credentials is not None and destination.connection_id is not None
        self._reader = credentials if shared else None
        self._refreshes = refreshes

    async def load(self) -> OAuthTokens:
        if self._reader is not None and self._destination.connection_id is not None:
            latest = await self._reader.load_credentials(self._destination.connection_id)
            if latest is not None:
                self._credentials = dict(latest)
        return tokens_from_credentials(self._credentials)

    async def save(self, tokens: OAuthTokens) -> None:
        if self._reader is not None:  # never reached: the lock is never granted
            raise RuntimeError("the responder does not write ingest's credentials")
        self._credentials = credentials_with_tokens(self._credentials, tokens)

    def refresh_lock(self) -> RefreshLock | None:
        """None (refresh here, in memory) without a reader; else the lock that asks
        ingest, which owns the rotation."""
        if self._reader is None:
            return None
        if self._refreshes is None:
            raise RuntimeError("shared Allegro credentials need a way to ask ingest to refresh")
        return _AskIngest(self._destination, self._refreshes)


def connect(destination: Destination, tokens: TokenStore) -> AllegroClient:
    """The Allegro client of a destination (``options.auth_url`` overrides the token host)."""
    return AllegroClient(
        destination.base_url,
        client_credentials(destination.credentials),
        tokens,
        auth_url=destination.options.get("auth_url") or None,
    )


class AllegroReplies:
    """``clients`` builds the API client (tests pass one on the sandbox's transport)."""

    def __init__(
        self,
        credentials: CredentialsReader | None = None,
        clients: Callable[[Destination, TokenStore], AllegroClient] = connect,
        refreshes: RefreshRequests | None = None,
    ) -> None:
        self._credentials = credentials
        self._clients = clients
        self._refreshes = refreshes

    def _client(self, destination: Destination) -> AllegroClient:
        tokens = DestinationTokenStore(destination, self._credentials, self._refreshes)
        return self._clients(destination, tokens)

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
        if set(to) - {ParticipantRole.CUSTOMER}:
            raise BadRequest("Allegro replies reach the buyer only")
        channel, allegro_id = parse_thread_key(thread_id)
        async with self._client(destination) as client:
            if channel is Channel.DISCUSSIONS:
                if attachments:
                    raise BadRequest("Parley does not upload files to Allegro issues")
                return (await client.send_issue_message(allegro_id, body)).id
            if attachments:
                # Declared and uploaded first; an attempt repeated after a fault uploads
                # again (unsent uploads are only orphans on Allegro's side).
                return (await client.send_message_with_files(allegro_id, body, attachments)).id
            return (await client.send_message(allegro_id, body)).id

    async def shop_replies(
        self, destination: Destination, thread_id: str, since: datetime
    ) -> list[ShopReply] | None:
        channel, allegro_id = parse_thread_key(thread_id)
        earliest = since - CLOCK_SKEW
        async with self._client(destination) as client:
            if channel is Channel.DISCUSSIONS:
                chat, _ = await client.chat(allegro_id)
                return [
                    ShopReply(entry.id, entry.text or "", entry.created_at)
                    for entry in chat
                    if entry.author.role.upper() == "SELLER" and entry.created_at >= earliest
                ]
            messages, _ = await client.messages(allegro_id, after=earliest)
        return [
            ShopReply(message.id, message.text, message.created_at)
            for message in messages
            if not message.author.is_interlocutor
        ]
