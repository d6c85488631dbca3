"""Shared fixtures of the ingest unit tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from parley_connectors.mirakl import MiraklClient
from parley_connectors.mirakl.reading import MiraklConnector
from parley_ingest.domain.connections import Connection

ACTIVATED = datetime(2026, 4, 1, tzinfo=UTC)


@pytest.fixture
async def connector() -> AsyncIterator[MiraklConnector]:
    """A Mirakl connector for mapping tests: its client is never called."""
    connection = Connection(
        id="c1",
        store_id="s1",
        family="mirakl",
        marketplace="carrefour",
        base_url="https://carrefour-prod.mirakl.net",
        credentials={"api_key": "k"},
        activated_at=ACTIVATED,
        cursor=ACTIVATED,
    )
    client = MiraklClient(connection.base_url, "k")
    yield MiraklConnector(connection, client)
    await client.aclose()
