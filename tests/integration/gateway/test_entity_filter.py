"""The entity filter and the participants' companies on the real MongoDB-compatible
server: REST and GraphQL answer the same, through the declared multikey index."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from integration.gateway.documents import discussion_doc
from pymongo.asynchronous.database import AsyncDatabase

from parley_store import DISCUSSIONS

pytestmark = pytest.mark.integration

COMPANY = {"name": "Girard & Fils SAS", "id": "ORG-88"}

LIST = """
query($f: DiscussionFilter) {
  discussions(filters: $f) {
    items {
      threadId
      entities { type id label }
      participants { marketplaceId organization { name id } }
    }
  }
}"""


def about(doc: dict[str, Any], *entities: tuple[str, str, str | None]) -> dict[str, Any]:
    doc["entities"] = [{"type": t, "id": i, "label": label} for t, i, label in entities]
    return doc


@pytest.fixture
async def inbox(gateway_db: AsyncDatabase[Any], store_id: str) -> None:
    b2b = about(
        discussion_doc(store_id, "order-a", minutes=1, order_id="ORD-1"),
        ("order", "ORD-1", "ORD-1"),
        ("offer", "2077", "Office chair, black"),
    )
    b2b["participants"][0].update(marketplace_id="cust-4410", organization=COMPANY)
    await gateway_db[DISCUSSIONS].insert_many(
        [
            b2b,
            about(discussion_doc(store_id, "product-a", minutes=2), ("product", "2077", None)),
            about(
                discussion_doc(store_id, "order-b", minutes=3, order_id="ORD-2"),
                ("order", "ORD-2", None),
            ),
            # Another store's discussion about the same offer: never in this caller's list.
            about(
                discussion_doc(f"{store_id}-other", "order-z", minutes=4), ("offer", "2077", None)
            ),
        ]
    )


@pytest.mark.parametrize(
    ("rest", "graphql", "expected"),
    [
        ({"entity_id": "2077"}, {"entityId": ["2077"]}, ["product-a", "order-a"]),
        (
            [("entity_id", "ORD-1"), ("entity_id", "ORD-2")],
            {"entityId": ["ORD-1", "ORD-2"]},
            ["order-b", "order-a"],
        ),
        (
            {"entity_id": "2077", "order_id": "ORD-1"},
            {"entityId": ["2077"], "orderId": ["ORD-1"]},
            ["order-a"],
        ),
        ({"entity_id": "ord-1"}, {"entityId": ["ord-1"]}, []),  # ids are exact
    ],
)
async def test_rest_and_graphql_filter_by_entity_alike(
    gateway: httpx.AsyncClient,
    inbox: None,
    rest: Any,
    graphql: dict[str, Any],
    expected: list[str],
) -> None:
    response = await gateway.get("/discussions", params=rest)
    assert response.status_code == 200, response.text
    assert [i["thread_id"] for i in response.json()["items"]] == expected
    answer = await gateway.post("/graphql", json={"query": LIST, "variables": {"f": graphql}})
    assert answer.status_code == 200, answer.text
    items = answer.json()["data"]["discussions"]["items"]
    assert [i["threadId"] for i in items] == expected


async def test_the_stored_company_and_entities_are_shown(
    gateway: httpx.AsyncClient, inbox: None
) -> None:
    response = await gateway.get("/discussions", params={"entity_id": "ORD-1"})
    [row] = response.json()["items"]
    assert row["participants"][0]["marketplace_id"] == "cust-4410"
    assert row["participants"][0]["organization"] == COMPANY
    assert row["entities"][1] == {"type": "offer", "id": "2077", "label": "Office chair, black"}
    answer = await gateway.post(
        "/graphql", json={"query": LIST, "variables": {"f": {"entityId": ["ORD-1"]}}}
    )
    [item] = answer.json()["data"]["discussions"]["items"]
    assert item["participants"][0] == {"marketplaceId": "cust-4410", "organization": COMPANY}
