"""Property-based checks of the served OpenAPI contract (schemathesis).

Every operation of the gateway's OpenAPI document is called with generated inputs,
valid and invalid, through a real HTTP server on the real MongoDB-compatible server
and Kafka, with a valid API key of an account owning a seeded store. Each response
must not be a 5xx and must match the document: a documented status code, content
type, headers and body schema. Half of the generated discussion ids are swapped for
real ones, so the inputs also reach the code behind a found discussion.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, settings
from integration.gateway.documents import discussion_doc, inbound_doc
from integration.gateway.invoicer_process import running_invoicer
from pymongo.asynchronous.database import AsyncDatabase
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from parley_gateway.accounts import AccessService
from parley_gateway.app import create_app
from parley_gateway.config import GatewaySettings
from parley_store import DISCUSSIONS, MESSAGES, GridFsFileStore

pytestmark = pytest.mark.integration

STORE = f"fuzz-{uuid.uuid4().hex[:10]}"
THREADS = ("t-1", "t-2", "t-3")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

schema = schemathesis.openapi.from_dict(
    create_app(GatewaySettings()).openapi(),
    config=schemathesis.Config.from_dict(
        {
            "generation": {"max-examples": 25},
            "phases": {"stateful": {"enabled": False}},
        }
    ),
    # The live stream never ends by design; its own tests (test_live_events.py) hold it to
    # the SSE contract, resumption and store scoping.
).exclude(path="/events/stream")


@pytest.fixture(scope="module")
async def seeded(gateway_db: AsyncDatabase[Any], access: AccessService) -> dict[str, Any]:
    """A store with discussions, messages and one stored attachment, and a key for it."""
    docs = [discussion_doc(STORE, t, minutes=i) for i, t in enumerate(THREADS)]
    await gateway_db[DISCUSSIONS].insert_many(docs)
    file_id = await GridFsFileStore(gateway_db).save(
        f"{STORE}:photo", "photo.jpg", "image/jpeg", b"\xff\xd8\xff fake jpeg"
    )
    message = inbound_doc(docs[0]["_id"], "m1", 0, "Where is my parcel?")
    message["attachments"][0]["file_id"] = file_id
    await gateway_db[MESSAGES].insert_one(message)
    account, _ = await access.create_account("Fuzzed", [STORE])
    key = await access.issue_key(account.id, name="schemathesis")
    return {"key": key.secret, "ids": [d["_id"] for d in docs], "file_id": file_id}


@pytest.fixture(scope="module")
def invoicer_url(
    gateway_db: AsyncDatabase[Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A real invoicer for the invoice routes: their answers are held to the contract too."""
    with running_invoicer(gateway_db.name, tmp_path_factory.mktemp("invoicer")) as url:
        yield url


@pytest.fixture(scope="module")
def live_gateway(gateway_settings: GatewaySettings, invoicer_url: str) -> Iterator[str]:
    """The gateway served by uvicorn in a thread, with its own real lifespan."""
    settings = gateway_settings.model_copy(update={"gateway_invoicer_url": invoicer_url})
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=0, log_config=None)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "gateway did not start"
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@schema.parametrize()
@settings(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_the_api_keeps_its_contract(
    case: schemathesis.Case, live_gateway: str, seeded: dict[str, Any]
) -> None:
    path = case.path_parameters
    if path and "discussion_id" in path and len(str(path["discussion_id"])) % 2 == 0:
        path["discussion_id"] = seeded["ids"][len(str(path["discussion_id"])) % len(THREADS)]
        if "file_id" in path:
            path["file_id"] = seeded["file_id"]
    case.call_and_validate(
        base_url=live_gateway,
        headers={"Authorization": f"Bearer {seeded['key']}"},
        checks=CHECKS,
        timeout=30,
    )
