"""``parley connections add --family mirakl`` end to end against the REAL MongoDB-compatible server.

The CLI runs as an operator runs it (its ``main`` with argv and env); the stored
connection is read back to show the catalogue's base URL was kept and the key was not.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from pymongo import MongoClient

from parley_cli.main import main
from parley_connectors.mirakl.catalogue import instance
from parley_platform.crypto import CredentialCipher

pytestmark = pytest.mark.integration

SECRET = "mirakl-key-for-the-cli-test"


def test_base_url_defaults_from_the_catalogue_and_is_stored(
    mongo_uri: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    database = f"parley_test_{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("MONGODB_URI", mongo_uri)
    monkeypatch.setenv("MONGODB_DATABASE", database)
    monkeypatch.setenv("CREDENTIALS_KEY", CredentialCipher.generate_key())
    monkeypatch.setenv("TEST_MIRAKL_KEY", SECRET)
    argv = [
        "connections",
        "add",
        "--id",
        "c-mediamarkt",
        "--store",
        "s1",
        "--family",
        "mirakl",
        "--marketplace",
        "mediamarkt",
        "--api-key-env",
        "TEST_MIRAKL_KEY",
    ]
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_uri)
    try:
        main(argv)

        stored = client[database]["connections"].find_one({"_id": "c-mediamarkt"})
    finally:
        client.drop_database(database)
        client.close()

    assert stored is not None
    assert stored["base_url"] == instance("mediamarkt").base_url
    assert (stored["family"], stored["marketplace"]) == ("mirakl", "mediamarkt")
    assert SECRET not in str(stored["credentials"])
    assert "connection c-mediamarkt active" in capsys.readouterr().err
