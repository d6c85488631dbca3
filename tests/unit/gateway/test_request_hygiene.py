"""At the HTTP edge, on in-memory fakes: Idempotency-Key on REST and GraphQL, the text
rules' refusals as problem+json and GraphQL codes, and the query-string limits."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
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
from unit.gateway.idempotency_fakes import InMemoryIdempotencyStore

from parley_gateway.accounts import AccessService
from parley_gateway.app import create_app
from parley_gateway.bootstrap import Runtime
from parley_gateway.config import GatewaySettings
from parley_gateway.domain.idempotency import fingerprint
from parley_gateway.idempotency import IdempotencyService
from parley_gateway.service import DiscussionService

PROBLEM = "application/problem+json"


@dataclass
class Api:
    client: httpx.AsyncClient
    repo: InMemoryDiscussions
    publisher: RecordingPublisher
    store: InMemoryIdempotencyStore
    idempotency: IdempotencyService
    account_id: str

    async def reply(self, body: Any, key: str | None = None, thread: str = "t0") -> httpx.Response:
        headers = {"Idempotency-Key": key} if key is not None else {}
        return await self.client.post(
            f"/discussions/{discussion(thread).id}/replies", json=body, headers=headers
        )

    async def graphql(self, query: str, key: str | None = None, **variables: Any) -> httpx.Response:
        headers = {"Idempotency-Key": key} if key is not None else {}
        return await self.client.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    repo = InMemoryDiscussions(*(discussion(f"t{i}", minutes=i) for i in range(3)))
    publisher = RecordingPublisher()
    access = AccessService(InMemoryAccounts(), PEPPER)
    account, _ = await access.create_account("Shop", ["store-1"])
    key = await access.issue_key(account.id)
    store = InMemoryIdempotencyStore()
    idempotency = IdempotencyService(store, purges=False)
    base = fake_bootstrap(DiscussionService(repo, publisher), access)

    @asynccontextmanager
    async def wire(settings: GatewaySettings) -> AsyncIterator[Runtime]:
        async with base(settings) as runtime:
            yield replace(runtime, idempotency=idempotency)

    app = create_app(GatewaySettings(), bootstrap=wire)
    async with (
        started(app) as client_for,
        client_for({"Authorization": f"Bearer {key.secret}"}) as client,
    ):
        yield Api(client, repo, publisher, store, idempotency, account.id)


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


# --- Idempotency-Key -------------------------------------------------------------------


async def test_a_repeated_reply_is_queued_once_and_answered_alike(api: Api) -> None:
    first = await api.reply({"body": "Shipped today."}, key="reply-1")
    again = await api.reply({"body": "Shipped today."}, key="reply-1")
    assert first.status_code == again.status_code == 202
    assert again.content == first.content
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert len(api.publisher.published) == 1
    # Without a key, or with another one, each request is its own.
    await api.reply({"body": "Shipped today."})
    await api.reply({"body": "Shipped today."}, key="reply-2")
    assert len(api.publisher.published) == 3


async def test_the_same_key_on_another_request_is_a_422_naming_the_rule(api: Api) -> None:
    await api.reply({"body": "Shipped today."}, key="reply-1")
    other_body = await api.reply({"body": "Shipped tomorrow."}, key="reply-1")
    other_path = await api.reply({"body": "Shipped today."}, key="reply-1", thread="t1")
    for response in (other_body, other_path):
        problem = assert_problem(response, 422)
        assert problem["type"].endswith("/idempotency-key-reused")
        assert problem["errors"][0]["parameter"] == "Idempotency-Key"
    assert len(api.publisher.published) == 1


async def test_a_repeat_while_the_first_runs_is_a_409_with_retry_after(api: Api) -> None:
    body = b'{"body":"Shipped today."}'
    path = f"/discussions/{discussion('t0').id}/replies"
    await api.idempotency.begin(api.account_id, "busy", fingerprint("POST", path, "", body))
    response = await api.client.post(
        path, content=body, headers={"Idempotency-Key": "busy", "Content-Type": "application/json"}
    )
    problem = assert_problem(response, 409)
    assert problem["type"].endswith("/idempotency-key-in-progress")
    assert int(response.headers["retry-after"]) >= 1
    assert api.publisher.published == []


@pytest.mark.parametrize("key", ["x" * 256, "caf\u00e9".encode(), "tab\there"])
async def test_an_invalid_key_is_a_422_and_runs_nothing(api: Api, key: str | bytes) -> None:
    response = await api.client.post(
        f"/discussions/{discussion('t0').id}/replies",
        json={"body": "Hi"},
        headers={"Idempotency-Key": key},
    )
    problem = assert_problem(response, 422)
    assert problem["type"].endswith("/invalid-idempotency-key")
    assert api.publisher.published == []


async def test_a_refused_request_is_replayed_as_refused(api: Api) -> None:
    first = await api.reply({"body": "<b>Hi</b>"}, key="bad-1")
    again = await api.reply({"body": "<b>Hi</b>"}, key="bad-1")
    assert first.status_code == again.status_code == 422
    assert again.content == first.content
    assert again.headers["content-type"] == PROBLEM


async def test_a_503_frees_the_key_so_the_retry_runs(api: Api) -> None:
    api.publisher.fail = True
    assert (await api.reply({"body": "Hi"}, key="k-503")).status_code == 503
    api.publisher.fail = False
    retried = await api.reply({"body": "Hi"}, key="k-503")
    assert retried.status_code == 202
    assert "idempotent-replayed" not in retried.headers
    assert len(api.publisher.published) == 1


async def test_without_a_valid_api_key_nothing_is_stored(api: Api) -> None:
    response = await api.client.post(
        f"/discussions/{discussion('t0').id}/replies",
        json={"body": "Hi"},
        headers={"Idempotency-Key": "anon", "Authorization": "Bearer nope"},
    )
    assert_problem(response, 401)
    assert api.store.records == {}


async def test_patch_and_bulk_status_take_keys_too(api: Api) -> None:
    path = f"/discussions/{discussion('t1').id}"
    first = await api.client.patch(path, json={"tags": ["vip"]}, headers={"Idempotency-Key": "p"})
    again = await api.client.patch(path, json={"tags": ["vip"]}, headers={"Idempotency-Key": "p"})
    assert first.status_code == 200 and again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
    bulk = {"ids": [discussion("t2").id], "status": "solved"}
    first = await api.client.post(
        "/discussions/bulk-status", json=bulk, headers={"Idempotency-Key": "b"}
    )
    again = await api.client.post(
        "/discussions/bulk-status", json=bulk, headers={"Idempotency-Key": "b"}
    )
    assert first.status_code == 200 and again.content == first.content


REPLY = """
mutation($id: ID!, $body: String!) {
  reply(discussionId: $id, body: $body, action: REPLY) { commandId }
}"""


async def test_a_graphql_mutation_with_the_header_runs_once(api: Api) -> None:
    first = await api.graphql(REPLY, key="g-1", id=discussion("t0").id, body="Hello")
    again = await api.graphql(REPLY, key="g-1", id=discussion("t0").id, body="Hello")
    assert first.status_code == again.status_code == 200
    assert "errors" not in first.json()
    assert again.content == first.content
    assert len(api.publisher.published) == 1
    other = await api.graphql(REPLY, key="g-1", id=discussion("t0").id, body="Bye")
    assert_problem(other, 422)


# --- text rules ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Thanks\u0000", "control_character"),
        ("Thanks\u001b[31m", "control_character"),
        ("\u202e\u200b", "bidi_control"),
        ("order \u2066123\u2069", "bidi_control"),
        ("\u200b\u200b \n", "empty"),
    ],
)
async def test_bad_reply_text_is_a_422_naming_the_rule(api: Api, text: str, code: str) -> None:
    problem = assert_problem(await api.reply({"body": text}), 422)
    [error] = problem["errors"]
    assert (error["pointer"], error["code"]) == ("#/body", code)
    assert api.publisher.published == []


async def test_reply_text_is_queued_in_nfc(api: Api) -> None:
    assert (await api.reply({"body": "Re\u0301clamation re\u00e7ue"})).status_code == 202
    [envelope] = api.publisher.published
    assert envelope.data.body == "R\u00e9clamation re\u00e7ue"


async def test_bad_tags_are_a_422_naming_the_rule(api: Api) -> None:
    response = await api.client.patch(
        f"/discussions/{discussion('t1').id}", json={"tags": ["ok", "vip\u0000"]}
    )
    [error] = assert_problem(response, 422)["errors"]
    assert (error["pointer"], error["code"]) == ("#/tags/1", "control_character")


@pytest.mark.parametrize(
    ("text", "code"), [("Hi\u0000", "control_character"), ("\u202e\u200b", "bidi_control")]
)
async def test_graphql_refuses_the_same_text_with_a_validation_code(
    api: Api, text: str, code: str
) -> None:
    body = (await api.graphql(REPLY, id=discussion("t0").id, body=text)).json()
    [error] = body["errors"]
    assert error["extensions"] == {"code": "VALIDATION", "field": "body", "reason": code}
    assert api.publisher.published == []


# --- query limits ----------------------------------------------------------------------


async def test_a_parameter_repeated_too_often_is_a_400(api: Api) -> None:
    query = "&".join(["status=new"] * 51)
    problem = assert_problem(await api.client.get(f"/discussions?{query}"), 400)
    [error] = problem["errors"]
    assert (error["parameter"], error["code"]) == ("status", "too_many_values")
    ok = "&".join(["status=new"] * 50)
    assert (await api.client.get(f"/discussions?{ok}")).status_code == 200


async def test_an_oversized_query_string_is_a_400(api: Api) -> None:
    problem = assert_problem(await api.client.get("/discussions?subject=" + "x" * 5000), 400)
    assert problem["errors"][0]["code"] == "query_too_long"


def test_openapi_documents_the_key_and_its_refusals() -> None:
    document = create_app(GatewaySettings()).openapi()
    reply = document["paths"]["/discussions/{discussion_id}/replies"]["post"]
    assert any(p["name"] == "Idempotency-Key" for p in reply["parameters"])
    assert {"409", "422"} <= reply["responses"].keys()
    listing = document["paths"]["/discussions"]["get"]
    assert "400" in listing["responses"]
    assert not any(p["name"] == "Idempotency-Key" for p in listing["parameters"])
    for methods in document["paths"].values():
        for method, operation in methods.items():
            if method in ("post", "put", "patch", "delete"):
                assert any(p["name"] == "Idempotency-Key" for p in operation["parameters"])
