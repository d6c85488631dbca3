"""The MongoDB filter the list builds: literal search text, scope always applied, and an
index of parley_store behind every filtered field."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from parley_gateway.adapters.mongo_discussions import list_query
from parley_gateway.domain import DiscussionFilters, Scope
from parley_store import DISCUSSIONS, DiscussionStatus, DiscussionType
from parley_store.collections import _INDEXES

EVERY_FILTER = DiscussionFilters(
    marketplaces=frozenset({"carrefour"}),
    statuses=frozenset({DiscussionStatus.NEW}),
    store_ids=frozenset({"s1"}),
    read=False,
    types=frozenset({DiscussionType.ORDER}),
    order_ids=frozenset({"O-1"}),
    participant="ana",
    subject="colis",
    since=datetime(2026, 6, 1, tzinfo=UTC),
    until=datetime(2026, 7, 1, tzinfo=UTC),
)


def fields_of(query: Any) -> Iterator[str]:
    if isinstance(query, dict):
        for key, value in query.items():
            if not key.startswith("$"):
                yield key
            yield from fields_of(value)
    elif isinstance(query, list):
        for item in query:
            yield from fields_of(item)


def test_every_filtered_field_is_indexed_after_the_store() -> None:
    query = list_query(Scope.of(["s1"]), EVERY_FILTER, None)
    filtered = set(fields_of(query)) - {"store_id"}
    assert filtered == {
        "marketplace",
        "status",
        "read",
        "type",
        "order_id",
        "participants.name",
        "participants.email",
        "subject",
        "last_message_at",
    }
    keys = [list(ix.document["key"]) for ix in _INDEXES[DISCUSSIONS]]
    behind_store = {k[1] for k in keys if k[0] == "store_id" and len(k) > 1}
    assert filtered <= behind_store, f"not indexed: {filtered - behind_store}"


@pytest.mark.parametrize("text", ["a.b", "(x)", "[0-9]+", "a|b", "^start$", "back\\slash", "?*{2}"])
def test_search_text_is_matched_literally(text: str) -> None:
    query = list_query(Scope.of(["s1"]), DiscussionFilters(subject=text), None)
    assert query is not None
    (subject,) = [c["subject"] for c in query["$and"] if "subject" in c]
    assert subject["$options"] == "i"
    pattern = re.compile(subject["$regex"], re.IGNORECASE)
    assert pattern.search(f"prefix {text.upper()} suffix")
    assert pattern.fullmatch(text)


def test_requested_stores_never_widen_the_scope() -> None:
    asked = DiscussionFilters(store_ids=frozenset({"s1", "theirs"}))
    query = list_query(Scope.of(["s1", "s2"]), asked, None)
    assert query == {"store_id": {"$in": ["s1"]}}
    assert list_query(Scope.of(["s1"]), DiscussionFilters(store_ids=frozenset({"x"})), None) is None
