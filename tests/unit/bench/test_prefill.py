"""The benchmark's pre-fill: clones of the normalizer's own documents keep their shape
and the references between them, with ids and natural keys of their own."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from bench.p1_normalizer import MARKER, clone  # noqa: E402
from bench.p3_list import MARKETPLACES, spread  # noqa: E402

AT = datetime(2026, 1, 1, tzinfo=UTC)
DISCUSSION = {
    "_id": "d" * 32,
    "key": f"bench-store:carrefour:{MARKER}-t1",
    "thread_id": f"{MARKER}-t1",
    "store_id": "bench-store",
    "customer_id": "c" * 32,
    "participants": [{"role": "customer", "marketplace_id": f"{MARKER}-c1"}],
    "created_at": AT,
    "message_count": 2,
}
MESSAGE = {"_id": "m" * 32, "discussion_id": "d" * 32, "marketplace_message_id": f"{MARKER}-t1-m0"}


def test_a_clone_gets_new_ids_and_keys_and_keeps_its_references() -> None:
    ids = {"d" * 32: "D" * 32, "m" * 32: "M" * 32, "c" * 32: "C" * 32}
    d, m = clone(DISCUSSION, ids, 3), clone(MESSAGE, ids, 3)
    assert d["_id"] == "D" * 32 and d["customer_id"] == "C" * 32
    assert m["_id"] == "M" * 32 and m["discussion_id"] == d["_id"]
    assert d["key"] == f"bench-store:carrefour:{MARKER}g3x-t1"
    assert d["thread_id"] == f"{MARKER}g3x-t1"
    assert d["participants"][0]["marketplace_id"] == f"{MARKER}g3x-c1"
    assert m["marketplace_message_id"] == f"{MARKER}g3x-t1-m0"
    # What is not an id or a marked key is kept as it is: the store, dates, counts.
    assert d["store_id"] == "bench-store" and d["created_at"] == AT and d["message_count"] == 2
    assert DISCUSSION["_id"] == "d" * 32  # the template is left alone


def test_clones_of_different_generations_differ() -> None:
    ids = {"d" * 32: "x"}
    assert clone(DISCUSSION, ids, 1)["key"] != clone(DISCUSSION, ids, 2)["key"]


def test_list_data_spreads_the_filtered_fields_over_unique_discussions() -> None:
    docs = [spread(DISCUSSION, i) for i in range(200)]
    assert len({d["_id"] for d in docs}) == 200
    assert len({d["key"] for d in docs}) == 200
    assert {d["marketplace"] for d in docs} == set(MARKETPLACES)
    assert {d["store_id"] for d in docs} == {"bench-store"}
    assert 0 < sum(d["read"] for d in docs) < 200
    assert all(d["participants"][0]["name"] for d in docs)
