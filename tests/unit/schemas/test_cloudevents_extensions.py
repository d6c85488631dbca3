"""The envelope against the official CloudEvents SDK (``cloudevents`` 2.2, Kafka binding).

Records the SDK writes — with extension attributes such as the binding's own
``partitionkey`` and a consumer's ``tenant`` — validate with Parley's parser *and* the
published JSON Schema, keep their extensions through parse → serialise, and records
Parley writes parse with the SDK. Structured content mode is what Parley carries; a
binary-mode record is refused with a reason that says so. Invalid extension names and
values are refused by name.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.v1.event import CloudEvent
from jsonschema import Draft202012Validator
from pydantic import ValidationError

from parley_platform.kafka import record_headers
from parley_schemas import (
    CONVERSATION_COMMANDS,
    REPLY_REQUESTED,
    Envelope,
    ReplyCommand,
    UndecodableRecord,
    decode,
)
from parley_schemas.compat import breaking_changes
from parley_schemas.jsonschema import all_schemas

SCHEMA_DIR = Path(__file__).resolve().parents[3] / "libs" / "schemas" / "jsonschema"
SUBJECT = "s1:carrefour:t-1"
EXTENSIONS: dict[str, Any] = {"tenant": "acme", "retries": 3, "replayed": False}


def _command() -> ReplyCommand:
    return ReplyCommand(
        command_id="cmd-12345678",
        discussion_id="d1",
        store_id="s1",
        marketplace="carrefour",
        thread_id="t-1",
        body="Bonjour",
        recipients=["customer"],
        requested_by="api",
        requested_at=datetime(2026, 1, 2, tzinfo=UTC),
    )


def _sdk_event(**attributes: Any) -> CloudEvent:
    base: dict[str, Any] = {
        "type": REPLY_REQUESTED.name,
        "source": "/sdk-producer",
        "subject": SUBJECT,
        "partitionkey": SUBJECT,
        **EXTENSIONS,
    }
    return CloudEvent(base | attributes, _command().model_dump(mode="json"))


def _validator() -> Draft202012Validator:
    """The committed, published schema (not the models): what consumers code against."""
    path = SCHEMA_DIR / f"{REPLY_REQUESTED.name}.json"
    return Draft202012Validator(json.loads(path.read_text()))


def _schema_errors(value: bytes) -> list[str]:
    return [e.message for e in _validator().iter_errors(json.loads(value))]


def test_an_sdk_structured_record_with_extensions_validates_and_keeps_them() -> None:
    message = ce_kafka.to_structured_event(_sdk_event())
    assert message.key == SUBJECT  # the binding keys the record by its partitionkey
    assert message.headers["content-type"] == b"application/cloudevents+json"

    envelope = decode(message.value, CONVERSATION_COMMANDS, headers=message.headers)

    assert envelope.data == _command()
    assert envelope.subject == SUBJECT
    assert envelope.extensions == {"partitionkey": SUBJECT, **EXTENSIONS}
    assert _schema_errors(message.value) == []


def test_parse_then_serialise_keeps_every_extension() -> None:
    message = ce_kafka.to_structured_event(_sdk_event())
    original = json.loads(message.value)

    written = decode(message.value, CONVERSATION_COMMANDS).to_json_bytes()

    again = json.loads(written)
    for name in ("partitionkey", *EXTENSIONS):
        assert again[name] == original[name]
    assert decode(written, CONVERSATION_COMMANDS).extensions == {
        "partitionkey": SUBJECT,
        **EXTENSIONS,
    }
    assert _schema_errors(written) == []


def test_a_parley_record_parses_with_the_sdk_and_comes_back_through_it() -> None:
    envelope = Envelope[ReplyCommand](
        source="/parley/gateway",
        type=REPLY_REQUESTED.name,
        subject=SUBJECT,
        data=_command(),
        tenant="acme",
    )
    message = ce_kafka.KafkaMessage(
        headers=dict(record_headers()), key=SUBJECT.encode(), value=envelope.to_json_bytes()
    )

    event = ce_kafka.from_kafka_event(message)

    assert isinstance(event, CloudEvent)
    assert event.get_id() == envelope.id
    assert event.get_type() == REPLY_REQUESTED.name
    assert event.get_source() == "/parley/gateway"
    assert event.get_subject() == SUBJECT
    assert event.get_time() == envelope.time
    assert event.get_extension("tenant") == "acme"
    # The binding adds the Kafka key as ``partitionkey``: what broke the old envelope.
    assert event.get_extension("partitionkey") == SUBJECT
    assert event.get_data() == json.loads(envelope.to_json_bytes())["data"]

    republished = ce_kafka.to_structured_event(event)
    back = decode(republished.value, CONVERSATION_COMMANDS, headers=republished.headers)
    assert back.id == envelope.id
    assert back.data == envelope.data
    assert back.extensions == {"tenant": "acme", "partitionkey": SUBJECT}
    assert _schema_errors(republished.value) == []


def test_every_committed_schema_accepts_extensions_and_requires_the_spec_attributes() -> None:
    for path in SCHEMA_DIR.glob("*.json"):
        schema = json.loads(path.read_text())
        assert {"id", "source", "specversion", "type", "time"} <= set(schema["required"]), path
        assert schema["additionalProperties"] is not False, path
        assert schema["propertyNames"] == {"pattern": "^[a-z0-9]+$"}, path


def test_a_binary_mode_record_is_refused_by_name() -> None:
    message = ce_kafka.to_binary_event(_sdk_event())
    assert message.headers["ce_tenant"] == b"acme"

    with pytest.raises(UndecodableRecord, match="binary content mode"):
        decode(message.value, CONVERSATION_COMMANDS, headers=message.headers)
    # Without the headers (a consumer that does not pass them), the bare payload says it.
    with pytest.raises(UndecodableRecord, match=r"no specversion.*binary content mode"):
        decode(message.value, CONVERSATION_COMMANDS)


@pytest.mark.parametrize(
    "name", ["Tenant", "tenant-id", "tenant_id", "tenant.id", "ténant", "data_base64"]
)
def test_an_invalid_extension_name_is_refused_by_parser_and_schema(name: str) -> None:
    value = json.loads(ce_kafka.to_structured_event(_sdk_event()).value)
    value[name] = "x"
    raw = json.dumps(value).encode()

    with pytest.raises(UndecodableRecord, match=f"{name!r}"):
        decode(raw, CONVERSATION_COMMANDS)
    assert _schema_errors(raw) != []


@pytest.mark.parametrize(
    "bad",
    [1.5, {"nested": 1}, ["a"], 2**31, -(2**31) - 1],
    ids=["float", "obj", "list", "big", "small"],
)
def test_an_extension_value_outside_the_type_system_is_refused(bad: object) -> None:
    value = json.loads(ce_kafka.to_structured_event(_sdk_event()).value)
    value["tenant"] = bad
    raw = json.dumps(value).encode()

    with pytest.raises(UndecodableRecord, match="tenant"):
        decode(raw, CONVERSATION_COMMANDS)
    assert _schema_errors(raw) != []


def test_a_long_extension_name_is_accepted_as_the_spec_only_recommends_20() -> None:
    name = "averylongextensionnamebeyondtwenty"
    envelope = decode(
        ce_kafka.to_structured_event(_sdk_event(**{name: "x"})).value, CONVERSATION_COMMANDS
    )
    assert envelope.extensions[name] == "x"


def test_a_null_extension_means_unset() -> None:
    value = json.loads(ce_kafka.to_structured_event(_sdk_event()).value)
    value["tenant"] = None
    raw = json.dumps(value).encode()

    envelope = decode(raw, CONVERSATION_COMMANDS)

    assert "tenant" not in envelope.extensions
    assert "tenant" not in json.loads(envelope.to_json_bytes())
    assert _schema_errors(raw) == []


@pytest.mark.parametrize("attribute", ["id", "source", "specversion", "type"])
def test_a_record_without_a_spec_required_attribute_is_refused(attribute: str) -> None:
    value = json.loads(ce_kafka.to_structured_event(_sdk_event()).value)
    del value[attribute]
    raw = json.dumps(value).encode()

    with pytest.raises(UndecodableRecord):
        decode(raw, CONVERSATION_COMMANDS)
    assert any(attribute in e for e in _schema_errors(raw))


def test_a_record_without_time_is_parsed_but_parley_always_sends_one() -> None:
    """``time`` is OPTIONAL in the spec: a consumer must not dead-letter a record
    without it; the published schema requires it because Parley always sets it."""
    value = json.loads(ce_kafka.to_structured_event(_sdk_event()).value)
    del value["time"]
    raw = json.dumps(value).encode()

    envelope = decode(raw, CONVERSATION_COMMANDS)

    assert envelope.time is None
    assert "time" not in json.loads(envelope.to_json_bytes())  # unset, not null
    assert _schema_errors(raw) == ["'time' is a required property"]
    produced = Envelope[ReplyCommand](
        source="/t", type=REPLY_REQUESTED.name, subject=SUBJECT, data=_command()
    )
    assert produced.time is not None


def test_producers_add_extensions_and_bad_names_are_refused_at_once() -> None:
    envelope = Envelope[ReplyCommand](
        source="/t", type=REPLY_REQUESTED.name, subject=SUBJECT, data=_command()
    )
    tagged = envelope.with_extensions(tenant="acme", priority=2)
    assert tagged.extensions == {"tenant": "acme", "priority": 2}
    assert tagged.id == envelope.id and tagged.data == envelope.data
    assert tagged.with_extensions(tenant=None).extensions == {"priority": 2}
    assert envelope.extensions == {}

    with pytest.raises(ValidationError, match="lower-case ASCII letters and digits"):
        envelope.with_extensions(**{"Tenant": "acme"})
    with pytest.raises(ValidationError, match="tenant"):
        Envelope[ReplyCommand](
            source="/t",
            type=REPLY_REQUESTED.name,
            subject=SUBJECT,
            data=_command(),
            tenant=1.5,
        )


@pytest.fixture
def reply_schema() -> dict[str, Any]:
    return all_schemas()[REPLY_REQUESTED.name]


def test_forbidding_extensions_again_is_breaking(reply_schema: dict[str, Any]) -> None:
    new = copy.deepcopy(reply_schema)
    new["additionalProperties"] = False
    assert breaking_changes(reply_schema, new) == ["$: extension attributes no longer accepted"]


def test_narrowing_extension_values_is_breaking(reply_schema: dict[str, Any]) -> None:
    new = copy.deepcopy(reply_schema)
    new["additionalProperties"] = {"type": "string"}
    assert any("<extension>" in p for p in breaking_changes(reply_schema, new))


def test_allowing_extensions_is_compatible(reply_schema: dict[str, Any]) -> None:
    old = copy.deepcopy(reply_schema)
    old["additionalProperties"] = False
    assert breaking_changes(old, reply_schema) == []


def test_only_the_envelope_attributes_always_sent_may_become_required(
    reply_schema: dict[str, Any],
) -> None:
    old = copy.deepcopy(reply_schema)
    old["required"] = ["source", "type", "subject", "data"]
    assert breaking_changes(old, reply_schema) == []
    payload = old["$defs"]["ReplyCommand"]
    payload["properties"]["id"] = {"type": "string"}
    new = copy.deepcopy(old)
    new["$defs"]["ReplyCommand"]["required"] = [*payload["required"], "id"]
    assert breaking_changes(old, new) == ["$.data.id: became required"]
