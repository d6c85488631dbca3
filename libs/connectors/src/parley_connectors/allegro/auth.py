"""OAuth2 access tokens for Allegro's REST API, refreshed and rotated safely.

What Allegro documents and this module relies on (developer.allegro.pl, "Uwierzytelnianie
i autoryzacja" / "Authentication and authorization"):

- Every REST call carries ``Authorization: Bearer <access_token>`` of the seller who
  authorised the application (authorization-code flow, done once by a person).
- The access token is short-lived (``expires_in`` seconds, 12 hours at the time of
  writing); a new one comes from ``POST https://allegro.pl/auth/oauth/token`` with
  ``grant_type=refresh_token`` and the refresh token, the application authenticating
  with its client id and secret as HTTP Basic. The sandbox environment's token
  endpoint lives on ``https://allegro.pl.allegrosandbox.pl``.
- Each refresh answers a *new* refresh token (rotation): the one just used must be
  replaced wherever it is stored, or the next refresh fails.

Assumptions where the documentation is silent or unclear:

- The grant parameters are sent as an ``application/x-www-form-urlencoded`` body
  (RFC 6749 §6) rather than in the query string, so the refresh token never appears
  in a URL that proxies might log; ``redirect_uri`` is added when configured.
- A used refresh token may be revoked at once. Ingest and the responder share one
  connection's tokens, so a refresh refused with ``invalid_grant`` first re-reads the
  store: if another process rotated the tokens meanwhile, its tokens are used (and
  refreshed once if needed) instead of failing.
- Token errors follow RFC 6749 §5.2 (``{"error", "error_description"}``); 400 and 401
  from the token endpoint mean the credentials or the grant are no longer good.

Rotation is persisted before use and serialised across processes. Ingest and the
responder both refresh the same connection's tokens; two refreshes at once would spend
one refresh token twice, and a crash between Allegro's answer and the save would lose
the only valid refresh token. So a token store shared between processes hands out a
per-connection refresh lock (:class:`SharedTokenStore`): the holder re-reads the
stored tokens (the previous holder may have refreshed already), asks for a grant, and
saves the new tokens before releasing the lock or using them; the save is retried and
the grant-then-save runs shielded from cancellation, so a timeout or shutdown of the
caller cannot drop the answer between the two. The others wait, re-reading the store
until new tokens appear. A lock left by a crashed holder expires.

Tokens are never logged, never put in exception messages and never in ``repr``.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

import httpx

from parley_connectors.errors import (
    AuthenticationFailed,
    MarketplaceUnavailable,
    PayloadError,
    RateLimited,
)

log = logging.getLogger(__name__)

TOKEN_PATH = "/auth/oauth/token"  # noqa: S105 - a URL path, not a secret
EXPIRY_MARGIN = timedelta(seconds=60)
DEFAULT_RETRY_AFTER = 60.0
LOCK_WAIT_SECONDS = 60.0  # how long a refresher waits for another process's refresh
LOCK_POLL_SECONDS = 0.25
SAVE_ATTEMPTS = 6  # ~15 s of retries before rotated tokens are reported unsaved

# Credential fields of an Allegro connection (stored encrypted by the services).
CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN = "client_id", "client_secret", "refresh_token"
ACCESS_TOKEN, ACCESS_TOKEN_EXPIRES_AT = "access_token", "access_token_expires_at"
REDIRECT_URI = "redirect_uri"


@dataclass(frozen=True)
class OAuthTokens:
    """The seller's current tokens. ``access_token`` may be missing (not fetched yet)."""

    refresh_token: str = field(repr=False)
    access_token: str | None = field(default=None, repr=False)
    expires_at: datetime | None = None

    def usable_at(self, now: datetime) -> bool:
        """An access token that will still be valid for a little while."""
        if not self.access_token:
            return False
        return self.expires_at is None or now + EXPIRY_MARGIN < self.expires_at


class TokenStore(Protocol):
    """Where a connection's tokens live between calls (the encrypted credentials).

    ``load`` must read the latest saved tokens (another process may have rotated
    them); ``save`` must persist them before the new refresh token is relied upon.
    """

    async def load(self) -> OAuthTokens: ...

    async def save(self, tokens: OAuthTokens) -> None: ...


class RefreshLock(Protocol):
    """A per-connection claim on refreshing, shared by every process (see module doc)."""

    async def acquire(self) -> bool:
        """Claims the refresh; False while another process holds a live claim."""
        ...

    async def release(self) -> None: ...


@runtime_checkable
class SharedTokenStore(TokenStore, Protocol):
    """A token store other processes also refresh: refreshes are serialised by its lock
    (None when this store has no connection to lock, e.g. tokens kept in memory)."""

    def refresh_lock(self) -> RefreshLock | None: ...


@runtime_checkable
class RefreshLocks(Protocol):
    """What a credentials repository offers to serialise refreshes per connection."""

    def lock_for(self, connection_id: str) -> RefreshLock: ...


