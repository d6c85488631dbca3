"""Mirakl's own word on whether the shop must reply, carried into the snapshot.

The thread payloads follow the M11 "List threads" response of the Mirakl seller API
(developer.mirakl.com, Messages > M11, response schema: ``metadata`` with
``last_message_date``, ``last_sender``, ``shop_reply_needed_since`` and
``total_count``), written by hand from that schema, not from Parley's sandbox.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from parley_connectors.mirakl import MiraklThread
from parley_connectors.mirakl.reading import MiraklConnector


def thread(metadata: dict[str, Any] | None) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "id": "8f4b2c1e-6d0a-4c83-9a57-1b2e3f4a5b6c",
        "topic": {"type": "FREE_TEXT", "value": "Where is my parcel?"},
        "entities": [{"id": "ORDER-1042-A", "type": "MMP_ORDER", "label": "ORDER-1042-A"}],
        "authorized_participants": [
            {"type": "CUSTOMER", "id": "cust-77", "display_name": "Jeanne D."},
            {"type": "SHOP", "id": "2001", "display_name": "Maison Lumière"},
        ],
        "current_participants": [{"type": "CUSTOMER", "id": "cust-77"}],
        "date_created": "2026-04-03T09:12:00Z",
        "date_updated": "2026-04-03T09:12:00Z",
        "messages": [
            {
                "id": "msg-1",
                "body": "Bonjour, où en est ma commande ?",
                "date_created": "2026-04-03T09:12:00Z",
                "from": {"type": "CUSTOMER", "display_name": "Jeanne D."},
                "to": [{"type": "SHOP", "display_name": "Maison Lumière"}],
                "attachments": [],
            }
        ],
    }
    if metadata is not None:
        payload["metadata"] = metadata
    return payload


def test_shop_reply_needed_since_is_the_marketplaces_signal(connector: MiraklConnector) -> None:
    snapshot = connector.snapshot(
        MiraklThread.parse(
            thread(
                {
                    "last_message_date": "2026-04-03T09:12:00Z",
                    "last_sender": {"type": "CUSTOMER", "display_name": "Jeanne D."},
                    "shop_reply_needed_since": "2026-04-03T09:12:00Z",
                    "total_count": 1,
                }
            )
        )
    )
    assert snapshot.reply_signal is True
    assert snapshot.reply_expected_since == datetime(2026, 4, 3, 9, 12, tzinfo=UTC)


def test_metadata_without_the_date_says_no_reply_is_needed(connector: MiraklConnector) -> None:
    snapshot = connector.snapshot(MiraklThread.parse(thread({"total_count": 1})))
    assert (snapshot.reply_signal, snapshot.reply_expected_since) == (True, None)


def test_without_metadata_parley_derives_it_from_the_messages(connector: MiraklConnector) -> None:
    snapshot = connector.snapshot(MiraklThread.parse(thread(None)))
    assert (snapshot.reply_signal, snapshot.reply_expected_since) == (False, None)
