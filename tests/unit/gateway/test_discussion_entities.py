"""What a discussion is about and who its participants act for, in both APIs: each
participant's marketplace id and company, the entities (type, id, label), and the
entity filter (entity_id: orders, offers or products by id), the same in REST and GraphQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from unit.gateway.fakes import (
    PEPPER,
    InMemoryAccounts,
    InMemoryDiscussions,
    RecordingPublisher,
    discussion,
    fake_bootstrap,
    started,
)

from parley_gateway.accounts import AccessService
from parley_gateway.adapters.mongo_discussions import LIST_ORDER, LIST_PROJECTION, list_query
from parley_gateway.app import create_app
from parley_gateway.config import GatewaySettings
from parley_gateway.domain import DiscussionFilters, Position, Scope
from parley_gateway.service import DiscussionService
from parley_schemas import Organization, Participant, ParticipantRole
from parley_store import DISCUSSIONS, DiscussionDocument
from parley_store.collections import _INDEXES

BUYER = Participant(
    role=ParticipantRole.CUSTOMER,
    name="Paul Girard",
    marketplace_id="cust-4410",
    organization=Organization(name="Girard & Fils SAS", id="ORG-88"),
)


class EntityAwareDiscussions(InMemoryDiscussions):
    """The in-memory repository, plus the entity filter as the Mongo query reads it."""

    def _matching(self, scope: Scope, filters: DiscussionFilters) -> list[DiscussionDocument]:
        found = super()._matching(scope, filters)
        if not filters.entity_ids:
            return found
        return [d for d in found if any(e.get("id") in filters.entity_ids for e in d.entities)]


def about(doc: DiscussionDocument, *entities: tuple[str, str, str | None]) -> DiscussionDocument:
    return doc.model_copy(
        update={"entities": [{"type": t, "id": i, "label": label} for t, i, label in entities]}
    )


@dataclass
class Apis:
    client: httpx.AsyncClient

    async def rows(self, **params: Any) -> list[dict[str, Any]]:
        response = await self.client.get("/discussions", params=params)
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    async def graphql(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        response = await self.client.post("/graphql", json={"query": query, "variables": variables})
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture
async def apis() -> AsyncIterator[Apis]:
    repo = EntityAwareDiscussions(
        about(
            discussion("t0", minutes=0, order_id="O-1", participants=(BUYER,)),
            ("order", "O-1", "O-1"),
            ("offer", "2077", "Office chair, black"),
        ),
        about(discussion("t1", minutes=1), ("product", "2077", None)),
        about(discussion("t2", minutes=2, order_id="O-2"), ("order", "O-2", None)),
        discussion("t3", minutes=3),
        about(discussion("x0", store_id="store-2", minutes=9), ("offer", "2077", None)),
    )
    access = AccessService(InMemoryAccounts(), PEPPER)
    account, _ = await access.create_account("Shop", ["store-1"])
    key = await access.issue_key(account.id)
    service = DiscussionService(repo, RecordingPublisher())
    app = create_app(GatewaySettings(), bootstrap=fake_bootstrap(service, access))
    async with (
        started(app) as client_for,
        client_for({"X-API-Key": key.secret}) as client,
    ):
        yield Apis(client)


async def test_rest_rows_show_entities_and_participants_in_full(apis: Apis) -> None:
    rows = {r["thread_id"]: r for r in await apis.rows()}

    assert rows["t0"]["entities"] == [
        {"type": "order", "id": "O-1", "label": "O-1"},
        {"type": "offer", "id": "2077", "label": "Office chair, black"},
    ]
    assert rows["t0"]["participants"] == [
        {
            "role": "customer",
            "name": "Paul Girard",
            "email": None,
            "marketplace_id": "cust-4410",
            "organization": {"name": "Girard & Fils SAS", "id": "ORG-88"},
        }
    ]
    assert rows["t3"]["entities"] == []
    assert rows["t3"]["participants"][0]["organization"] is None
    detail = await apis.client.get(f"/discussions/{rows['t0']['id']}")
    assert detail.status_code == 200
    assert detail.json()["entities"] == rows["t0"]["entities"]
    assert detail.json()["participants"] == rows["t0"]["participants"]


async def test_rest_filters_by_entity_id(apis: Apis) -> None:
    threads = [r["thread_id"] for r in await apis.rows(entity_id="2077")]
    assert threads == ["t1", "t0"]  # an offer and a product; the caller's stores only
    several = await apis.rows(entity_id=["O-1", "O-2"])
    assert [r["thread_id"] for r in several] == ["t2", "t0"]
    assert await apis.rows(entity_id="o-1") == []  # ids are exact
    # Alongside the order filter, each narrows the other.
    assert [r["thread_id"] for r in await apis.rows(entity_id="2077", order_id="O-1")] == ["t0"]
    assert await apis.rows(entity_id="2077", order_id="O-2") == []


async def test_rest_counts_take_the_entity_filter(apis: Apis) -> None:
    counts = await apis.client.get("/discussions/counts", params={"entity_id": "2077"})
    assert counts.status_code == 200, counts.text
    assert counts.json()["new"] == 2


LIST = """
query List($filters: DiscussionFilter) {
  discussions(filters: $filters) {
    items {
      threadId
      entities { type id label }
      participants { role name marketplaceId organization { name id } }
    }
  }
}
"""


async def test_graphql_shows_the_same_fields(apis: Apis) -> None:
    body = await apis.graphql(LIST, {"filters": {"entityId": ["O-1"]}})
    assert "errors" not in body, body
    assert body["data"]["discussions"]["items"] == [
        {
            "threadId": "t0",
            "entities": [
                {"type": "order", "id": "O-1", "label": "O-1"},
                {"type": "offer", "id": "2077", "label": "Office chair, black"},
            ],
            "participants": [
                {
                    "role": "CUSTOMER",
                    "name": "Paul Girard",
                    "marketplaceId": "cust-4410",
                    "organization": {"name": "Girard & Fils SAS", "id": "ORG-88"},
                }
            ],
        }
    ]


async def test_graphql_filters_like_rest(apis: Apis) -> None:
    body = await apis.graphql(LIST, {"filters": {"entityId": ["2077"]}})
    assert [i["threadId"] for i in body["data"]["discussions"]["items"]] == ["t1", "t0"]
    body = await apis.graphql(LIST, {"filters": {"entityId": ["O-1", "O-2"], "orderId": ["O-2"]}})
    assert [i["threadId"] for i in body["data"]["discussions"]["items"]] == ["t2"]


def test_the_entity_filter_is_an_equality_the_store_index_serves_in_list_order() -> None:
    one = list_query(Scope.of(["s1"]), DiscussionFilters(entity_ids=frozenset({"2077"})), None)
    assert one == {"store_id": "s1", "entities.id": "2077"}
    several = DiscussionFilters(entity_ids=frozenset({"b", "a"}))
    query = list_query(Scope.of(["s1"]), several, Position(None, "d9"))
    assert query is not None
    assert query["entities.id"] == {"$in": ["a", "b"]}
    keys = [list(ix.document["key"].items()) for ix in _INDEXES[DISCUSSIONS]]
    assert [("store_id", 1), ("entities.id", 1), *LIST_ORDER] in keys
    assert "entities" in LIST_PROJECTION