class MemoryTokenStore:
    """Tokens kept in memory only: tests, and one-off scripts."""

    def __init__(self, tokens: OAuthTokens) -> None:
        self.tokens = tokens
        self.saved: list[OAuthTokens] = []

    async def load(self) -> OAuthTokens:
        return self.tokens

    async def save(self, tokens: OAuthTokens) -> None:
        self.tokens = tokens
        self.saved.append(tokens)


@dataclass(frozen=True)
class ClientCredentials:
    """The application's identity at Allegro (from its developer account)."""

    client_id: str
    client_secret: str = field(repr=False)
    redirect_uri: str | None = None


def tokens_from_credentials(credentials: Mapping[str, str]) -> OAuthTokens:
    """Reads the token fields of a connection's credentials."""
    refresh = credentials.get(REFRESH_TOKEN, "")
    if not refresh:
        raise ValueError("Allegro credentials need a refresh_token")
    expires = credentials.get(ACCESS_TOKEN_EXPIRES_AT)
    return OAuthTokens(
        refresh_token=refresh,
        access_token=credentials.get(ACCESS_TOKEN) or None,
        expires_at=datetime.fromisoformat(expires) if expires else None,
    )


def credentials_with_tokens(credentials: Mapping[str, str], tokens: OAuthTokens) -> dict[str, str]:
    """The connection's credentials with the token fields replaced by ``tokens``."""
    updated = {
        k: v
        for k, v in credentials.items()
        if k not in (ACCESS_TOKEN, ACCESS_TOKEN_EXPIRES_AT, REFRESH_TOKEN)
    }
    updated[REFRESH_TOKEN] = tokens.refresh_token
    if tokens.access_token:
        updated[ACCESS_TOKEN] = tokens.access_token
    if tokens.expires_at is not None:
        updated[ACCESS_TOKEN_EXPIRES_AT] = tokens.expires_at.astimezone(UTC).isoformat()
    return updated


def client_credentials(credentials: Mapping[str, str]) -> ClientCredentials:
    client_id = credentials.get(CLIENT_ID, "")
    secret = credentials.get(CLIENT_SECRET, "")
    if not client_id or not secret:
        raise ValueError("Allegro credentials need client_id and client_secret")
    return ClientCredentials(client_id, secret, credentials.get(REDIRECT_URI) or None)


def default_auth_url(api_url: str) -> str:
    """Allegro's token host for an API host; any other host serves both (the sandbox)."""
    parts = urlsplit(api_url)
    host = parts.hostname or ""
    if host.startswith("api.") and host.endswith(("allegro.pl", "allegrosandbox.pl")):
        return f"{parts.scheme}://{host.removeprefix('api.')}"
    return api_url.rstrip("/")


