"""The tag filter on the real MongoDB-compatible server: tags set through PATCH are
found again by ``?tag=`` (an array element equality; several tags must all be held),
the counts take the filter, GraphQL answers like REST, and another account's
discussion carrying the same tag never shows."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from integration.gateway.accounts import ClientFactory
from integration.gateway.documents import discussion_doc
from pymongo.asynchronous.database import AsyncDatabase

from parley_store import DISCUSSIONS, ensure_indexes

pytestmark = pytest.mark.integration

LIST = """
query($f: DiscussionFilter) { discussions(filters: $f) { items { threadId tags } } }"""
COUNTS = """
query($f: DiscussionFilter) { counts(filters: $f) { new open } }"""


@pytest.fixture
async def tagged(
    gateway: httpx.AsyncClient,
    gateway_as: ClientFactory,
    gateway_db: AsyncDatabase[Any],
    store_id: str,
) -> httpx.AsyncClient:
    """Four discussions of the caller's store tagged through the API, and another
    account's discussion tagged ``urgent`` too; returns the other account's client."""
    docs = [
        discussion_doc(store_id, "both", minutes=1),
        discussion_doc(store_id, "urgent-only", minutes=2, status="open"),
        discussion_doc(store_id, "late-only", minutes=3),
        discussion_doc(store_id, "untagged", minutes=4),
    ]
    other = discussion_doc(f"{store_id}-other", "theirs", minutes=5)
    await gateway_db[DISCUSSIONS].insert_many([*docs, other])
    for doc, tags in zip(
        docs, (["urgent", "late-delivery"], ["Urgent"], ["late-delivery"], []), strict=True
    ):
        if tags:
            response = await gateway.patch(f"/discussions/{doc['_id']}", json={"tags": tags})
            assert response.status_code == 200, response.text
    theirs, _ = await gateway_as(f"{store_id}-other")
    response = await theirs.patch(f"/discussions/{other['_id']}", json={"tags": ["urgent"]})
    assert response.status_code == 200, response.text
    return theirs


async def threads(client: httpx.AsyncClient, params: Any) -> list[str]:
    response = await client.get("/discussions", params=params)
    assert response.status_code == 200, response.text
    return [item["thread_id"] for item in response.json()["items"]]


@pytest.mark.parametrize(
    ("rest", "graphql", "expected"),
    [
        ({"tag": "urgent"}, {"tag": ["urgent"]}, ["urgent-only", "both"]),
        ({"tag": "URGENT"}, {"tag": ["URGENT"]}, ["urgent-only", "both"]),
        ({"tag": "late-delivery"}, {"tag": ["late-delivery"]}, ["late-only", "both"]),
        (
            [("tag", "urgent"), ("tag", "late-delivery")],
            {"tag": ["urgent", "late-delivery"]},
            ["both"],
        ),
        (
            {"tag": "urgent", "status": "open"},
            {"tag": ["urgent"], "status": ["OPEN"]},
            ["urgent-only"],
        ),
        ({"tag": "nobody-has-it"}, {"tag": ["nobody-has-it"]}, []),
    ],
)
async def test_rest_and_graphql_filter_by_tag_alike(
    gateway: httpx.AsyncClient,
    tagged: httpx.AsyncClient,
    rest: Any,
    graphql: dict[str, Any],
    expected: list[str],
) -> None:
    assert await threads(gateway, rest) == expected
    answer = await gateway.post("/graphql", json={"query": LIST, "variables": {"f": graphql}})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert "errors" not in body, body
    assert [i["threadId"] for i in body["data"]["discussions"]["items"]] == expected


async def test_counts_take_the_tag_filter_in_both_apis(
    gateway: httpx.AsyncClient, tagged: httpx.AsyncClient
) -> None:
    counts = (await gateway.get("/discussions/counts", params={"tag": "urgent"})).json()
    assert (counts["new"], counts["open"]) == (1, 1)
    both = await gateway.get(
        "/discussions/counts", params=[("tag", "urgent"), ("tag", "late-delivery")]
    )
    assert (both.json()["new"], both.json()["open"]) == (1, 0)
    answer = await gateway.post(
        "/graphql", json={"query": COUNTS, "variables": {"f": {"tag": ["urgent"]}}}
    )
    assert answer.json()["data"]["counts"] == {"new": 1, "open": 1}


async def test_a_tag_never_crosses_accounts(
    gateway: httpx.AsyncClient, tagged: httpx.AsyncClient
) -> None:
    assert "theirs" not in await threads(gateway, {"tag": "urgent"})
    assert await threads(tagged, {"tag": "urgent"}) == ["theirs"]
    assert await threads(tagged, {"tag": "late-delivery"}) == []
    counts = (await tagged.get("/discussions/counts", params={"tag": "urgent"})).json()
    assert (counts["new"], counts["open"]) == (1, 0)


async def test_a_bad_tag_is_refused_naming_the_parameter(
    gateway: httpx.AsyncClient, tagged: httpx.AsyncClient
) -> None:
    for path in ("/discussions", "/discussions/counts"):
        response = await gateway.get(path, params={"tag": "late delivery"})
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        [error] = response.json()["errors"]
        assert (error["parameter"], error["code"]) == ("tag", "invalid_tag")


async def test_the_server_takes_the_multikey_tag_index(gateway_db: AsyncDatabase[Any]) -> None:
    await ensure_indexes(gateway_db)  # idempotent: the gateway's own start may have run it
    indexes = {ix["name"]: ix async for ix in await gateway_db[DISCUSSIONS].list_indexes()}
    assert list(indexes["store_tags_last_message"]["key"]) == [
        "store_id",
        "tags",
        "last_message_at",
        "_id",
    ]
