"""The public event catalogue: every type versioned, exemplified, documented, and each
topic's configuration declared once with bounded retention for personal data."""

from __future__ import annotations

import json
import typing
from pathlib import Path

from jsonschema import Draft202012Validator

from parley_schemas import (
    ALL_TOPICS,
    CONNECTION_EVENTS,
    CONVERSATION_EVENTS,
    DAY_MS,
    RECORD_TYPES,
)
from parley_schemas.asyncapi import document
from parley_schemas.events import WorkflowStatus
from parley_schemas.examples import PUBLIC_TYPES, catalogue_markdown, example
from parley_schemas.jsonschema import all_schemas
from parley_store import DiscussionStatus

ROOT = Path(__file__).resolve().parents[3]
EVENTS_DOC = ROOT / "docs" / "events.md"
BEGIN, END = "<!-- catalogue:begin -->", "<!-- catalogue:end -->"


def test_every_public_type_is_versioned_and_its_example_is_valid() -> None:
    schemas = all_schemas()
    assert len(PUBLIC_TYPES) == len({t.name for t in PUBLIC_TYPES}) >= 15
    for record_type in PUBLIC_TYPES:
        assert record_type.name.startswith("com.parley.")
        assert record_type.name.rsplit(".", 1)[1] == "v1"
        value = example(record_type)
        Draft202012Validator(schemas[record_type.name]).validate(value)
        assert value["type"] == record_type.name


def test_the_asyncapi_document_carries_each_example() -> None:
    messages = document()["components"]["messages"]
    by_name = {m["name"]: m for m in messages.values()}
    for record_type in PUBLIC_TYPES:
        (shown,) = by_name[record_type.name]["examples"]
        assert shown["payload"] == example(record_type)


def test_the_workflow_status_values_are_the_stores() -> None:
    assert set(typing.get_args(WorkflowStatus)) == {s.value for s in DiscussionStatus}


def test_docs_events_md_shows_the_current_catalogue() -> None:
    text = EVENTS_DOC.read_text()
    section = text.split(BEGIN, 1)[1].split(END, 1)[0]
    assert section.strip() == catalogue_markdown().strip(), "docs/events.md is stale: make schemas"
    for record_type in PUBLIC_TYPES:
        assert f"`{record_type.name}`" in section


def test_topics_with_personal_data_have_a_bounded_retention() -> None:
    for topic in ALL_TOPICS:
        config = topic.config(replication_factor=3)
        if topic.personal_data:
            assert 0 < int(config["retention.ms"]) <= 30 * DAY_MS, topic.name
        assert config["cleanup.policy"] in {"delete", "compact"}
    assert CONVERSATION_EVENTS.config(3)["retention.ms"] == str(7 * DAY_MS)
    assert CONNECTION_EVENTS.config(3)["cleanup.policy"] == "compact"


def test_min_insync_replicas_never_exceeds_the_replication() -> None:
    for topic in ALL_TOPICS:
        assert topic.config(1)["min.insync.replicas"] == "1"
        assert topic.config(3)["min.insync.replicas"] == "2"


def test_every_record_type_belongs_to_exactly_one_topic() -> None:
    seen = [rt.name for topic in ALL_TOPICS for rt in topic.record_types]
    assert sorted(seen) == sorted(RECORD_TYPES)
    json.dumps(document())  # serialisable as is
