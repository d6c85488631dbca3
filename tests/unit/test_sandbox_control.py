"""The sandbox's control API and demo seed: what tests and demos rely on."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from parley_sandbox import create_app

AUTH = {"Authorization": "sandbox-shop-key"}


def client_for(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sandbox")


@pytest.fixture
async def seeded() -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(create_app(seed=True)) as client:
        yield client


@pytest.fixture
async def empty() -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(create_app(seed=False)) as client:
        yield client


async def all_threads(web: httpx.AsyncClient, instance: str) -> list[dict[str, Any]]:
    answer = await web.get(
        f"/mirakl/{instance}/api/inbox/threads",
        params={"with_messages": "true", "limit": 100},
        headers=AUTH,
    )
    assert answer.status_code == 200, answer.text
    data: list[dict[str, Any]] = answer.json()["data"]
    return data


def bodies(threads: list[dict[str, Any]]) -> str:
    return " ".join(m["body"] for t in threads for m in t["messages"])


async def test_health_lists_the_seeded_instances(seeded: httpx.AsyncClient) -> None:
    answer = await seeded.get("/health")

    assert answer.json() == {
        "status": "ok",
        "mirakl_instances": ["carrefour", "decathlon", "empik", "mediamarkt"],
    }


async def test_seed_speaks_each_marketplaces_language_on_order_threads(
    seeded: httpx.AsyncClient,
) -> None:
    carrefour = await all_threads(seeded, "carrefour")
    empik = await all_threads(seeded, "empik")
    decathlon = await all_threads(seeded, "decathlon")

    assert "Bonjour" in bodies(carrefour)
    assert "Dzień dobry" in bodies(empik)
    assert "Hola" in bodies(decathlon) and "Hi," in bodies(decathlon)
    for threads in (carrefour, empik, decathlon):
        assert any(e["type"] == "MMP_ORDER" for t in threads for e in t["entities"])
    entity_types = {e["type"] for t in carrefour for e in t["entities"]}
    assert {"MMP_ORDER", "MMP_OFFER", "SELLER_OPERATOR"} <= entity_types
    senders = {m["from"]["type"] for t in carrefour + decathlon for m in t["messages"]}
    assert senders == {"CUSTOMER_USER", "SHOP_USER", "OPERATOR_USER"}


async def test_seeded_attachments_download(seeded: httpx.AsyncClient) -> None:
    threads = await all_threads(seeded, "carrefour") + await all_threads(seeded, "empik")
    attachments = [a for t in threads for m in t["messages"] for a in m["attachments"]]
    instances = ["carrefour", "empik"]

    found = {}
    for attachment in attachments:
        for instance in instances:
            answer = await seeded.get(
                f"/mirakl/{instance}/api/inbox/threads/{attachment['id']}/download", headers=AUTH
            )
            if answer.status_code == 200:
                found[attachment["name"]] = answer

    assert found["photo-lampe.png"].content.startswith(b"\x89PNG")
    assert found["photo-lampe.png"].headers["content-type"] == "image/png"
    assert found["faktura-FV-2024-0412.pdf"].content.startswith(b"%PDF")


async def test_seed_ids_are_stable_across_restarts() -> None:
    async with client_for(create_app()) as one, client_for(create_app()) as two:
        first = await all_threads(one, "empik")
        second = await all_threads(two, "empik")

    def ids(threads: list[dict[str, Any]]) -> set[str]:
        return {t["id"] for t in threads} | {m["id"] for t in threads for m in t["messages"]}

    assert ids(first) == ids(second)


async def test_unseeded_sandbox_is_empty_and_instances_appear_on_use(
    empty: httpx.AsyncClient,
) -> None:
    assert await all_threads(empty, "leroymerlin") == []
    listed = (await empty.get("/_sandbox/mirakl")).json()["instances"]
    assert [i["name"] for i in listed] == ["leroymerlin"]
    assert listed[0]["operator_name"] == "Leroymerlin"


async def test_a_buyer_message_opens_a_thread_then_continues_it(empty: httpx.AsyncClient) -> None:
    opened = await empty.post(
        "/_sandbox/mirakl/carrefour/messages",
        json={
            "body": "Bonjour, où est ma commande ?",
            "order_id": "CRF-1-A",
            "customer_name": "Camille M.",
            "attachments": [{"name": "a.txt", "content_base64": base64.b64encode(b"hi").decode()}],
        },
    )
    continued = await empty.post(
        "/_sandbox/mirakl/carrefour/messages",
        json={"body": "Toujours rien.", "thread_id": opened.json()["thread_id"]},
    )

    assert opened.status_code == continued.status_code == 201
    assert opened.json()["attachments"][0]["size"] == 2
    (thread,) = await all_threads(empty, "carrefour")
    assert [m["body"] for m in thread["messages"]] == [
        "Bonjour, où est ma commande ?",
        "Toujours rien.",
    ]
    assert thread["entities"][0]["id"] == "CRF-1-A"
    assert thread["messages"][0]["from"]["display_name"] == "Camille M."


async def test_an_operator_message_without_order_opens_a_shop_operator_thread(
    empty: httpx.AsyncClient,
) -> None:
    await empty.post(
        "/_sandbox/mirakl/carrefour/messages",
        json={"body": "Merci de mettre à jour vos stocks.", "sender": "OPERATOR"},
    )

    (thread,) = await all_threads(empty, "carrefour")
    assert thread["entities"][0]["type"] == "SELLER_OPERATOR"
    assert {p["type"] for p in thread["authorized_participants"]} == {"OPERATOR", "SHOP"}
    assert thread["messages"][0]["from"]["type"] == "OPERATOR_USER"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"body": ""}, 422),
        ({"body": "x", "thread_id": "nope"}, 404),
        ({"body": "x", "attachments": [{"name": "a", "content_base64": "%%%"}]}, 400),
    ],
)
async def test_control_refuses_bad_messages(
    empty: httpx.AsyncClient, body: dict[str, Any], status: int
) -> None:
    answer = await empty.post("/_sandbox/mirakl/carrefour/messages", json=body)

    assert answer.status_code == status


async def test_configured_key_replaces_the_default(empty: httpx.AsyncClient) -> None:
    await empty.put("/_sandbox/mirakl/darty", json={"api_key": "darty-key", "shop_id": 77})
    url = "/mirakl/darty/api/inbox/threads"

    assert (await empty.get(url, headers=AUTH)).status_code == 401
    assert (await empty.get(url, headers={"Authorization": "darty-key"})).status_code == 200
    described = (await empty.get("/_sandbox/mirakl")).json()["instances"][0]
    assert described["shop_id"] == 77 and "api_key" not in described


async def test_faults_are_listed_consumed_in_order_and_cleared(empty: httpx.AsyncClient) -> None:
    url = "/mirakl/carrefour/api/inbox/threads"
    await empty.post("/_sandbox/mirakl/carrefour/faults", json={"kind": "server_error"})
    await empty.post(
        "/_sandbox/mirakl/carrefour/faults",
        json={"kind": "rate_limit", "count": 2, "retry_after": 5},
    )
    pending = (await empty.get("/_sandbox/mirakl/carrefour/faults")).json()["faults"]
    assert [(f["kind"], f["remaining"]) for f in pending] == [
        ("server_error", 1),
        ("rate_limit", 2),
    ]

    unauthorized = await empty.get(url)  # a refused key consumes no fault
    first = await empty.get(url, headers=AUTH)
    second = await empty.get(url, headers=AUTH)

    assert unauthorized.status_code == 401
    assert first.status_code == 500 and first.json()["status"] == 500
    assert second.status_code == 429 and second.headers["retry-after"] == "5"
    await empty.delete("/_sandbox/mirakl/carrefour/faults")
    assert (await empty.get(url, headers=AUTH)).status_code == 200


async def test_faults_can_target_operations(empty: httpx.AsyncClient) -> None:
    await empty.post(
        "/_sandbox/mirakl/carrefour/faults", json={"kind": "server_error", "operations": ["M12"]}
    )
    bad = await empty.post(
        "/_sandbox/mirakl/carrefour/faults", json={"kind": "slow", "operations": ["M99"]}
    )

    assert bad.status_code == 400
    listing = await empty.get("/mirakl/carrefour/api/inbox/threads", headers=AUTH)
    assert listing.status_code == 200
    assert len((await empty.get("/_sandbox/mirakl/carrefour/faults")).json()["faults"]) == 1


async def test_reset_restores_the_seed_for_one_instance_or_all(seeded: httpx.AsyncClient) -> None:
    before = await all_threads(seeded, "empik")
    await seeded.post(
        "/_sandbox/mirakl/empik/messages", json={"body": "Dzień dobry, pytanie o zamówienie"}
    )
    await seeded.post(
        "/_sandbox/mirakl/carrefour/faults", json={"kind": "server_error", "count": 5}
    )

    await seeded.post("/_sandbox/reset", json={"instance": "empik"})
    assert {t["id"] for t in await all_threads(seeded, "empik")} == {t["id"] for t in before}
    assert (await seeded.get("/_sandbox/mirakl/carrefour/faults")).json()["faults"] != []

    await seeded.post("/_sandbox/reset", json={"seed": False})
    assert (await seeded.get("/_sandbox/mirakl")).json()["instances"] == []
    assert await all_threads(seeded, "carrefour") == []

    await seeded.post("/_sandbox/reset")
    assert len(await all_threads(seeded, "carrefour")) == 4
