"""Contract: the responder's adapters send a reply's files natively, against the sandbox.

Mirakl M12 carries them as multipart ``files`` parts; Allegro's Message Center takes
them declared and uploaded first, then referenced by id; the sandbox records each file
it received (name, type, sha256 of the bytes), so what arrived is compared with what
was sent, byte for byte. Families without reply files refuse any rather than drop them.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from parley_connectors.allegro import AllegroClient, TokenStore, client_credentials
from parley_connectors.allegro.writing import AllegroReplies
from parley_connectors.errors import BadRequest
from parley_connectors.files import OutgoingFile
from parley_connectors.fnac.writing import FnacReplies
from parley_connectors.mirakl.writing import MiraklReplies
from parley_connectors.rakuten.writing import RakutenReplies
from parley_responder.ports import Destination
from parley_sandbox import create_app
from parley_schemas import ParticipantRole

CUSTOMER = [ParticipantRole.CUSTOMER]
PDF = OutgoingFile("facture.pdf", b"%PDF-1.4\n" + bytes(range(256)) * 16, "application/pdf")
PNG = OutgoingFile("photo.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 512, "image/png")


def digest(file: OutgoingFile) -> str:
    return hashlib.sha256(file.content).hexdigest()


@pytest.fixture
async def sandbox() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(seed=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sandbox"
    ) as client:
        yield client


async def created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_mirakl_m12_carries_the_files_as_sent(sandbox: httpx.AsyncClient) -> None:
    thread = await created(
        await sandbox.post(
            "/_sandbox/mirakl/carrefour/messages",
            json={"body": "La facture ?", "sender": "CUSTOMER", "order_id": "O-1"},
        )
    )
    destination = Destination(
        "mirakl", "http://sandbox/mirakl/carrefour", {"api_key": "sandbox-shop-key"}, {}
    )
    replies = MiraklReplies(http=sandbox)
    message_id = await replies.send(
        destination, thread["thread_id"], "Ci-jointe.", CUSTOMER, [PDF, PNG]
    )

    (got,) = (await sandbox.get("/_sandbox/mirakl/carrefour/replies")).json()["replies"]
    assert (got["message_id"], got["body"]) == (message_id, "Ci-jointe.")
    assert [(a["name"], a["content_type"], a["size"], a["sha256"]) for a in got["attachments"]] == [
        (f.name, f.content_type, len(f.content), digest(f)) for f in (PDF, PNG)
    ]


async def test_allegro_message_center_declares_uploads_then_sends(
    sandbox: httpx.AsyncClient,
) -> None:
    account = "zalaczniki"
    assert (await sandbox.put(f"/_sandbox/allegro/{account}", json={})).status_code == 200
    thread = await created(
        await sandbox.post(f"/_sandbox/allegro/{account}/messages", json={"text": "Faktura?"})
    )
    destination = Destination(
        "allegro",
        "http://sandbox/allegro",
        {
            "client_id": "sandbox-allegro-client",
            "client_secret": "sandbox-allegro-secret",
            "refresh_token": f"sandbox-refresh-token-{account}",
        },
        {},
    )

    def on_sandbox(d: Destination, tokens: TokenStore) -> AllegroClient:
        return AllegroClient(d.base_url, client_credentials(d.credentials), tokens, http=sandbox)

    replies = AllegroReplies(None, on_sandbox)
    await replies.send(destination, thread["thread_id"], "W załączniku.", CUSTOMER, [PDF])

    (got,) = (await sandbox.get(f"/_sandbox/allegro/{account}/replies")).json()["replies"]
    assert got["text"] == "W załączniku."
    assert [(a["name"], a["sha256"]) for a in got["attachments"]] == [(PDF.name, digest(PDF))]

    # Issues take files from another endpoint Parley does not use: refused, not dropped.
    issue = await created(
        await sandbox.post(f"/_sandbox/allegro/{account}/issues", json={"text": "Brak"})
    )
    with pytest.raises(BadRequest):
        await replies.send(destination, f"issue:{issue['issue_id']}", "x", CUSTOMER, [PDF])


@pytest.mark.parametrize(
    ("replies", "thread"), [(FnacReplies(), "order:1"), (RakutenReplies(), "item:1")]
)
async def test_text_only_families_refuse_files_before_calling_the_marketplace(
    replies: FnacReplies | RakutenReplies, thread: str
) -> None:
    destination = Destination("x", "http://127.0.0.1:9", {}, {})
    with pytest.raises(BadRequest, match="no attachments"):
        await replies.send(destination, thread, "x", CUSTOMER, [PDF])
