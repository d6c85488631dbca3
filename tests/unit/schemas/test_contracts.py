"""The contracts: envelopes round-trip, keys are stable, JSON Schemas match the models
and a breaking change is caught before it reaches a consumer."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from parley_schemas import (
    CONVERSATION_COMMANDS,
    MARKETPLACE_RAW,
    REPLY_REQUESTED,
    DiscussionKey,
    Envelope,
    ReplyCommand,
    UndecodableRecord,
    decode,
)
from parley_schemas.compat import breaking_changes
from parley_schemas.jsonschema import BreakingChange, all_schemas, render, write_all

SCHEMA_DIR = Path(__file__).resolve().parents[3] / "libs" / "schemas" / "jsonschema"


def _reply() -> Envelope[ReplyCommand]:
    return Envelope[ReplyCommand](
        source="/test",
        type=REPLY_REQUESTED.name,
        subject="s1:carrefour:t-1",
        data=ReplyCommand(
            command_id="cmd-12345678",
            discussion_id="d1",
            store_id="s1",
            marketplace="carrefour",
            thread_id="t-1",
            body="Bonjour",
            recipients=["customer"],
            requested_by="api",
            requested_at=datetime(2026, 1, 2, tzinfo=UTC),
        ),
    )


def test_envelope_round_trips_through_the_codec() -> None:
    envelope = _reply()
    decoded = decode(envelope.to_json_bytes(), CONVERSATION_COMMANDS)
    assert decoded.id == envelope.id
    assert decoded.data == envelope.data
    assert decoded.specversion == "1.0"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, "tombstone"),
        (b"not json", "not a CloudEvents envelope"),
        (b'{"specversion":"1.0"}', "not a CloudEvents envelope"),
    ],
)
def test_undecodable_records_say_why(value: bytes | None, reason: str) -> None:
    with pytest.raises(UndecodableRecord, match=reason):
        decode(value)


def test_a_record_on_the_wrong_topic_is_refused() -> None:
    with pytest.raises(UndecodableRecord, match=r"does not belong on marketplace\.raw\.v1"):
        decode(_reply().to_json_bytes(), MARKETPLACE_RAW)


def test_an_invalid_payload_names_the_field() -> None:
    raw = json.loads(_reply().to_json_bytes())
    raw["data"]["recipients"] = []
    with pytest.raises(UndecodableRecord, match="recipients"):
        decode(json.dumps(raw).encode(), CONVERSATION_COMMANDS)


def test_discussion_key_parses_thread_ids_with_colons_and_is_stable() -> None:
    key = DiscussionKey.parse("store-1:allegro:abc:def")
    assert key.thread_id == "abc:def"
    assert str(key) == "store-1:allegro:abc:def"
    assert key.discussion_id == DiscussionKey.parse(str(key)).discussion_id
    assert key.discussion_id != DiscussionKey.parse("store-2:allegro:abc:def").discussion_id
    with pytest.raises(ValueError):
        DiscussionKey.parse("no-colons")


def test_committed_json_schemas_match_the_models() -> None:
    generated = all_schemas()
    committed = {p.stem: p.read_text() for p in SCHEMA_DIR.glob("*.json")}
    assert set(committed) == set(generated), "run `make schemas`"
    for name, schema in generated.items():
        assert committed[name] == render(schema), f"{name} drifted: run `make schemas`"


def test_committed_schemas_are_compatible_with_the_models() -> None:
    for name, schema in all_schemas().items():
        old = json.loads((SCHEMA_DIR / f"{name}.json").read_text())
        assert breaking_changes(old, schema) == [], name


@pytest.fixture
def reply_schema() -> dict[str, object]:
    return all_schemas()[REPLY_REQUESTED.name]


def test_removing_a_field_is_breaking(reply_schema: dict[str, object]) -> None:
    new = copy.deepcopy(reply_schema)
    del new["$defs"]["ReplyCommand"]["properties"]["body"]  # type: ignore[index]
    assert any("body: removed" in p for p in breaking_changes(reply_schema, new))


def test_changing_a_type_is_breaking(reply_schema: dict[str, object]) -> None:
    new = copy.deepcopy(reply_schema)
    new["$defs"]["ReplyCommand"]["properties"]["body"] = {"type": "integer"}  # type: ignore[index]
    assert any("type changed" in p for p in breaking_changes(reply_schema, new))


def test_a_new_required_field_is_breaking(reply_schema: dict[str, object]) -> None:
    new = copy.deepcopy(reply_schema)
    command = new["$defs"]["ReplyCommand"]  # type: ignore[index]
    command["properties"]["priority"] = {"type": "integer"}
    command["required"] = [*command["required"], "priority"]
    assert breaking_changes(reply_schema, new) == ["$.data.priority: became required"]


def test_a_new_optional_field_is_compatible(reply_schema: dict[str, object]) -> None:
    new = copy.deepcopy(reply_schema)
    new["$defs"]["ReplyCommand"]["properties"]["priority"] = {"type": "integer"}  # type: ignore[index]
    assert breaking_changes(reply_schema, new) == []


def test_an_enum_change_is_breaking(reply_schema: dict[str, object]) -> None:
    new = copy.deepcopy(reply_schema)
    new["$defs"]["ReplyAction"]["enum"].append("reply_and_close")  # type: ignore[index]
    assert any("enum changed" in p for p in breaking_changes(reply_schema, new))


def test_make_schemas_refuses_to_overwrite_a_breaking_change(tmp_path: Path) -> None:
    write_all(tmp_path)
    target = tmp_path / f"{REPLY_REQUESTED.name}.json"
    old = json.loads(target.read_text())
    old["$defs"]["ReplyCommand"]["properties"]["legacy"] = {"type": "string"}
    target.write_text(json.dumps(old))
    with pytest.raises(BreakingChange, match="legacy: removed"):
        write_all(tmp_path)


def test_the_committed_asyncapi_document_is_current_and_names_every_topic() -> None:
    from parley_schemas import ALL_TOPICS, RECORD_TYPES
    from parley_schemas.asyncapi import render

    committed = (SCHEMA_DIR.parent / "asyncapi.json").read_text()
    assert committed == render(), "run `make schemas`"
    doc = json.loads(committed)
    assert {c["address"] for c in doc["channels"].values()} == {t.name for t in ALL_TOPICS}
    refs = {m["payload"]["$ref"] for m in doc["components"]["messages"].values()}
    assert refs == {f"jsonschema/{name}.json" for name in RECORD_TYPES}
    for ref in refs:
        assert (SCHEMA_DIR.parent / ref).exists()
