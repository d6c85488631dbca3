"""Autoresponder settings on the real MongoDB-compatible server (FerretDB locally)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from parley_store import ensure_indexes
from parley_store.autoresponder_store import MongoAutoresponderStore
from parley_store.autoresponders import (
    AUTORESPONDERS,
    AutoresponderChange,
    AutoresponderKey,
    apply_change,
    restore_default,
)

pytestmark = pytest.mark.integration

AT = datetime(2026, 6, 1, 9, 30, tzinfo=UTC)


def saved(store: str, marketplace: str, channel: str, **fields: Any) -> Any:
    change = AutoresponderChange(
        enabled=fields.pop("enabled", True),
        notify_shop_address=fields.pop("notify_shop_address", "shop@example.com"),
        **fields,
    )
    return apply_change(AutoresponderKey(store, marketplace, channel), change, at=AT, by="acc")


async def test_settings_round_trip_and_a_save_replaces_the_whole_setting(
    mongo_db: AsyncDatabase[Any],
) -> None:
    await ensure_indexes(mongo_db)
    repo = MongoAutoresponderStore(mongo_db)
    key = AutoresponderKey("shop-1", "allegro", "message_center")
    assert await repo.get(key) is None

    first = saved(
        "shop-1",
        "allegro",
        "message_center",
        template="Dzień dobry {buyer_name}",
        notify_extra_address="boss@example.com",
        sender_name="Obsługa",
    )
    await repo.save(first)
    assert await repo.get(key) == first

    # Replacing with fewer fields drops the old ones: no mix of two edits survives.
    second = saved("shop-1", "allegro", "message_center", enabled=False)
    await repo.save(second)
    found = await repo.get(key)
    assert found == second
    assert found is not None and found.notify_extra_address is None
    assert found.updated_at == AT  # time zone kept
    restored = restore_default(found, at=AT, by="other")
    await repo.save(restored)
    assert await repo.get(key) == restored
    assert await mongo_db[AUTORESPONDERS].count_documents({}) == 1


async def test_list_is_per_store_in_key_order_and_channels_are_separate(
    mongo_db: AsyncDatabase[Any],
) -> None:
    await ensure_indexes(mongo_db)
    repo = MongoAutoresponderStore(mongo_db)
    for store, marketplace, channel in [
        ("shop-2", "carrefour", "messages"),
        ("shop-1", "allegro", "message_center"),
        ("shop-1", "allegro", "discussions"),
        ("shop-3", "fnac", "messages"),
    ]:
        await repo.save(saved(store, marketplace, channel))

    mine = await repo.list(["shop-1", "shop-2"])
    assert [s.key.id for s in mine] == [
        "shop-1:allegro:discussions",
        "shop-1:allegro:message_center",
        "shop-2:carrefour:messages",
    ]
    assert [s.key.id for s in await repo.list(["nobody"])] == []
    assert len(await repo.list(None)) == 4
    assert "store" in await mongo_db[AUTORESPONDERS].index_information()