class AllegroAuth:
    """Hands out a valid access token, refreshing (and saving the rotation) when needed.

    One instance serves one connection; a lock makes concurrent callers share one
    refresh instead of racing each other into ``invalid_grant``.
    """

    def __init__(
        self,
        auth_url: str,
        client: ClientCredentials,
        store: TokenStore,
        http: httpx.AsyncClient,
        *,
        timeout: float = 30.0,
        clock: Callable[[], datetime] | None = None,
        lock_wait: float = LOCK_WAIT_SECONDS,
        save_backoff: float = 0.5,
    ) -> None:
        self._token_url = auth_url.rstrip("/") + TOKEN_PATH
        self._client = client
        self._store = store
        self._http = http
        self._timeout = timeout
        self._now = clock or (lambda: datetime.now(UTC))
        self._tokens: OAuthTokens | None = None
        self._unsaved: OAuthTokens | None = None
        self._lock = asyncio.Lock()
        self._lock_wait = lock_wait
        self._save_backoff = save_backoff

    def __repr__(self) -> str:  # never shows a token or the secret
        return f"AllegroAuth(token_url={self._token_url!r}, client_id={self._client.client_id!r})"

    async def access_token(self) -> str:
        """A token valid for at least a minute more."""
        async with self._lock:
            await self._save_unsaved()
            tokens = self._tokens or await self._store.load()
            if not tokens.usable_at(self._now()):
                tokens = await self._refresh(tokens)
            self._tokens = tokens
            assert tokens.access_token is not None
            return tokens.access_token

    async def renew(self, rejected: str) -> str:
        """After a 401: a fresh token, unless another caller already replaced ``rejected``."""
        async with self._lock:
            await self._save_unsaved()
            tokens = self._tokens or await self._store.load()
            if tokens.access_token and tokens.access_token != rejected:
                return tokens.access_token
            tokens = await self._refresh(tokens)
            self._tokens = tokens
            assert tokens.access_token is not None
            return tokens.access_token

    async def _refresh(self, stale: OAuthTokens) -> OAuthTokens:
        """New tokens in place of ``stale``: refreshed here under the shared lock, or
        refreshed by another process meanwhile and read back from the store."""
        lock = self._store.refresh_lock() if isinstance(self._store, SharedTokenStore) else None
        if lock is None:
            return await self._refresh_unlocked(stale)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._lock_wait
        while True:
            if await lock.acquire():
                try:
                    latest = await self._store.load()
                    if self._replaced(latest, stale):
                        return latest
                    return await self._refresh_unlocked(latest)
                finally:
                    await lock.release()
            latest = await self._store.load()
            if self._replaced(latest, stale):
                log.info("allegro tokens refreshed by another process; using the stored ones")
                return latest
            if loop.time() > deadline:
                raise MarketplaceUnavailable("token: another process is still refreshing")
            await asyncio.sleep(LOCK_POLL_SECONDS)

    def _replaced(self, latest: OAuthTokens, stale: OAuthTokens) -> bool:
        """Whether the store holds tokens newer than ``stale`` that can be used now."""
        return latest.usable_at(self._now()) and latest.access_token != stale.access_token

    async def _refresh_unlocked(self, tokens: OAuthTokens) -> OAuthTokens:
        try:
            fresh = await self._grant_and_save(tokens.refresh_token)
        except _GrantRefused as refused:
            # Rotation race: another process may have used our refresh token already.
            latest = await self._store.load()
            if latest.refresh_token == tokens.refresh_token:
                raise AuthenticationFailed(str(refused), status=refused.status) from None
            log.info("allegro tokens were rotated elsewhere; using the stored ones")
            if latest.usable_at(self._now()):
                return latest
            try:
                fresh = await self._grant_and_save(latest.refresh_token)
            except _GrantRefused as again:
                raise AuthenticationFailed(str(again), status=again.status) from None
        return fresh

    async def _grant_and_save(self, refresh_token: str) -> OAuthTokens:
        """The grant and the save of its tokens, as one step a cancellation cannot split:
        once Allegro answered, the old refresh token may be dead and the answer is the
        only copy of the new one."""

        async def both() -> OAuthTokens:
            fresh = await self._grant(refresh_token)
            await self._save(fresh)
            return fresh

        return await asyncio.shield(asyncio.ensure_future(both()))

    async def _save(self, fresh: OAuthTokens) -> None:
        """Saves rotated tokens, retrying a store that is briefly unavailable; if it
        stays so, keeps them to save before anything else is done with this auth."""
        for attempt in range(1, SAVE_ATTEMPTS + 1):
            try:
                await self._store.save(fresh)
                self._unsaved = None
                return
            except Exception as exc:  # any store fault: the tokens must not be lost
                if attempt == SAVE_ATTEMPTS:
                    self._unsaved = fresh
                    raise MarketplaceUnavailable(
                        "token: rotated tokens could not be saved yet"
                    ) from exc
                log.warning(
                    "allegro rotated tokens not saved yet; retrying",
                    extra={"error": type(exc).__name__, "attempt": attempt},
                )
                await asyncio.sleep(min(8.0, self._save_backoff * 2 ** (attempt - 1)))

    async def _save_unsaved(self) -> None:
        if self._unsaved is not None:
            fresh = self._unsaved
            await self._save(fresh)
            self._tokens = fresh

    async def _grant(self, refresh_token: str) -> OAuthTokens:
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        if self._client.redirect_uri:
            form["redirect_uri"] = self._client.redirect_uri
        basic = f"{self._client.client_id}:{self._client.client_secret}".encode()
        headers = {
            "Authorization": "Basic " + base64.b64encode(basic).decode(),
            "Accept": "application/json",
        }
        try:
            async with asyncio.timeout(self._timeout):
                response = await self._http.post(self._token_url, data=form, headers=headers)
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise MarketplaceUnavailable("token: no answer in time") from exc
        except httpx.TransportError as exc:
            raise MarketplaceUnavailable(
                f"token: could not reach Allegro ({type(exc).__name__})"
            ) from exc
        log.debug("allegro token refresh", extra={"status": response.status_code})
        return self._read_grant(response, refresh_token)

    def _read_grant(self, response: httpx.Response, used: str) -> OAuthTokens:
        status = response.status_code
        body = _json_or_none(response)
        if status == 429:
            raise RateLimited(_seconds(response.headers.get("retry-after")), "token: rate limited")
        if status >= 500:
            raise MarketplaceUnavailable(f"token {status}", status=status)
        if status >= 400:
            error = body.get("error") if isinstance(body, dict) else None
            detail = body.get("error_description") if isinstance(body, dict) else None
            reason = f"token refresh refused ({status} {error or 'error'})"
            if isinstance(detail, str) and detail:
                reason += f": {detail[:200]}"
            raise _GrantRefused(reason, status)
        if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
            raise PayloadError("token answer has no access_token", status=status)
        expires_in = body.get("expires_in")
        expires_at = (
            self._now() + timedelta(seconds=float(expires_in))
            if isinstance(expires_in, int | float)
            else None
        )
        rotated = body.get("refresh_token")
        return OAuthTokens(
            refresh_token=rotated if isinstance(rotated, str) and rotated else used,
            access_token=body["access_token"],
            expires_at=expires_at,
        )


class _GrantRefused(Exception):
    def __init__(self, reason: str, status: int) -> None:
        super().__init__(reason)
        self.status = status


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _seconds(header: str | None) -> float:
    try:
        return max(0.0, float(header)) if header else DEFAULT_RETRY_AFTER
    except ValueError:
        return DEFAULT_RETRY_AFTER
