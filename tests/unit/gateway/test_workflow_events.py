"""The gateway announces each workflow change it stores, and only real changes."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from jsonschema import Draft202012Validator
from unit.gateway.fakes import InMemoryDiscussions, RecordingEvents, RecordingPublisher, discussion

from parley_gateway.domain import Scope, WorkflowUpdate
from parley_gateway.service import DiscussionService, ReplyRequest
from parley_schemas import (
    DISCUSSION_READ_CHANGED,
    DISCUSSION_STATUS_CHANGED,
    DISCUSSION_TAGS_CHANGED,
    MERCHANT_TICKET_CHANGED,
    ReplyAction,
)
from parley_schemas.jsonschema import all_schemas
from parley_store import DiscussionStatus

EVERYONE = Scope.all_stores()
NOW = datetime(2026, 6, 2, 12, 0, tzinfo=UTC)


def make(*docs: object) -> tuple[DiscussionService, InMemoryDiscussions, RecordingEvents]:
    repo = InMemoryDiscussions(*docs)  # type: ignore[arg-type]
    events = RecordingEvents()
    service = DiscussionService(repo, RecordingPublisher(), clock=lambda: NOW, events=events)
    return service, repo, events


def valid(events: RecordingEvents) -> None:
    schemas = all_schemas()
    for envelope in events.events:
        Draft202012Validator(schemas[envelope.type]).validate(json.loads(envelope.to_json_bytes()))


async def test_opening_an_unread_discussion_announces_it_read_once() -> None:
    doc = discussion("t1")
    service, _, events = make(doc)

    await service.open_discussion(EVERYONE, doc.id)
    await service.open_discussion(EVERYONE, doc.id)  # already read: nothing to say

    (event,) = events.events
    assert event.type == DISCUSSION_READ_CHANGED.name
    assert event.subject == doc.key
    assert event.data.read is True and event.data.cause == "opened"
    assert event.data.store_id == "store-1" and event.data.status == "new"
    valid(events)


async def test_one_update_announces_each_field_it_changed_with_the_state_after() -> None:
    doc = discussion("t1", read=True)
    service, _, events = make(doc)

    await service.update_workflow(
        EVERYONE,
        doc.id,
        WorkflowUpdate.of(
            status=DiscussionStatus.PENDING,
            read=False,
            merchant_ticket_id="ZD-1",
            tags=["late-delivery"],
        ),
    )

    assert [e.type for e in events.events] == [
        DISCUSSION_STATUS_CHANGED.name,
        DISCUSSION_READ_CHANGED.name,
        DISCUSSION_TAGS_CHANGED.name,
        MERCHANT_TICKET_CHANGED.name,
    ]
    for event in events.events:
        assert (event.data.status, event.data.read) == ("pending", False)
        assert event.data.tags == ["late-delivery"]
        assert event.data.merchant_ticket_id == "ZD-1"
    assert events.events[0].data.previous_status == "new"
    assert events.events[2].data.added == ["late-delivery"]
    assert events.events[3].data.previous_merchant_ticket_id is None
    assert len({e.id for e in events.events}) == 4
    valid(events)


async def test_setting_what_is_already_there_announces_nothing() -> None:
    doc = discussion("t1", status=DiscussionStatus.OPEN)
    service, _, events = make(doc)

    await service.update_workflow(EVERYONE, doc.id, WorkflowUpdate.of(status=DiscussionStatus.OPEN))

    assert events.events == []


async def test_a_bulk_change_announces_each_discussion_that_changed() -> None:
    a, b = discussion("a"), discussion("b", status=DiscussionStatus.SOLVED)
    service, _, events = make(a, b)

    await service.set_status_many(EVERYONE, [a.id, b.id, "unknown"], DiscussionStatus.SOLVED)

    (event,) = events.events
    assert event.data.discussion_id == a.id
    assert (event.data.previous_status, event.data.status) == ("new", "solved")
    assert event.data.cause == "bulk"


async def test_a_reply_announces_its_status_effect() -> None:
    doc = discussion("t1")
    service, _, events = make(doc)

    await service.request_reply(
        EVERYONE,
        doc.id,
        ReplyRequest(body="On it", action=ReplyAction.REPLY_AND_SOLVE),
        requested_by="k",
    )

    (event,) = events.events
    assert event.type == DISCUSSION_STATUS_CHANGED.name
    assert (event.data.status, event.data.cause) == ("solved", "reply")


async def test_a_change_whose_event_cannot_be_published_is_kept() -> None:
    doc = discussion("t1")
    service, repo, events = make(doc)
    events.fail = True

    after = await service.update_workflow(EVERYONE, doc.id, WorkflowUpdate.of(read=True))

    assert after.read is True and repo.discussions[doc.id].read is True
