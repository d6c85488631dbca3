"""The committed API contracts are what the gateway serves.

Clients generate code from services/gateway/openapi.json and schema.graphql, so a
route or type changed without regenerating them must fail the build, not a client.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from parley_gateway.contracts import GRAPHQL_FILE, OPENAPI_FILE, main, render

GATEWAY = Path(__file__).resolve().parents[3] / "services" / "gateway"


@pytest.mark.parametrize("name", [OPENAPI_FILE, GRAPHQL_FILE])
def test_committed_contract_matches_what_the_app_serves(name: str) -> None:
    committed = GATEWAY / name
    assert committed.exists(), f"{name} is missing: run `make schemas`"
    assert committed.read_text(encoding="utf-8") == render()[name], (
        f"services/gateway/{name} differs from what the gateway serves: run `make schemas`"
    )


def test_contracts_hold_both_apis() -> None:
    rendered = render()
    openapi = json.loads(rendered[OPENAPI_FILE])
    assert "/discussions/{discussion_id}/attachments/{file_id}" in openapi["paths"]
    # GraphQL has its own contract; it is not an opaque REST operation.
    assert "/graphql" not in openapi["paths"]
    assert "assignMerchantDiscussionId(" in rendered[GRAPHQL_FILE]


def test_the_module_writes_both_files(tmp_path: Path) -> None:
    assert main([str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([OPENAPI_FILE, GRAPHQL_FILE])
    assert main([str(tmp_path / "missing")]) == 2
