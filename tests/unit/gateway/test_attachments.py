"""Attachment downloads (F11) on in-memory fakes: a file is served only through a
discussion the caller may see, and only when one of its messages carries it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from unit.gateway.fakes import (
    PEPPER,
    InMemoryAccounts,
    InMemoryDiscussions,
    InMemoryFiles,
    RecordingPublisher,
    discussion,
    fake_bootstrap,
    message,
)

from parley_gateway.accounts import AccessService
from parley_gateway.api.content import content_disposition
from parley_gateway.app import create_app
from parley_gateway.config import GatewaySettings
from parley_gateway.service import DiscussionService
from parley_schemas import AttachmentRef

PROBLEM = "application/problem+json"
MINE = discussion("t0")
OTHER_OF_MINE = discussion("t1")
THEIRS = discussion("x0", store_id="store-2")


@dataclass
class Api:
    client: httpx.AsyncClient
    repo: InMemoryDiscussions


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    repo = InMemoryDiscussions(MINE, OTHER_OF_MINE, THEIRS)
    photo = AttachmentRef(name="Reçu n°1.jpg", size=10, content_type="image/jpeg", file_id="f1")
    repo.add_messages(
        message(MINE, "m1", 0).model_copy(
            update={"attachments": [photo, AttachmentRef(name="pending.pdf")]}
        ),
        message(THEIRS, "m2", 0).model_copy(
            update={"attachments": [photo.model_copy(update={"file_id": "f2"})]}
        ),
    )
    files = InMemoryFiles()
    files.add("f1", "stored-name.bin", "application/octet-stream", b"0123456789")
    files.add("f2", "theirs.jpg", "image/jpeg", b"theirs")
    files.add("f3", "orphan.txt", "text/plain", b"no message carries me")
    access = AccessService(InMemoryAccounts(), PEPPER)
    account, _ = await access.create_account("Shop", ["store-1"])
    key = await access.issue_key(account.id)
    service = DiscussionService(repo, RecordingPublisher(), files=files)
    app = create_app(GatewaySettings(), bootstrap=fake_bootstrap(service, access))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
            base_url="http://gateway",
            headers={"Authorization": f"Bearer {key.secret}"},
        ) as client,
    ):
        yield Api(client, repo)


async def test_detail_links_each_stored_attachment(api: Api) -> None:
    response = await api.client.get(f"/discussions/{MINE.id}")
    assert response.status_code == 200, response.text
    [msg] = response.json()["messages"]
    assert [(a["name"], a["download_url"]) for a in msg["attachments"]] == [
        ("Reçu n°1.jpg", f"/discussions/{MINE.id}/attachments/f1"),
        ("pending.pdf", None),
    ]


async def test_download_streams_the_file_with_the_messages_name_and_type(api: Api) -> None:
    response = await api.client.get(f"/discussions/{MINE.id}/attachments/f1")
    assert response.status_code == 200, response.text
    assert response.content == b"0123456789"
    assert response.headers["content-type"] == "image/jpeg"
    assert response.headers["content-length"] == "10"
    assert response.headers["content-disposition"] == (
        "attachment; filename=\"Re?u n?1.jpg\"; filename*=UTF-8''Re%C3%A7u%20n%C2%B01.jpg"
    )
    assert response.headers["x-content-type-options"] == "nosniff"
    # Downloading is not reading: the discussion stays unread.
    assert api.repo.discussions[MINE.id].read is False


@pytest.mark.parametrize(
    ("discussion_id", "file_id"),
    [
        (THEIRS.id, "f2"),  # another account's discussion and file
        (MINE.id, "f2"),  # another account's file through my discussion
        (OTHER_OF_MINE.id, "f1"),  # my file, but not of this discussion
        (MINE.id, "f3"),  # a stored file no message carries
        (MINE.id, "missing"),  # not stored at all
        ("nope", "f1"),
    ],
)
async def test_anything_else_is_not_found(api: Api, discussion_id: str, file_id: str) -> None:
    response = await api.client.get(f"/discussions/{discussion_id}/attachments/{file_id}")
    assert response.status_code == 404, response.text
    assert response.headers["content-type"] == PROBLEM
    assert b"theirs" not in response.content


async def test_without_a_key_nothing_is_served(api: Api) -> None:
    response = await api.client.get(
        f"/discussions/{MINE.id}/attachments/f1", headers={"Authorization": ""}
    )
    assert response.status_code == 401


def test_content_disposition_cannot_be_broken_by_a_buyers_file_name() -> None:
    header = content_disposition('evil".txt\r\nSet-Cookie: x=1')
    assert "\r" not in header and "\n" not in header
    assert header.startswith('attachment; filename="evil\'.txt  Set-Cookie: x=1"; ')
    assert content_disposition("") == "attachment; filename=\"attachment\"; filename*=UTF-8''"
