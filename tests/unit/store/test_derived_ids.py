"""Ids derived from natural keys: deterministic, and no two keys share one."""

from __future__ import annotations

from bson import ObjectId

from parley_responder.adapters.mongo_deliveries import prepared_round_id
from parley_responder.adapters.mongo_usage import command_key
from parley_store.connections import connection_key_id
from parley_store.files import chunk_id


def test_connection_keys_escape_their_separator() -> None:
    assert connection_key_id("shop-1", "amazon-de") == "shop-1/amazon-de"
    pairs = [("a/b", "c"), ("a", "b/c"), ("a%2Fb", "c"), ("a", "b%2Fc"), ("", "a/b")]
    ids = [connection_key_id(store, marketplace) for store, marketplace in pairs]
    assert len(set(ids)) == len(pairs)
    assert all(i.count("/") == 1 for i in ids)


def test_chunk_ids_are_derived_from_the_file_and_the_chunk_number() -> None:
    file_id = ObjectId("0123456789abcdef01234567")
    assert chunk_id(file_id, 0) == chunk_id(ObjectId(str(file_id)), 0)
    ids = {chunk_id(file_id, n) for n in range(1000)} | {chunk_id(ObjectId(), 0)}
    assert len(ids) == 1001 and file_id not in ids


def test_outbox_ids_per_round_and_per_command() -> None:
    assert prepared_round_id("c:1", 0) != prepared_round_id("1:c", 0)
    assert prepared_round_id("c", 1) != prepared_round_id("c", 0)
    assert command_key("a.b") == command_key("a.b")
    assert "." not in command_key("a.b") and "$" not in command_key("$x")
