"""The autoresponders resource over HTTP, on in-memory fakes: scope, validation as
problem+json, restore default, test mail."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from email import message_from_bytes, policy
from typing import Any

import httpx
import pytest
from unit.gateway.autoresponder_fakes import (
    FakeMailer,
    InMemoryAutoresponders,
    autoresponder_service,
)
from unit.gateway.fakes import (
    PEPPER,
    InMemoryAccounts,
    InMemoryDiscussions,
    RecordingPublisher,
    fake_bootstrap,
    started,
)

from parley_gateway.accounts import AccessService
from parley_gateway.app import create_app
from parley_gateway.config import GatewaySettings
from parley_gateway.ports import MailNotSent
from parley_gateway.service import DiscussionService
from parley_store.autoresponders import DEFAULT_TEMPLATES

PROBLEM = "application/problem+json"
PATH = "/autoresponders/store-1/allegro/message_center"


@dataclass
class Api:
    client: httpx.AsyncClient
    repo: InMemoryAutoresponders
    mailer: FakeMailer
    account_id: str


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    access = AccessService(InMemoryAccounts(), PEPPER)
    account, _ = await access.create_account("Shop", ["store-1", "store-2"])
    key = await access.issue_key(account.id)
    repo, mailer = InMemoryAutoresponders(), FakeMailer()
    app = create_app(
        GatewaySettings(),
        bootstrap=fake_bootstrap(
            DiscussionService(InMemoryDiscussions(), RecordingPublisher()),
            access,
            autoresponder_service(repo, mailer),
        ),
    )
    async with (
        started(app) as client_for,
        client_for({"Authorization": f"Bearer {key.secret}"}) as client,
    ):
        yield Api(client, repo, mailer, account.id)


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


ENABLED = {
    "enabled": True,
    "template": "Dzień dobry {buyer_name}, dziękujemy! {shop_name}",
    "shop_name": "Sklep Testowy",
    "sender_name": "Obsługa klienta",
    "notify_shop_address": "shop@example.com",
    "notify_extra_address": "boss@example.com",
}


async def test_an_unsaved_key_reads_as_its_defaults_in_the_marketplace_language(api: Api) -> None:
    body = ok(await api.client.get(PATH))
    assert body["enabled"] is False and body["saved"] is False and body["default_text"] is True
    assert body["language"] == "pl"
    assert body["template"] == DEFAULT_TEMPLATES["pl"]
    assert ok(await api.client.get("/autoresponders"))["items"] == []


async def test_put_saves_and_lists_by_store(api: Api) -> None:
    saved = ok(await api.client.put(PATH, json=ENABLED))
    assert saved["enabled"] is True and saved["saved"] is True and saved["default_text"] is False
    assert saved["updated_by"] == api.account_id
    assert ok(await api.client.get(PATH)) == saved
    other = "/autoresponders/store-2/carrefour/messages"
    ok(await api.client.put(other, json={"enabled": False}))

    items = ok(await api.client.get("/autoresponders"))["items"]
    assert [(i["store_id"], i["marketplace"]) for i in items] == [
        ("store-1", "allegro"),
        ("store-2", "carrefour"),
    ]
    only = ok(await api.client.get("/autoresponders", params={"store_id": "store-2"}))["items"]
    assert [i["store_id"] for i in only] == ["store-2"]
    assert only[0]["language"] == "fr" and only[0]["template"] == DEFAULT_TEMPLATES["fr"]


async def test_another_accounts_store_is_not_found_and_never_listed(api: Api) -> None:
    foreign = "/autoresponders/store-9/allegro/message_center"
    body = problem(await api.client.get(foreign), 404)
    assert body["type"].endswith("/autoresponder-not-found")
    problem(await api.client.put(foreign, json=ENABLED), 404)
    problem(await api.client.post(foreign + "/restore-default"), 404)
    problem(await api.client.post(foreign + "/test"), 404)
    assert api.repo.saved == {}
    listed = await api.client.get("/autoresponders", params={"store_id": "store-9"})
    assert ok(listed)["items"] == []


@pytest.mark.parametrize(
    ("change", "pointer", "code"),
    [
        ({"template": "Hi {customer_name}"}, "#/template", "unknown_placeholder"),
        ({"template": "<p>Hi {buyer_name}</p>"}, "#/template", "html_not_accepted"),
        ({"template": "Hi {buyer_name"}, "#/template", "unbalanced_braces"),
        ({"notify_shop_address": None}, "#/notify_shop_address", "shop_address_required"),
        ({"notify_extra_address": "nope"}, "#/notify_extra_address", "invalid_email"),
        ({"language": "xx"}, "#/language", "unsupported_language"),
    ],
)
async def test_an_invalid_setting_is_refused_with_the_field_and_nothing_is_saved(
    api: Api, change: dict[str, Any], pointer: str, code: str
) -> None:
    body = problem(await api.client.put(PATH, json={**ENABLED, **change}), 422)
    assert body["type"].endswith("/invalid-autoresponder")
    (error,) = body["errors"]
    assert (error["pointer"], error["code"]) == (pointer, code)
    assert api.repo.saved == {}


async def test_the_unknown_placeholder_error_names_it_and_the_known_ones(api: Api) -> None:
    body = problem(await api.client.put(PATH, json={**ENABLED, "template": "Hi {name}"}), 422)
    assert "{name}" in body["detail"] and "{buyer_name}" in body["detail"]


async def test_invalid_path_and_body_are_problems_too(api: Api) -> None:
    problem(await api.client.get("/autoresponders/store-1/allegro/bad%20channel"), 422)
    problem(await api.client.put(PATH, json={"enabled": True, "unknown": 1}), 422)
    problem(await api.client.put(PATH, json={}), 422)


async def test_restore_default_keeps_the_switch_and_addresses(api: Api) -> None:
    ok(await api.client.put(PATH, json={**ENABLED, "language": "en"}))
    restored = ok(await api.client.post(PATH + "/restore-default"))
    assert restored["template"] == DEFAULT_TEMPLATES["pl"] and restored["language"] == "pl"
    assert restored["default_text"] is True
    assert restored["enabled"] is True
    assert restored["notify_shop_address"] == "shop@example.com"
    assert ok(await api.client.get(PATH)) == restored


async def test_test_mails_the_rendered_text_to_the_notification_addresses(api: Api) -> None:
    ok(await api.client.put(PATH, json={**ENABLED, "enabled": False}))
    sent = ok(await api.client.post(PATH + "/test"))
    assert sent["sent_to"] == ["shop@example.com", "boss@example.com"]
    assert sent["text"] == "Dzień dobry Jan Kowalski, dziękujemy! Sklep Testowy"
    (mail,) = api.mailer.sent
    parsed = message_from_bytes(mail.as_bytes(), policy=policy.default)
    assert parsed["Message-ID"] == f"<{sent['message_id']}>"
    assert parsed["Subject"].startswith("[Test]")
    assert parsed["From"].addresses[0].display_name == "Obsługa klienta"
    body = parsed.get_body(("plain",))
    assert body is not None and sent["text"] in body.get_content()


async def test_test_without_an_address_or_with_a_refusing_relay_is_a_problem(api: Api) -> None:
    body = problem(await api.client.post(PATH + "/test"), 422)
    assert body["errors"][0]["code"] == "shop_address_required"

    ok(await api.client.put(PATH, json=ENABLED))
    api.mailer.refuse = MailNotSent("550 mailbox unavailable", temporary=False)
    body = problem(await api.client.post(PATH + "/test"), 502)
    assert "550 mailbox unavailable" in body["detail"]
    api.mailer.refuse = MailNotSent("relay down", temporary=True)
    response = await api.client.post(PATH + "/test")
    problem(response, 503)
    assert response.headers["retry-after"] == "60"
    assert api.mailer.sent == []


async def test_every_route_needs_a_key(api: Api) -> None:
    for method, path in (("GET", "/autoresponders"), ("PUT", PATH), ("POST", PATH + "/test")):
        response = await api.client.request(method, path, headers={"Authorization": ""})
        problem(response, 401)


# --- the same capabilities over GraphQL ---------------------------------------------

SAVE = """
mutation Save($store: String!, $settings: AutoresponderInput!) {
  saveAutoresponder(storeId: $store, marketplace: "allegro", channel: "message_center",
                    settings: $settings) { storeId enabled template saved defaultText }
}"""


def camel(settings: dict[str, Any]) -> dict[str, Any]:
    """REST's snake_case body as GraphQL's camelCase input."""
    return {
        name.split("_")[0] + "".join(w.title() for w in name.split("_")[1:]): value
        for name, value in settings.items()
    }


async def graphql(api: Api, query: str, **variables: Any) -> dict[str, Any]:
    response = await api.client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_graphql_saves_reads_lists_and_restores_through_the_same_service(api: Api) -> None:
    saved = await graphql(api, SAVE, store="store-1", settings=camel(ENABLED))
    assert saved["data"]["saveAutoresponder"]["enabled"] is True
    assert api.repo.saved["store-1:allegro:message_center"].template == ENABLED["template"]

    listed = await graphql(api, '{ autoresponders(storeIds: ["store-1"]) { channel } }')
    assert listed["data"]["autoresponders"] == [{"channel": "message_center"}]
    restored = await graphql(
        api,
        'mutation { restoreAutoresponderDefault(storeId: "store-1", marketplace: "allegro", '
        'channel: "message_center") { enabled defaultText language } }',
    )
    assert restored["data"]["restoreAutoresponderDefault"] == {
        "enabled": True,
        "defaultText": True,
        "language": "pl",
    }


async def test_graphql_refuses_what_rest_refuses_and_hides_other_accounts_stores(
    api: Api,
) -> None:
    bad = await graphql(
        api, SAVE, store="store-1", settings=camel({**ENABLED, "template": "Hi {nickname}"})
    )
    [error] = bad["errors"]
    assert error["extensions"]["code"] == "VALIDATION"
    assert error["extensions"]["field"] == "template"
    assert api.repo.saved == {}

    foreign = await graphql(api, SAVE, store="store-of-someone-else", settings=camel(ENABLED))
    [error] = foreign["errors"]
    assert error["extensions"]["code"] == "NOT_FOUND"
    assert api.repo.saved == {}


async def test_graphql_test_send_mails_the_addresses(api: Api) -> None:
    await graphql(api, SAVE, store="store-1", settings=camel(ENABLED))
    sent = await graphql(
        api,
        'mutation { sendAutoresponderTest(storeId: "store-1", marketplace: "allegro", '
        'channel: "message_center") { sentTo messageId } }',
    )
    assert sent.get("data"), sent
    assert sent["data"]["sendAutoresponderTest"]["sentTo"]
    assert len(api.mailer.sent) == 1
