"""Rotated Allegro tokens are saved before they are used, whatever happens meanwhile.

Against the in-process sandbox with strict rotation (a used refresh token is revoked
at once): a store that fails for a moment is retried, and a caller cancelled while
the grant is in flight does not lose the new refresh token.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from support.waiting import eventually

from parley_connectors.allegro import AllegroAuth, ClientCredentials, MemoryTokenStore, OAuthTokens
from parley_sandbox import create_app

CLIENT = ClientCredentials("sandbox-allegro-client", "sandbox-allegro-secret")
AUTH = "http://sandbox/allegro"


@pytest.fixture
def app() -> FastAPI:
    return create_app(seed=False)


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sandbox"
    ) as client:
        yield client


@pytest.fixture
async def account(http: httpx.AsyncClient) -> str:
    name = f"rot{uuid.uuid4().hex[:8]}"
    r = await http.put(f"/_sandbox/allegro/{name}", json={"strict_rotation": True})
    assert r.status_code == 200, r.text
    return name


class FlakyStore(MemoryTokenStore):
    """Fails its first ``failures`` saves, as a database in a failover would."""

    def __init__(self, tokens: OAuthTokens, failures: int) -> None:
        super().__init__(tokens)
        self.failures = failures

    async def save(self, tokens: OAuthTokens) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("store unavailable")
        await super().save(tokens)


async def test_a_save_that_fails_for_a_moment_is_retried_before_the_token_is_used(
    http: httpx.AsyncClient, account: str
) -> None:
    store = FlakyStore(OAuthTokens(refresh_token=f"sandbox-refresh-token-{account}"), 2)
    auth = AllegroAuth(AUTH, CLIENT, store, http, save_backoff=0.01)

    token = await auth.access_token()

    assert store.failures == 0 and len(store.saved) == 1
    assert store.saved[0].access_token == token


async def test_a_caller_cancelled_mid_grant_still_saves_the_rotation(
    http: httpx.AsyncClient, account: str
) -> None:
    r = await http.post(
        f"/_sandbox/allegro/{account}/faults",
        json={"kind": "slow", "delay_seconds": 0.5, "operations": ["token"]},
    )
    assert r.status_code == 201, r.text
    store = MemoryTokenStore(OAuthTokens(refresh_token=f"sandbox-refresh-token-{account}"))
    auth = AllegroAuth(AUTH, CLIENT, store, http)
    asked: list[httpx.Request] = []

    async def record(request: httpx.Request) -> None:
        asked.append(request)

    http.event_hooks["request"] = [record]

    async def grant_on_its_way() -> bool:
        return bool(asked)

    async def saved() -> bool:
        return len(store.saved) == 1

    caller = asyncio.create_task(auth.access_token())
    await eventually(grant_on_its_way, timeout=10, interval=0.01)
    assert not store.saved, "cancelled while the sandbox holds the answer back"
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller

    await eventually(saved, timeout=10, interval=0.05)
    # The saved refresh token is the live one: a new auth refreshes with it.
    again = AllegroAuth(AUTH, CLIENT, MemoryTokenStore(store.saved[0]), http)
    assert await again.renew(store.saved[0].access_token or "")
