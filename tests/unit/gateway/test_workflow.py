"""Workflow changes and list filters as pure rules: what is accepted, what is refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from parley_gateway.domain import (
    KEEP,
    DiscussionFilters,
    InvalidFilter,
    WorkflowRejected,
    WorkflowUpdate,
    clean_bulk_ids,
)
from parley_store import WORKFLOW_FIELDS, DiscussionStatus


def test_an_update_sets_only_the_fields_given() -> None:
    assert WorkflowUpdate.of(status=DiscussionStatus.SOLVED).fields() == {"status": "solved"}
    assert WorkflowUpdate.of(read=False).fields() == {"read": False}
    assert WorkflowUpdate.of(merchant_ticket_id=None).fields() == {"merchant_ticket_id": None}
    assert WorkflowUpdate.of(tags=[]).fields() == {"tags": []}
    everything = WorkflowUpdate.of(
        status=DiscussionStatus.PENDING,
        read=True,
        merchant_ticket_id="  ZD-1  ",
        tags=["VIP", "late-delivery", "vip"],
    )
    assert everything.fields() == {
        "status": "pending",
        "read": True,
        "merchant_ticket_id": "ZD-1",
        "tags": ["vip", "late-delivery"],
    }
    assert set(everything.fields()) <= WORKFLOW_FIELDS


def test_an_update_without_any_field_is_refused() -> None:
    with pytest.raises(WorkflowRejected) as refused:
        WorkflowUpdate.of(merchant_ticket_id=KEEP)
    assert refused.value.code == "empty"


@pytest.mark.parametrize(
    ("ticket", "code"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("x" * 65, "too_long"),
        ("ZD\n1", "not_printable"),
        ("ZD\x001", "not_printable"),
        ("ZD\t1", "not_printable"),
    ],
)
def test_invalid_ticket_ids_are_refused(ticket: str, code: str) -> None:
    with pytest.raises(WorkflowRejected) as refused:
        WorkflowUpdate.of(merchant_ticket_id=ticket)
    assert (refused.value.field, refused.value.code) == ("merchant_ticket_id", code)


def test_ticket_ids_keep_any_printable_text_up_to_64_characters() -> None:
    for ticket in ("1", "x" * 64, "Ticket #42 / Zendesk", "Réclamation-7"):
        assert WorkflowUpdate.of(merchant_ticket_id=ticket).merchant_ticket_id == ticket


@pytest.mark.parametrize(
    ("tags", "field"),
    [
        (["late delivery"], "tags/0"),
        (["ok", "-x"], "tags/1"),
        (["a--b"], "tags/0"),
        (["x" * 33], "tags/0"),
        ([""], "tags/0"),
        (["émoji"], "tags/0"),
        ([f"t{i}" for i in range(21)], "tags"),
    ],
)
def test_tags_are_short_slugs(tags: list[str], field: str) -> None:
    with pytest.raises(WorkflowRejected) as refused:
        WorkflowUpdate.of(tags=tags)
    assert refused.value.field == field


def test_bulk_ids_are_deduplicated_and_bounded() -> None:
    assert clean_bulk_ids(["b", "a", "b"]) == ["b", "a"]
    with pytest.raises(WorkflowRejected):
        clean_bulk_ids([])
    with pytest.raises(WorkflowRejected):
        clean_bulk_ids([str(i) for i in range(101)])
    assert len(clean_bulk_ids([str(i) for i in range(100)] * 2)) == 100


def test_text_filters_are_trimmed_and_bounded() -> None:
    assert DiscussionFilters(participant="  ana ", subject=" colis ").participant == "ana"
    with pytest.raises(InvalidFilter) as empty:
        DiscussionFilters(subject="   ")
    assert empty.value.parameter == "subject"
    with pytest.raises(InvalidFilter):
        DiscussionFilters(participant="x" * 101)


def test_a_date_range_needs_zones_and_an_order() -> None:
    june = datetime(2026, 6, 1, tzinfo=UTC)
    july = datetime(2026, 7, 1, tzinfo=UTC)
    assert DiscussionFilters(since=june, until=july).until == july
    with pytest.raises(InvalidFilter) as backwards:
        DiscussionFilters(since=july, until=june)
    assert backwards.value.parameter == "until"
    with pytest.raises(InvalidFilter):
        DiscussionFilters(since=june, until=june)
    with pytest.raises(InvalidFilter) as naive:
        DiscussionFilters(since=datetime(2026, 6, 1))
    assert naive.value.parameter == "since"


def test_counts_ignore_the_status_filter_only() -> None:
    filters = DiscussionFilters(
        statuses=frozenset({DiscussionStatus.NEW}), read=False, subject="colis"
    )
    assert filters.without_statuses() == DiscussionFilters(read=False, subject="colis")
