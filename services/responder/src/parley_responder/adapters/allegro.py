"""The Allegro family's write side, in both channels.

A Message Center thread (Parley thread id = Allegro's thread id) is answered with
``POST /messaging/threads/{threadId}/messages``; a dispute or claim (thread id
``issue:<issueId>``) with ``POST /sale/issues/{issueId}/message``. Both reach the
buyer only, which :mod:`parley_responder.domain.rules` checks beforehand.

To tell whether a reply arrived, the conversation is read back: the seller's messages
(Message Center: ``author.isInterlocutor`` false; issues: role SELLER) created at or
after a moment (less a clock-skew margin). Which of them is our reply is decided by
:mod:`parley_responder.domain.reconcile`, never by the text alone.

The connection's OAuth tokens rotate on refresh; the new ones are written back into
the connection's encrypted credentials through :class:`CredentialsStore`, the same
document ingest reads, so both services keep working with one grant.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from parley_connectors.allegro import (
    AllegroClient,
    Channel,
    OAuthTokens,
    RefreshLock,
    RefreshLocks,
    TokenStore,
    client_credentials,
    credentials_with_tokens,
    parse_thread_key,
    tokens_from_credentials,
)
from parley_connectors.errors import BadRequest
from parley_connectors.files import OutgoingFile
from parley_responder.domain.reconcile import ShopReply
from parley_responder.ports import Destination
from parley_schemas import ParticipantRole

CLOCK_SKEW = timedelta(minutes=2)


class CredentialsStore(Protocol):
    """Reads and writes back a connection's (encrypted) credentials."""

    async def load_credentials(self, connection_id: str) -> dict[str, str] | None: ...

    async def save_credentials(self, connection_id: str, credentials: dict[str, str]) -> None: ...


class DestinationTokenStore:
    """The destination's credentials as a token store, persisted when a store is given."""

    def __init__(self, destination: Destination, store: CredentialsStore | None) -> None:
        self._connection_id = destination.connection_id
        self._credentials = dict(destination.credentials)
        self._store = store if destination.connection_id else None

    async def load(self) -> OAuthTokens:
        if self._store is not None and self._connection_id is not None:
            latest = await self._store.load_credentials(self._connection_id)
            if latest is not None:
                self._credentials = dict(latest)
        return tokens_from_credentials(self._credentials)

    async def save(self, tokens: OAuthTokens) -> None:
        self._credentials = credentials_with_tokens(self._credentials, tokens)
        if self._store is not None and self._connection_id is not None:
            await self._store.save_credentials(self._connection_id, self._credentials)

    def refresh_lock(self) -> RefreshLock | None:
        """The connection's refresh lock, when the store offers one: ingest refreshes
        the same tokens, and one refresh at a time keeps the rotation intact."""
        if isinstance(self._store, RefreshLocks) and self._connection_id is not None:
            return self._store.lock_for(self._connection_id)
        return None


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
        credentials: CredentialsStore | None = None,
        clients: Callable[[Destination, TokenStore], AllegroClient] = connect,
    ) -> None:
        self._credentials = credentials
        self._clients = clients

    def _client(self, destination: Destination) -> AllegroClient:
        return self._clients(destination, DestinationTokenStore(destination, self._credentials))

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
