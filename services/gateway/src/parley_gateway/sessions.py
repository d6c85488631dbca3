"""Sign-in sessions of the web inbox: an API key exchanged for an HttpOnly cookie.

Why: a browser's ``EventSource`` cannot send an ``Authorization`` header, and a key kept
in page storage is readable by any script that runs in the page. The merchant pastes
a key once; the gateway answers a random session secret in an HttpOnly cookie and keeps
only the secret's digest, with the account and the key it came from. Every request
with the cookie re-checks that key (revoking the key ends its sessions) and the
account's stores (the session's scope is the key's, as they are now).

The secret carries 256 random bits, so a plain SHA-256 is enough to make a copy of the
sessions collection useless for signing in (no pepper needed, unlike API keys).

Expired sessions are refused when presented and deleted then; one never presented again
would stay stored forever where the server has no TTL index (FerretDB), so the gateway
also sweeps them periodically (:func:`sweep_periodically`).
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from parley_gateway.accounts import AccessService, NotAuthenticated
from parley_gateway.domain import Caller
from parley_gateway.ports import AccountRepository
from parley_platform.logging import get_logger
from parley_schemas import utcnow

log = get_logger(__name__)

SESSION_COOKIE = "parley_session"
# Cookie-authenticated unsafe requests must carry this header: a cross-site form or
# image cannot set it, and a cross-site fetch that sets it needs a CORS preflight the
# gateway refuses (CSRF defence in addition to SameSite=Strict).
CSRF_HEADER = "X-Requested-With"
CSRF_VALUE = "parley-inbox"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class CsrfRefused(PermissionError):
    """A cookie-authenticated unsafe request without the inbox's header (403)."""

    def __init__(self) -> None:
        super().__init__(
            f"Requests signed in by the session cookie must send {CSRF_HEADER}: {CSRF_VALUE}."
        )


@dataclass(frozen=True)
class WebSession:
    """A stored session: the digest of its secret, never the secret."""

    id: str
    account_id: str
    key_id: str
    created_at: datetime
    expires_at: datetime


class SessionRepository(Protocol):
    """Sessions by id (the digest of their secret): ``_id`` lookups only."""

    async def add(self, session: WebSession) -> None: ...

    async def get(self, session_id: str) -> WebSession | None: ...

    async def delete(self, session_id: str) -> None: ...

    async def delete_expired(self, now: datetime) -> int:
        """Deletes the sessions expired at ``now``; how many (a sweep, not a hot path)."""
        ...


def session_id_of(secret: str) -> str:
    """The stored id of a session secret (its SHA-256, hex)."""
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class OpenedSession:
    """What signing in answers: the secret goes in the cookie and nowhere else."""

    secret: str
    caller: Caller
    expires_at: datetime


class SessionService:
    def __init__(
        self,
        sessions: SessionRepository,
        access: AccessService,
        accounts: AccountRepository,
        ttl: timedelta,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self._access = access
        self._accounts = accounts
        self._ttl = ttl
        self._clock = clock

    @property
    def ttl(self) -> timedelta:
        return self._ttl

    async def open(self, api_key: str | None) -> OpenedSession:
        """A new session for the key's account; NotAuthenticated for a bad key."""
        caller = await self._access.authenticate(api_key)
        secret = secrets.token_urlsafe(32)
        now = self._clock()
        session = WebSession(
            id=session_id_of(secret),
            account_id=caller.account_id,
            key_id=caller.key_id,
            created_at=now,
            expires_at=now + self._ttl,
        )
        await self._sessions.add(session)
        log.info("web session opened", account_id=caller.account_id, key_id=caller.key_id)
        return OpenedSession(secret=secret, caller=caller, expires_at=session.expires_at)

    async def caller(self, secret: str | None) -> Caller:
        """The caller of a live session, with its key's and account's current state."""
        if not secret:
            raise NotAuthenticated(presented=False)
        session = await self._sessions.get(session_id_of(secret))
        if session is None:
            raise NotAuthenticated(presented=True)
        if session.expires_at <= self._clock():
            await self._sessions.delete(session.id)
            raise NotAuthenticated(presented=True)
        key = await self._accounts.get_key(session.key_id)
        if key is None or key.revoked or key.account_id != session.account_id:
            raise NotAuthenticated(presented=True)
        account = await self._accounts.get_account(session.account_id)
        if account is None:
            raise NotAuthenticated(presented=True)
        return Caller(account_id=account.id, key_id=key.key_id, scope=account.scope)

    async def close(self, secret: str | None) -> None:
        """Signs out: the session is gone (closing an unknown one is fine)."""
        if secret:
            await self._sessions.delete(session_id_of(secret))

    async def sweep(self) -> int:
        """Deletes every expired session, presented again or not; how many."""
        return await self._sessions.delete_expired(self._clock())


async def sweep_periodically(sessions: SessionService, interval: timedelta) -> None:
    """Sweeps expired sessions at once, then every ``interval``, until cancelled (at
    shutdown).

    The first sweep comes at start so that a gateway restarted more often than the
    interval still sweeps. A failed sweep (the store unreachable, say) is logged and
    tried again at the next interval: housekeeping must never stop the gateway, and an
    expired session is refused when presented whether or not it has been swept yet.
    """
    while True:
        try:
            swept = await sessions.sweep()
        except Exception as exc:
            # The error's type, no traceback (as the outbox relay logs a failed pass):
            # this fails at every start while the store is out of reach, and rendering
            # a traceback (with its frames' locals, where logging is not configured)
            # took seconds on the event loop, stalling the requests in flight.
            log.warning("expired web sessions not swept", error=type(exc).__name__)
        else:
            if swept:
                log.info("expired web sessions swept", count=swept)
        await asyncio.sleep(interval.total_seconds())


async def authenticate(
    access: AccessService,
    sessions: SessionService | None,
    *,
    presented_key: str | None,
    session_secret: str | None,
    method: str,
    csrf_header: str | None,
) -> Caller:
    """The caller of a request, by its API key or else its session cookie.

    One function for REST routes, GraphQL and the Idempotency-Key middleware, so the
    three agree on who is asking: a key in a header wins over the cookie (an API
    client never depends on a browser's state); a cookie-authenticated unsafe request
    without the inbox's header raises CsrfRefused before the session is even looked
    up; otherwise NotAuthenticated for a missing or bad key or session.
    """
    if presented_key or not session_secret:
        return await access.authenticate(presented_key)
    if method.upper() not in SAFE_METHODS and csrf_header != CSRF_VALUE:
        raise CsrfRefused()
    if sessions is None:
        raise NotAuthenticated(presented=True)
    return await sessions.caller(session_secret)
