"""The tag filter (REST ``?tag=``, GraphQL ``tag``): a discussion matches when it holds
every tag asked for; tags are checked with the rule they are set with, so a tag that
could never be set is refused (422 naming ``tag``) before anything is read; the Mongo
query stays flat with the store first, a plain equality for one tag."""

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
from parley_gateway.domain import DiscussionFilters, InvalidFilter, Position, Scope
from parley_gateway.domain.workflow import MAX_TAGS
from parley_gateway.service import DiscussionService
from parley_store import DISCUSSIONS, DiscussionDocument, DiscussionStatus
from parley_store.collections import _INDEXES


def tagged(doc: DiscussionDocument, *tags: str) -> DiscussionDocument:
    return doc.model_copy(update={"tags": list(tags)})


class CountingDiscussions(InMemoryDiscussions):
    """Counts the reads, to show a refused filter reads nothing."""

    def __init__(self, *docs: DiscussionDocument) -> None:
        super().__init__(*docs)
        self.reads = 0

    def _matching(self, scope: Scope, filters: DiscussionFilters) -> list[DiscussionDocument]:
        self.reads += 1
        return super()._matching(scope, filters)


@dataclass
class Apis:
    client: httpx.AsyncClient
    repo: CountingDiscussions

    async def threads(self, **params: Any) -> list[str]:
        response = await self.client.get("/discussions", params=params)
        assert response.status_code == 200, response.text
        return [item["thread_id"] for item in response.json()["items"]]

    async def graphql(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        response = await self.client.post("/graphql", json={"query": query, "variables": variables})
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture
async def apis() -> AsyncIterator[Apis]:
    repo = CountingDiscussions(
        tagged(discussion("t0", minutes=0), "urgent", "late-delivery"),
        tagged(discussion("t1", minutes=1, status=DiscussionStatus.OPEN), "urgent"),
        tagged(discussion("t2", minutes=2), "late-delivery"),
        discussion("t3", minutes=3),
        tagged(discussion("x0", store_id="store-2", minutes=9), "urgent"),
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
        yield Apis(client, repo)


async def test_one_tag_finds_the_discussions_holding_it_in_the_callers_stores(apis: Apis) -> None:
    assert await apis.threads(tag="urgent") == ["t1", "t0"]  # not store-2's x0
    assert await apis.threads(tag="late-delivery") == ["t2", "t0"]
    assert await apis.threads(tag="missing") == []


async def test_repeated_tags_narrow_down_every_one_must_be_held(apis: Apis) -> None:
    assert await apis.threads(tag=["urgent", "late-delivery"]) == ["t0"]
    assert await apis.threads(tag=["urgent", "missing"]) == []


async def test_tags_are_compared_as_they_are_set_lowercased(apis: Apis) -> None:
    assert await apis.threads(tag=" Urgent ") == ["t1", "t0"]
    assert await apis.threads(tag=["URGENT", "urgent"]) == ["t1", "t0"]


async def test_the_tag_filter_combines_with_the_others(apis: Apis) -> None:
    assert await apis.threads(tag="urgent", status="open") == ["t1"]


async def test_counts_take_the_tag_filter(apis: Apis) -> None:
    response = await apis.client.get("/discussions/counts", params={"tag": "urgent"})
    assert response.status_code == 200, response.text
    counts = response.json()
    assert (counts["new"], counts["open"]) == (1, 1)
    both = await apis.client.get(
        "/discussions/counts", params=[("tag", "urgent"), ("tag", "late-delivery")]
    )
    assert (both.json()["new"], both.json()["open"]) == (1, 0)


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"tag": "late delivery"}, "invalid_tag"),
        ({"tag": "-urgent"}, "invalid_tag"),
        ({"tag": "x" * 33}, "invalid_tag"),
        ({"tag": ""}, "empty"),
        ({"tag": "a\u0000b"}, "control_character"),
        ({"tag": [f"t{i}" for i in range(MAX_TAGS + 1)]}, "too_many"),
    ],
)
@pytest.mark.parametrize("path", ["/discussions", "/discussions/counts"])
async def test_a_tag_that_could_never_be_set_is_refused_naming_the_parameter(
    apis: Apis, path: str, params: dict[str, Any], code: str
) -> None:
    response = await apis.client.get(path, params=params)

    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    [error] = response.json()["errors"]
    assert error["parameter"] == "tag"
    assert error["code"] == code
    assert apis.repo.reads == 0  # nothing was read


LIST = """
query List($filters: DiscussionFilter) {
  discussions(filters: $filters) { items { threadId tags } }
}
"""

COUNTS = """
query Counts($filters: DiscussionFilter) { counts(filters: $filters) { new open } }
"""


async def test_graphql_filters_by_tag_like_rest(apis: Apis) -> None:
    for tags, rest in ([["urgent"], "urgent"], [["urgent", "late-delivery"], None]):
        body = await apis.graphql(LIST, {"filters": {"tag": tags}})
        assert "errors" not in body, body
        threads = [i["threadId"] for i in body["data"]["discussions"]["items"]]
        assert threads == await apis.threads(tag=tags)
        if rest is not None:
            assert threads == ["t1", "t0"]
    body = await apis.graphql(COUNTS, {"filters": {"tag": ["urgent"]}})
    assert body["data"]["counts"] == {"new": 1, "open": 1}


async def test_graphql_refuses_a_bad_tag_naming_the_field(apis: Apis) -> None:
    body = await apis.graphql(LIST, {"filters": {"tag": ["Not a tag"]}})
    [error] = body["errors"]
    assert error["extensions"]["field"] == "tag"
    assert error["extensions"]["reason"] == "invalid_tag"
    assert apis.repo.reads == 0


def test_the_domain_filter_cleans_tags_or_names_the_parameter() -> None:
    assert DiscussionFilters(tags=frozenset({"Urgent", "urgent"})).tags == {"urgent"}
    with pytest.raises(InvalidFilter) as refused:
        DiscussionFilters(tags=frozenset({"no spaces"}))
    assert (refused.value.parameter, refused.value.code) == ("tag", "invalid_tag")


def test_one_tag_is_a_plain_equality_after_the_store() -> None:
    query = list_query(Scope.of(["s1"]), DiscussionFilters(tags=frozenset({"urgent"})), None)
    assert query == {"store_id": "s1", "tags": "urgent"}
    assert list(query) == ["store_id", "tags"]  # the index's order


def test_several_tags_must_all_be_held_on_one_flat_key() -> None:
    filters = DiscussionFilters(tags=frozenset({"urgent", "b-tag"}))
    query = list_query(Scope.of(["s1"]), filters, Position(None, "d9"))
    assert query is not None
    assert query["tags"] == {"$all": ["b-tag", "urgent"]}
    assert "$and" not in query  # the cursor's keys do not collide with tags
    assert list(query)[:2] == ["store_id", "tags"]


def test_a_compound_index_serves_the_tag_filter_in_list_order() -> None:
    keys = [list(ix.document["key"].items()) for ix in _INDEXES[DISCUSSIONS]]
    assert [("store_id", 1), ("tags", 1), *LIST_ORDER] in keys
    assert "tags" in LIST_PROJECTION
