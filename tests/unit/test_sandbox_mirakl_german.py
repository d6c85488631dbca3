"""The sandbox's German Mirakl instance (MediaMarkt Saturn): seeded, stable, on the wire."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from parley_connectors.mirakl.catalogue import instance as catalogue_instance
from parley_sandbox import create_app
from parley_sandbox.seed import SEEDED_INSTANCES

AUTH = {"Authorization": "sandbox-shop-key"}
THREADS = "/mirakl/mediamarkt/api/inbox/threads"


def client_for(seed: bool = True) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(seed=seed)), base_url="http://sandbox"
    )


@pytest.fixture
async def seeded() -> AsyncIterator[httpx.AsyncClient]:
    async with client_for() as client:
        yield client


async def threads(web: httpx.AsyncClient) -> list[dict[str, Any]]:
    answer = await web.get(THREADS, params={"with_messages": "true", "limit": 100}, headers=AUTH)
    assert answer.status_code == 200, answer.text
    data: list[dict[str, Any]] = answer.json()["data"]
    return data


def by_entity(items: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [t for t in items if t["entities"][0]["type"] == kind]


def test_the_german_instance_is_seeded_and_named_as_in_the_catalogue() -> None:
    assert "mediamarkt" in SEEDED_INSTANCES
    assert catalogue_instance("mediamarkt").language == "de"


async def test_health_lists_the_german_instance(seeded: httpx.AsyncClient) -> None:
    assert "mediamarkt" in (await seeded.get("/health")).json()["mirakl_instances"]


async def test_seed_speaks_german_on_every_kind_of_thread(seeded: httpx.AsyncClient) -> None:
    items = await threads(seeded)

    orders = by_entity(items, "MMP_ORDER")
    offers = by_entity(items, "MMP_OFFER")
    operator = by_entity(items, "SELLER_OPERATOR")
    assert len(orders) == 2 and len(offers) == 1 and len(operator) == 1
    assert any("Bestellung" in t["topic"]["value"] for t in orders)
    bodies = " ".join(m["body"] for t in items for m in t["messages"])
    assert "Guten Tag" in bodies and "Viele Grüße" in bodies and "Lieferumfang" in bodies
    senders = {m["from"]["type"] for t in items for m in t["messages"]}
    assert senders == {"CUSTOMER_USER", "SHOP_USER", "OPERATOR_USER"}
    assert {p["type"] for p in operator[0]["authorized_participants"]} == {"OPERATOR", "SHOP"}


async def test_the_damaged_item_photo_downloads(seeded: httpx.AsyncClient) -> None:
    items = await threads(seeded)
    (damaged,) = [t for t in items if t["topic"]["value"] == "Ware beschädigt angekommen"]
    (photo,) = damaged["messages"][0]["attachments"]

    answer = await seeded.get(f"{THREADS}/{photo['id']}/download", headers=AUTH)

    assert photo["name"] == "foto-kopfhoerer.png"
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "image/png"
    assert answer.content.startswith(b"\x89PNG") and len(answer.content) == photo["size"]


async def test_german_seed_ids_are_stable_across_restarts() -> None:
    async with client_for() as one, client_for() as two:
        first, second = await threads(one), await threads(two)

    def ids(items: list[dict[str, Any]]) -> set[str]:
        return {t["id"] for t in items} | {m["id"] for t in items for m in t["messages"]}

    assert ids(first) == ids(second) and len(ids(first)) == 4 + 6


async def test_an_unseeded_sandbox_has_no_german_threads() -> None:
    async with client_for(seed=False) as empty:
        assert await threads(empty) == []
