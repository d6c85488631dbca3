"""Connections in the real MongoDB-compatible server: encryption at rest and leases."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from parley_ingest.adapters.connections_repo import MongoConnectionRepository
from parley_ingest.domain.connections import Connection, ConnectionHealth
from parley_platform.crypto import CredentialCipher, CredentialsUnreadable
from parley_store import CONNECTIONS
from parley_store.connections import CONNECTION_KEYS, INBOUND_ADDRESSES

pytestmark = pytest.mark.integration

NOW = datetime(2026, 8, 1, 12, 0, tzinfo=UTC)
SECRET = "shop-key-5f3a9c"  # test value


def connection(cid: str = "c1", **changes: Any) -> Connection:
    base: dict[str, Any] = {
        "id": cid,
        "store_id": "s1",
        "family": "mirakl",
        "marketplace": "carrefour",
        "base_url": "http://127.0.0.1:1/mirakl/carrefour",
        "credentials": {"api_key": SECRET},
        "activated_at": NOW,
        "cursor": NOW,
    }
    return Connection(**{**base, **changes})


@pytest.fixture
async def repo(mongo_db: AsyncDatabase[Any]) -> MongoConnectionRepository:
    r = MongoConnectionRepository(mongo_db, CredentialCipher(CredentialCipher.generate_key()))
    await r.ensure_indexes()
    return r


async def test_credentials_are_encrypted_at_rest_and_readable_back(
    repo: MongoConnectionRepository, mongo_db: AsyncDatabase[Any]
) -> None:
    await repo.add(connection())
    raw = await mongo_db[CONNECTIONS].find_one({"_id": "c1"})
    assert raw is not None and SECRET not in repr(raw)
    loaded = await repo.get("c1")
    assert loaded is not None and loaded.credentials == {"api_key": SECRET}
    assert SECRET not in repr(loaded)


async def test_another_key_cannot_read_the_credentials(
    repo: MongoConnectionRepository, mongo_db: AsyncDatabase[Any]
) -> None:
    await repo.add(connection())
    other = MongoConnectionRepository(mongo_db, CredentialCipher(CredentialCipher.generate_key()))
    with pytest.raises(CredentialsUnreadable):
        await other.get("c1")


async def test_only_one_instance_gets_the_lease(repo: MongoConnectionRepository) -> None:
    await repo.add(connection())
    claims = await asyncio.gather(*(repo.claim("c1", f"i{n}", NOW, 60) for n in range(8)))
    assert len([c for c in claims if c is not None]) == 1
    assert await repo.claim("c1", "late", NOW + timedelta(seconds=30), 60) is None
    assert await repo.claim("c1", "after-expiry", NOW + timedelta(seconds=61), 60) is not None


async def test_a_claim_late_in_its_slot_also_holds_the_next_slot(
    repo: MongoConnectionRepository,
) -> None:
    """A pass started 5 s before its slot ends gets the next slot too, not 5 s."""
    await repo.add(connection())
    late = NOW + timedelta(seconds=55)
    claimed = await repo.claim("c1", "me", late, 60)
    assert claimed is not None
    assert claimed.lease_deadline == NOW + timedelta(seconds=120)
    assert await repo.claim("c1", "other", NOW + timedelta(seconds=61), 60) is None, "held"
    await repo.release(claimed, "me", next_sync_at=NOW)
    assert await repo.claim("c1", "other", NOW + timedelta(seconds=62), 60) is not None


async def test_a_claim_early_in_its_slot_ends_with_it(repo: MongoConnectionRepository) -> None:
    await repo.add(connection())
    claimed = await repo.claim("c1", "me", NOW + timedelta(seconds=20), 60)
    assert claimed is not None and claimed.lease_deadline == NOW + timedelta(seconds=60)
    assert await repo.claim("c1", "other", NOW + timedelta(seconds=61), 60) is not None


async def test_release_saves_cursor_and_health_and_frees_the_lease(
    repo: MongoConnectionRepository,
) -> None:
    await repo.add(connection())
    claimed = await repo.claim("c1", "me", NOW, 60)
    assert claimed is not None
    synced = claimed.advanced_to(NOW + timedelta(hours=2))
    await repo.release(synced, "me", next_sync_at=NOW + timedelta(minutes=5))
    loaded = await repo.get("c1")
    assert loaded is not None and loaded.cursor == NOW + timedelta(hours=2)
    assert await repo.claim("c1", "other", NOW + timedelta(minutes=1), 60) is None, "not due"
    assert await repo.claim("c1", "other", NOW + timedelta(minutes=6), 60) is not None


async def test_a_stale_release_never_moves_the_cursor_back(
    repo: MongoConnectionRepository,
) -> None:
    await repo.add(connection())
    first = await repo.claim("c1", "a", NOW, 60)
    assert first is not None
    await repo.release(first.advanced_to(NOW + timedelta(hours=3)), "a", next_sync_at=NOW)
    await repo.release(first.advanced_to(NOW + timedelta(hours=1)), "b", next_sync_at=NOW)
    loaded = await repo.get("c1")
    assert loaded is not None and loaded.cursor == NOW + timedelta(hours=3)


async def test_due_ids_skip_disabled_flagged_and_future_connections(
    repo: MongoConnectionRepository,
) -> None:
    await repo.add(connection("due"))
    await repo.add(connection("later", next_sync_at=NOW + timedelta(minutes=5)))
    await repo.add(connection("off", messaging_enabled=False))
    await repo.add(connection("flagged", health=ConnectionHealth.NEEDS_ATTENTION))
    assert await repo.due_ids(NOW, limit=10) == ["due"]
    assert sorted(await repo.due_ids(NOW + timedelta(minutes=6), limit=10)) == ["due", "later"]


async def test_due_ids_answer_the_longest_waiting_first_not_the_oldest_added(
    repo: MongoConnectionRepository,
) -> None:
    # More are due than one tick takes: three added first, due a minute ago, are
    # passed by one due for ten minutes and one never synced (a resync asked).
    for n in range(3):
        await repo.add(connection(f"early{n}", next_sync_at=NOW - timedelta(minutes=1)))
    await repo.add(connection("waiting", next_sync_at=NOW - timedelta(minutes=10)))
    await repo.add(connection("new"))
    assert await repo.due_ids(NOW, limit=2) == ["new", "waiting"]
    assert len(await repo.due_ids(NOW, limit=10)) == 5


async def test_store_and_marketplace_find_the_connection_through_its_key_document(
    repo: MongoConnectionRepository, mongo_db: AsyncDatabase[Any]
) -> None:
    await repo.add(connection())
    found = await repo.find_for("s1", "carrefour")
    assert found is not None and found.id == "c1"
    assert await repo.find_for("s1", "darty") is None
    # Re-added under another marketplace: the old key reads as none, the new one finds it.
    await repo.add(connection(marketplace="darty"))
    assert await repo.find_for("s1", "carrefour") is None
    moved = await repo.find_for("s1", "darty")
    assert moved is not None and moved.id == "c1"
    # A later connection of the same store and marketplace takes the key over.
    await repo.add(connection("c2", marketplace="darty"))
    latest = await repo.find_for("s1", "darty")
    assert latest is not None and latest.id == "c2"
    assert await repo.remove("c1")
    kept = await repo.find_for("s1", "darty")
    assert kept is not None and kept.id == "c2", "removing c1 leaves c2's key alone"
    assert await repo.remove("c2")
    assert await repo.find_for("s1", "darty") is None
    assert await mongo_db[CONNECTION_KEYS].count_documents({}) == 1  # carrefour's, stale


async def test_an_inbound_address_finds_its_connection_whatever_its_case(
    repo: MongoConnectionRepository, mongo_db: AsyncDatabase[Any]
) -> None:
    relay = connection(
        "relay",
        family="email_relay",
        marketplace="amazon-de",
        options={"inbound_address": "Shop-1@Inbound.Parley.Test"},
    )
    await repo.add(relay)
    for address in ("shop-1@inbound.parley.test", " SHOP-1@INBOUND.PARLEY.TEST "):
        found = await repo.find_by_address(address)
        assert found is not None and found.id == "relay"
    assert await repo.find_by_address("other@inbound.parley.test") is None
    assert await repo.find_by_address("") is None
    assert await repo.remove("relay")
    assert await repo.find_by_address("shop-1@inbound.parley.test") is None
    assert await mongo_db[INBOUND_ADDRESSES].count_documents({}) == 0


async def test_removing_a_connection_ends_its_newest_lease(
    repo: MongoConnectionRepository, mongo_db: AsyncDatabase[Any]
) -> None:
    await repo.add(connection())
    claimed = await repo.claim("c1", "me", NOW, 60)
    assert claimed is not None and claimed.lease_ids
    assert await repo.remove("c1")
    for claim_id in claimed.lease_ids:
        assert await mongo_db["connection_claims"].find_one({"_id": claim_id}) is None
    await repo.add(connection())
    assert await repo.claim("c1", "again", NOW, 60) is not None, "re-added: claimable at once"
