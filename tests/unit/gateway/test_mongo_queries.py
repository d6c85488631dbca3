"""The MongoDB filter the list builds: literal search text, scope always applied, and an
index of parley_store behind every filtered field that serves the list order too."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from parley_gateway.adapters.mongo_discussions import (
    LIST_ORDER,
    LIST_PROJECTION,
    list_query,
)
from parley_gateway.api.models import DiscussionSummary
from parley_gateway.domain import DiscussionFilters, Position, Scope
from parley_gateway.graphql.types import Discussion
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
    reply_due_before=datetime(2026, 6, 2, tzinfo=UTC),
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
        "reply_due_at",
    }
    keys = [list(ix.document["key"]) for ix in _INDEXES[DISCUSSIONS]]
    behind_store = {k[1] for k in keys if k[0] == "store_id" and len(k) > 1}
    assert filtered <= behind_store, f"not indexed: {filtered - behind_store}"


@pytest.mark.parametrize("text", ["a.b", "(x)", "[0-9]+", "a|b", "^start$", "back\\slash", "?*{2}"])
def test_search_text_is_matched_literally(text: str) -> None:
    query = list_query(Scope.of(["s1"]), DiscussionFilters(subject=text), None)
    assert query is not None
    subject = query["subject"]
    assert subject["$options"] == "i"
    pattern = re.compile(subject["$regex"], re.IGNORECASE)
    assert pattern.search(f"prefix {text.upper()} suffix")
    assert pattern.fullmatch(text)


def test_requested_stores_never_widen_the_scope() -> None:
    asked = DiscussionFilters(store_ids=frozenset({"s1", "theirs"}))
    query = list_query(Scope.of(["s1", "s2"]), asked, None)
    assert query == {"store_id": "s1"}
    assert list_query(Scope.of(["s1"]), DiscussionFilters(store_ids=frozenset({"x"})), None) is None


# One filter at a time (what the inbox offers), a few together, cursors and several stores.
T0 = datetime(2026, 6, 1, tzinfo=UTC)
T1 = datetime(2026, 7, 1, tzinfo=UTC)
LISTS: dict[str, tuple[Scope, DiscussionFilters, Position | None]] = {
    "none": (Scope.of(["s1"]), DiscussionFilters(), None),
    "marketplace": (Scope.of(["s1"]), DiscussionFilters(marketplaces=frozenset({"m"})), None),
    "status": (
        Scope.of(["s1"]),
        DiscussionFilters(statuses=frozenset({DiscussionStatus.NEW})),
        None,
    ),
    "read": (Scope.of(["s1"]), DiscussionFilters(read=False), None),
    "type": (Scope.of(["s1"]), DiscussionFilters(types=frozenset({DiscussionType.ORDER})), None),
    "order_id": (Scope.of(["s1"]), DiscussionFilters(order_ids=frozenset({"O-1"})), None),
    "participant": (Scope.of(["s1"]), DiscussionFilters(participant="ana"), None),
    "subject": (Scope.of(["s1"]), DiscussionFilters(subject="colis"), None),
    "since-until": (Scope.of(["s1"]), DiscussionFilters(since=T0, until=T1), None),
    "reply-due": (Scope.of(["s1"]), DiscussionFilters(reply_due_before=T1), None),
    "cursor": (Scope.of(["s1"]), DiscussionFilters(), Position(T0, "d9")),
    "cursor-undated": (Scope.of(["s1"]), DiscussionFilters(), Position(None, "d9")),
    "status-cursor": (
        Scope.of(["s1"]),
        DiscussionFilters(statuses=frozenset({DiscussionStatus.NEW}), since=T0),
        Position(None, "d9"),
    ),
    "several-statuses": (
        Scope.of(["s1"]),
        DiscussionFilters(statuses=frozenset({DiscussionStatus.NEW, DiscussionStatus.OPEN})),
        None,
    ),
    "several-stores": (Scope.of(["s1", "s2"]), DiscussionFilters(read=True), None),
    "every-filter": (Scope.of(["s1"]), EVERY_FILTER, Position(T0, "d9")),
}


def _is_equality(value: Any) -> bool:
    """A plain value, or ``$in`` of several (MongoDB reads each in index order and merges)."""
    if isinstance(value, dict):
        return set(value) == {"$in"}
    return True


def _serving_index(query: dict[str, Any]) -> list[tuple[str, int]] | None:
    """The declared index with the longest equality prefix that also gives the list order:
    its keys are equality fields of the query, then exactly the list's sort keys."""
    equal = {k for k, v in query.items() if not k.startswith("$") and _is_equality(v)}
    best: list[tuple[str, int]] | None = None
    for ix in _INDEXES[DISCUSSIONS]:
        keys = list(ix.document["key"].items())
        prefix, order = keys[: -len(LIST_ORDER)], keys[-len(LIST_ORDER) :]
        if order != LIST_ORDER or not prefix or prefix[0] != ("store_id", 1):
            continue
        if all(field in equal for field, _ in prefix) and (best is None or len(keys) > len(best)):
            best = keys
    return best


@pytest.mark.parametrize("name", sorted(LISTS))
def test_every_list_query_is_read_from_an_index_in_list_order(name: str) -> None:
    scope, filters, after = LISTS[name]
    query = list_query(scope, filters, after)
    assert query is not None
    index = _serving_index(query)
    assert index is not None, f"no index serves {query} sorted by {LIST_ORDER}"
    # The filtered equality field, when the index set has one for it, is in the index.
    sort_keys = {field for field, _ in LIST_ORDER}
    equal = [k for k, v in query.items() if k != "store_id" and not k.startswith("$")]
    equal = [k for k in equal if _is_equality(query[k]) and k not in sort_keys]
    if len(equal) == 1:
        assert [field for field, _ in index[1:-2]] == equal


@pytest.mark.parametrize("name", sorted(LISTS))
def test_single_values_are_equalities_at_the_top(name: str) -> None:
    """FerretDB's PostgreSQL backend pushes only top-level scalar equality down to SQL;
    MongoDB seeks an equality as it seeks ``$in``, so one value is never ``$in``."""
    scope, filters, after = LISTS[name]
    query = list_query(scope, filters, after)
    assert query is not None
    assert query["store_id"] == "s1" or name == "several-stores"

    def ins(node: Any) -> Iterator[list[Any]]:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "$in":
                    yield value
                else:
                    yield from ins(value)
        elif isinstance(node, list):
            for item in node:
                yield from ins(item)

    assert all(len(values) > 1 for values in ins(query))


def test_the_list_projection_reads_every_field_a_row_shows() -> None:
    shown = set(DiscussionSummary.model_fields) | {
        f.name
        for f in Discussion.__strawberry_definition__.fields  # type: ignore[attr-defined]
    }
    assert shown - {"id"} <= set(LIST_PROJECTION)
    assert {"last_message_at"} <= set(LIST_PROJECTION)  # the cursor's position
