"""Allegro token rotation owned by ingest, on the real FerretDB.

Ingest and the responder need the same connection's tokens at the same moment, against
the in-process Allegro sandbox with strict rotation (a used refresh token is revoked at
once). Ingest owns the credentials: it refreshes under its refresh lock and saves the
rotation; the responder never spends the refresh token, it asks ingest (in production a
resync on ingest.commands; here ingest's own refresh, started the same way, without
waiting for it) and reads the saved tokens back. Exactly one grant, both end with the
same working token, the connection stays healthy.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pymongo.asynchronous.database import AsyncDatabase

from parley_connectors.allegro import AllegroClient, client_credentials
from parley_connectors.allegro.reading import client_for
from parley_connectors.allegro.writing import DestinationTokenStore
from parley_ingest.adapters.connections_repo import MongoConnectionRepository
from parley_ingest.domain.connections import Connection, ConnectionHealth
from parley_platform.crypto import CredentialCipher
from parley_responder.adapters.mongo_destinations import MongoDestinationLookup
from parley_responder.ports import Destination
from parley_sandbox import create_app
from parley_store import REFRESH_LOCKS, MongoRefreshLock

pytestmark = pytest.mark.integration

TOKEN_PATH = "/allegro/auth/oauth/token"


@pytest.fixture
def app() -> FastAPI:
    return create_app(seed=False)


@pytest.fixture
def grants() -> list[httpx.Request]:
    return []


@pytest.fixture
async def http(app: FastAPI, grants: list[httpx.Request]) -> AsyncIterator[httpx.AsyncClient]:
    async def record(request: httpx.Request) -> None:
        if request.url.path == TOKEN_PATH:
            grants.append(request)

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://sandbox",
        event_hooks={"request": [record]},
    ) as client:
        yield client


async def test_ingest_refreshes_once_for_both_services_and_the_responder_reads_it_back(
    http: httpx.AsyncClient, grants: list[httpx.Request], mongo_db: AsyncDatabase[Any]
) -> None:
    account = f"rot{uuid.uuid4().hex[:8]}"
    r = await http.put(f"/_sandbox/allegro/{account}", json={"strict_rotation": True})
    assert r.status_code == 200, r.text
    # The grant takes a while, so the second refresher arrives while the first waits.
    r = await http.post(
        f"/_sandbox/allegro/{account}/faults",
        json={"kind": "slow", "delay_seconds": 1.0, "operations": ["token"]},
    )
    assert r.status_code == 201, r.text

    cipher = CredentialCipher(CredentialCipher.generate_key())
    repo = MongoConnectionRepository(mongo_db, cipher)
    now = datetime.now(UTC)
    connection = Connection(
        id=f"c-{account}",
        store_id=f"store-{account}",
        family="allegro",
        marketplace="allegro-pl",
        base_url="http://sandbox/allegro",
        credentials={
            "client_id": "sandbox-allegro-client",
            "client_secret": "sandbox-allegro-secret",
            "refresh_token": f"sandbox-refresh-token-{account}",
        },
        activated_at=now,
        cursor=now,
    )
    await repo.add(connection)
    lookup = MongoDestinationLookup(mongo_db, cipher)
    destination = await lookup.find(connection.store_id, connection.marketplace)
    assert destination is not None

    ingest = client_for(connection, repo, http=http)
    asked: list[asyncio.Task[str]] = []

    class AskIngest:
        """What ingest does with the responder's refresh request: its sync refreshes."""

        async def request_refresh(self, _: Destination) -> None:
            asked.append(asyncio.create_task(ingest.auth.access_token()))

    responder = AllegroClient(  # what the responder's adapter builds, on the sandbox
        destination.base_url,
        client_credentials(destination.credentials),
        DestinationTokenStore(destination, lookup, AskIngest()),
        http=http,
    )

    ingest_token, responder_token = await asyncio.gather(
        ingest.auth.access_token(), responder.auth.access_token()
    )

    assert len(grants) == 1, "one refresh for both services"
    assert ingest_token == responder_token
    stored = await repo.get(connection.id)
    assert stored is not None
    assert stored.credentials["access_token"] == ingest_token
    assert stored.credentials["refresh_token"] != f"sandbox-refresh-token-{account}"
    assert stored.health is ConnectionHealth.OK
    # Both tokens work at the marketplace, and the lock is gone.
    assert isinstance(await ingest.threads_page(), list)
    assert isinstance(await responder.threads_page(), list)
    assert await mongo_db[REFRESH_LOCKS].find_one({"_id": connection.id}) is None

    assert len(asked) == 1, "the responder asked ingest once"
    await asyncio.gather(*asked)
    assert len(grants) == 1, "ingest answering the request found the tokens fresh"

    # The next rotation starts from the saved refresh token: still valid, not revoked.
    renewed = await ingest.auth.renew(ingest_token)
    assert renewed != ingest_token and len(grants) == 2


async def test_a_refresh_lock_is_exclusive_and_a_dead_holders_claim_expires(
    mongo_db: AsyncDatabase[Any],
) -> None:
    clock = [datetime(2026, 8, 1, 12, 0, tzinfo=UTC)]
    first = MongoRefreshLock(mongo_db, "c-1", ttl=timedelta(seconds=60), clock=lambda: clock[0])
    second = MongoRefreshLock(mongo_db, "c-1", ttl=timedelta(seconds=60), clock=lambda: clock[0])
    other = MongoRefreshLock(mongo_db, "c-2", clock=lambda: clock[0])

    assert await first.acquire()
    assert not await second.acquire()
    assert await other.acquire(), "locks are per connection"
    await second.release()  # not its claim: nothing happens
    assert not await second.acquire()
    await first.release()
    assert await second.acquire()

    clock[0] += timedelta(seconds=61)  # the holder died without releasing
    assert await first.acquire()
    assert not await second.acquire()
