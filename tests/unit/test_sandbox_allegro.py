"""The sandbox's Allegro API on the wire: what a client sees, byte for byte.

These tests speak plain HTTP (no Parley client) so they pin the sandbox to the
reference: media types, OAuth answers, validation codes, error bodies, the seed, and
the control API's faults and resets.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from parley_sandbox import create_app

PUBLIC = "application/vnd.allegro.public.v1+json"
BETA = "application/vnd.allegro.beta.v1+json"
BASIC = "Basic " + base64.b64encode(b"sandbox-allegro-client:sandbox-allegro-secret").decode()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(seed=True)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sandbox"
    ) as client:
        yield client


async def tokens(http: httpx.AsyncClient, account: str = "lumina") -> dict[str, Any]:
    answer = await http.post(
        "/allegro/auth/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": f"sandbox-refresh-token-{account}"},
        headers={"Authorization": BASIC},
    )
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


async def bearer(http: httpx.AsyncClient, accept: str = PUBLIC) -> dict[str, str]:
    return {"Authorization": f"Bearer {(await tokens(http))['access_token']}", "Accept": accept}


# --- OAuth ------------------------------------------------------------------------------------


async def test_token_endpoint_rotates_the_refresh_token(http: httpx.AsyncClient) -> None:
    first = await tokens(http)
    assert first["token_type"] == "bearer" and first["expires_in"] == 43200
    again = await http.post(
        "/allegro/auth/oauth/token",
        params={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
        headers={"Authorization": BASIC},
    )
    assert again.status_code == 200, "the query-string form Allegro's examples use works too"
    assert again.json()["refresh_token"] not in (first["refresh_token"], "")


async def test_token_endpoint_refusals_follow_rfc_6749(http: httpx.AsyncClient) -> None:
    wrong_client = await http.post(
        "/allegro/auth/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": "sandbox-refresh-token-lumina"},
        headers={"Authorization": "Basic " + base64.b64encode(b"x:y").decode()},
    )
    unknown_grant = await http.post(
        "/allegro/auth/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": "nope"},
        headers={"Authorization": BASIC},
    )
    wrong_type = await http.post(
        "/allegro/auth/oauth/token",
        data={"grant_type": "password"},
        headers={"Authorization": BASIC},
    )
    assert (wrong_client.status_code, wrong_client.json()["error"]) == (401, "invalid_client")
    assert (unknown_grant.status_code, unknown_grant.json()["error"]) == (400, "invalid_grant")
    assert (wrong_type.status_code, wrong_type.json()["error"]) == (400, "unsupported_grant_type")


async def test_strict_rotation_refuses_a_used_refresh_token(http: httpx.AsyncClient) -> None:
    await http.put("/_sandbox/allegro/lumina", json={"strict_rotation": True})
    first = await tokens(http)
    reuse = await http.post(
        "/allegro/auth/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": "sandbox-refresh-token-lumina"},
        headers={"Authorization": BASIC},
    )
    assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"
    rotated = await http.post(
        "/allegro/auth/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
        headers={"Authorization": BASIC},
    )
    assert rotated.status_code == 200


async def test_calls_need_a_valid_bearer_token(http: httpx.AsyncClient) -> None:
    missing = await http.get("/allegro/messaging/threads", headers={"Accept": PUBLIC})
    forged = await http.get(
        "/allegro/messaging/threads", headers={"Accept": PUBLIC, "Authorization": "Bearer sbx.a.b"}
    )
    headers = await bearer(http)
    await http.post("/_sandbox/allegro/lumina/tokens/revoke")
    revoked = await http.get("/allegro/messaging/threads", headers=headers)
    for answer in (missing, forged, revoked):
        assert answer.status_code == 401
        assert answer.json()["error"] == "invalid_token"


# --- Message Center -----------------------------------------------------------------------


async def test_seeded_threads_in_the_documented_shape(http: httpx.AsyncClient) -> None:
    answer = await http.get("/allegro/messaging/threads", headers=await bearer(http))

    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith(PUBLIC)
    body = answer.json()
    assert (body["offset"], body["limit"]) == (0, 20)
    dates = [t["lastMessageDateTime"] for t in body["threads"]]
    assert dates == sorted(dates, reverse=True) and len(dates) == 3
    thread = body["threads"][0]
    assert set(thread) == {"id", "read", "lastMessageDateTime", "interlocutor"}
    assert set(thread["interlocutor"]) == {"login", "avatarUrl"}


async def test_seeded_messages_in_the_documented_shape(http: httpx.AsyncClient) -> None:
    headers = await bearer(http)
    listing = (await http.get("/allegro/messaging/threads", headers=headers)).json()
    with_photo = next(
        t for t in listing["threads"] if t["interlocutor"]["login"] == "client:40099876"
    )

    answer = await http.get(
        f"/allegro/messaging/threads/{with_photo['id']}/messages", headers=headers
    )

    (message,) = answer.json()["messages"]
    assert set(message) >= {
        "id",
        "status",
        "type",
        "createdAt",
        "thread",
        "author",
        "text",
        "subject",
        "relatesTo",
        "hasAdditionalAttachments",
        "attachments",
    }
    assert message["author"] == {"login": "client:40099876", "isInterlocutor": True}
    assert message["relatesTo"]["order"]["id"]
    (attachment,) = message["attachments"]
    assert attachment["mimeType"] == "image/png" and attachment["status"] == "SAFE"
    download = await http.get(attachment["url"].removeprefix("http://sandbox"), headers=headers)
    assert download.status_code == 200 and download.content.startswith(b"\x89PNG")
    assert "filename*=UTF-8''pekniety-klosz.png" in download.headers["content-disposition"]


async def test_message_center_validation(http: httpx.AsyncClient) -> None:
    headers = await bearer(http)
    thread_id = (await http.get("/allegro/messaging/threads", headers=headers)).json()["threads"][
        0
    ]["id"]
    too_many = await http.get("/allegro/messaging/threads?limit=21", headers=headers)
    mixed = await http.get(
        f"/allegro/messaging/threads/{thread_id}/messages",
        params={"offset": "0", "before": "2026-01-01T00:00:00Z"},
        headers=headers,
    )
    wrong_accept = await http.get(
        "/allegro/messaging/threads", headers={**headers, "Accept": "application/json"}
    )
    wrong_type = await http.post(
        f"/allegro/messaging/threads/{thread_id}/messages", json={"text": "a"}, headers=headers
    )
    too_long = await http.post(
        f"/allegro/messaging/threads/{thread_id}/messages",
        content=b'{"text": "' + b"x" * 2001 + b'"}',
        headers={**headers, "Content-Type": PUBLIC},
    )
    assert too_many.status_code == 422
    assert mixed.status_code == 422
    assert wrong_accept.status_code == 406
    assert wrong_type.status_code == 415
    assert too_long.status_code == 422
    error = too_long.json()["errors"][0]
    assert set(error) == {"code", "message", "details", "path", "userMessage"}
    assert error["path"] == "text"


async def test_attachment_declaration_and_upload_limits(http: httpx.AsyncClient) -> None:
    headers = {**(await bearer(http)), "Content-Type": PUBLIC}
    exe = await http.post(
        "/allegro/messaging/message-attachments",
        json={"filename": "virus.exe", "size": 10},
        headers=headers,
    )
    huge = await http.post(
        "/allegro/messaging/message-attachments",
        json={"filename": "big.pdf", "size": 5_242_881},
        headers=headers,
    )
    declared = await http.post(
        "/allegro/messaging/message-attachments",
        json={"filename": "small.pdf", "size": 4},
        headers=headers,
    )
    attachment_id = declared.json()["id"]
    too_big = await http.put(
        f"/allegro/messaging/message-attachments/{attachment_id}",
        content=b"12345",
        headers={**headers, "Content-Type": "application/pdf"},
    )
    wrong_type = await http.put(
        f"/allegro/messaging/message-attachments/{attachment_id}",
        content=b"1234",
        headers={**headers, "Content-Type": "text/plain"},
    )
    ok = await http.put(
        f"/allegro/messaging/message-attachments/{attachment_id}",
        content=b"1234",
        headers={**headers, "Content-Type": "application/pdf"},
    )
    assert (exe.status_code, huge.status_code, declared.status_code) == (415, 422, 201)
    assert (too_big.status_code, wrong_type.status_code, ok.status_code) == (413, 415, 200)
    assert ok.json() == {"id": attachment_id}


# --- post-purchase issues -----------------------------------------------------------------


async def test_seeded_issues_and_chat_in_the_documented_shape(http: httpx.AsyncClient) -> None:
    headers = await bearer(http, BETA)
    listing = await http.get("/allegro/sale/issues", headers=headers)

    assert listing.headers["content-type"].startswith(BETA)
    issues = listing.json()["issues"]
    assert {i["type"] for i in issues} == {"DISPUTE", "CLAIM"}
    opened = [i["openedDate"] for i in issues]
    assert opened == sorted(opened, reverse=True)
    claim = next(i for i in issues if i["type"] == "CLAIM")
    assert claim["currentState"]["chatActive"] is True
    assert claim["chat"]["messagesCount"] == 2 and claim["chat"]["lastMessage"]["createdAt"]
    chat = (await http.get(f"/allegro/sale/issues/{claim['id']}/chat", headers=headers)).json()
    assert [m["author"]["role"] for m in chat["chat"]] == ["BUYER", "ADMIN"]
    assert "login" not in chat["chat"][1]["author"]
    public = await http.get("/allegro/sale/issues", headers={**headers, "Accept": PUBLIC})
    assert public.status_code == 406, "issues speak the beta media type"


async def test_an_issue_message_needs_text_or_attachments(http: httpx.AsyncClient) -> None:
    headers = {**(await bearer(http, BETA)), "Content-Type": BETA}
    issue_id = (await http.get("/allegro/sale/issues", headers=headers)).json()["issues"][0]["id"]
    empty = await http.post(f"/allegro/sale/issues/{issue_id}/message", json={}, headers=headers)
    ok = await http.post(
        f"/allegro/sale/issues/{issue_id}/message", json={"text": "Dzień dobry"}, headers=headers
    )
    assert empty.status_code == 422
    assert ok.status_code == 201 and ok.json()["author"]["role"] == "SELLER"


# --- control API: faults, reset -------------------------------------------------------------


async def test_faults_apply_to_the_named_operations_in_order(http: httpx.AsyncClient) -> None:
    unknown = await http.post(
        "/_sandbox/allegro/lumina/faults", json={"kind": "rate_limit", "operations": ["M11"]}
    )
    assert unknown.status_code == 400
    await http.post(
        "/_sandbox/allegro/lumina/faults",
        json={"kind": "rate_limit", "retry_after": 7, "operations": ["listThreads"]},
    )
    await http.post(
        "/_sandbox/allegro/lumina/faults",
        json={"kind": "garbage", "operations": ["listThreads", "downloadAttachment"]},
    )
    headers = await bearer(http)

    limited = await http.get("/allegro/messaging/threads", headers=headers)
    garbage = await http.get("/allegro/messaging/threads", headers=headers)
    fine = await http.get("/allegro/messaging/threads", headers=headers)

    assert limited.status_code == 429 and limited.headers["retry-after"] == "7"
    assert limited.json()["errors"][0]["code"] == "TooManyRequests"
    assert garbage.status_code == 200
    with pytest.raises(ValueError):
        garbage.json()
    assert fine.status_code == 200
    assert (await http.get("/_sandbox/allegro/lumina/faults")).json() == {"faults": []}


async def test_reset_restores_the_seed(http: httpx.AsyncClient) -> None:
    await http.post("/_sandbox/allegro/lumina/messages", json={"text": "extra"})
    await http.post("/_sandbox/allegro/other/messages", json={"text": "elsewhere"})
    answer = await http.post("/_sandbox/allegro/reset", json={})
    accounts = {a["name"]: a for a in answer.json()["accounts"]}
    assert set(accounts) == {"lumina"}
    assert (accounts["lumina"]["threads"], accounts["lumina"]["issues"]) == (3, 2)
