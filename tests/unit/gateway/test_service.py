"""The service layer on in-memory fakes of its ports."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from unit.gateway.fakes import (
    InMemoryDiscussions,
    OutboxDown,
    RecordingPublisher,
    discussion,
    message,
)

from parley_gateway.domain import DiscussionFilters, InvalidCursor, ReplyRejected, Scope
from parley_gateway.service import DiscussionNotFound, DiscussionService, ReplyRequest
from parley_schemas import REPLY_REQUESTED, DiscussionKey, ParticipantRole, ReplyAction
from parley_schemas.text import PLAIN_TEXT_ONLY
from parley_store import DiscussionStatus

EVERYONE = Scope.all_stores()
NOW = datetime(2026, 6, 2, 12, 0, tzinfo=UTC)


def make_service(
    repo: InMemoryDiscussions, publisher: RecordingPublisher | None = None
) -> DiscussionService:
    return DiscussionService(
        repo, publisher or RecordingPublisher(), clock=lambda: NOW, command_ids=lambda: "c" * 32
    )


async def test_pages_cover_every_discussion_once_in_order() -> None:
    docs = [discussion(f"t{i}", minutes=i // 3) for i in range(23)]
    docs += [discussion("undated-1", minutes=None), discussion("undated-2", minutes=None)]
    service = make_service(InMemoryDiscussions(*docs))

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = await service.list_discussions(EVERYONE, DiscussionFilters(), limit=4, cursor=cursor)
        seen += [d.id for d in page.items]
        pages += 1
        if page.next_cursor is None:
            break
        cursor = page.next_cursor

    assert pages == 7  # 25 items by 4, and no trailing empty page
    assert len(seen) == len(set(seen)) == 25
    everything = await service.list_discussions(EVERYONE, DiscussionFilters(), limit=100)
    assert seen == [d.id for d in everything.items]
    assert everything.items[-1].last_message_at is None
    assert everything.next_cursor is None


async def test_filters_and_scope_both_apply() -> None:
    repo = InMemoryDiscussions(
        discussion("a", store_id="s1", marketplace="carrefour"),
        discussion("b", store_id="s1", marketplace="allegro", status=DiscussionStatus.SOLVED),
        discussion("c", store_id="s2", marketplace="carrefour", read=True),
        discussion("d", store_id="s3", marketplace="carrefour"),
    )
    service = make_service(repo)

    async def threads(scope: Scope, filters: DiscussionFilters) -> set[str]:
        page = await service.list_discussions(scope, filters)
        return {d.thread_id for d in page.items}

    assert await threads(EVERYONE, DiscussionFilters(marketplaces=frozenset({"carrefour"}))) == {
        "a",
        "c",
        "d",
    }
    solved = DiscussionFilters(statuses=frozenset({DiscussionStatus.SOLVED}))
    assert await threads(EVERYONE, solved) == {"b"}
    assert await threads(EVERYONE, DiscussionFilters(read=True)) == {"c"}
    tenant = Scope.of(["s1", "s2"])
    assert await threads(tenant, DiscussionFilters()) == {"a", "b", "c"}
    assert await threads(tenant, DiscussionFilters(store_ids=frozenset({"s3"}))) == set()


async def test_a_tampered_cursor_is_refused() -> None:
    service = make_service(InMemoryDiscussions(*(discussion(f"t{i}") for i in range(3))))
    page = await service.list_discussions(EVERYONE, DiscussionFilters(), limit=1)
    assert page.next_cursor
    with pytest.raises(InvalidCursor):
        await service.list_discussions(EVERYONE, DiscussionFilters(), cursor=page.next_cursor[:-1])


async def test_opening_marks_read_and_lists_messages_oldest_first() -> None:
    doc = discussion("t1")
    repo = InMemoryDiscussions(doc)
    repo.add_messages(message(doc, "2", 5, outbound=True), message(doc, "1", 1))
    thread = await make_service(repo).open_discussion(EVERYONE, doc.id)

    assert thread.discussion.read is True
    assert repo.discussions[doc.id].read is True
    assert [m.body for m in thread.messages] == ["message 1", "message 2"]


async def test_a_discussion_outside_the_scope_does_not_exist() -> None:
    doc = discussion("t1", store_id="other")
    repo = InMemoryDiscussions(doc)
    service = make_service(repo)
    with pytest.raises(DiscussionNotFound):
        await service.open_discussion(Scope.of(["mine"]), doc.id)
    assert repo.discussions[doc.id].read is False
    with pytest.raises(DiscussionNotFound):
        await service.request_reply(
            Scope.of(["mine"]), doc.id, ReplyRequest(body="hi"), requested_by="api"
        )


async def test_reply_publishes_a_command_for_the_discussion() -> None:
    doc = discussion("order:1001", store_id="s1", marketplace="carrefour")
    publisher = RecordingPublisher()
    service = make_service(InMemoryDiscussions(doc), publisher)

    queued = await service.request_reply(
        EVERYONE,
        doc.id,
        ReplyRequest(
            body="  Your parcel left today.  ",
            action=ReplyAction.REPLY_AND_SOLVE,
            recipients=[ParticipantRole.CUSTOMER, ParticipantRole.OPERATOR],
        ),
        requested_by="api",
    )

    [envelope] = publisher.published
    assert envelope.type == REPLY_REQUESTED.name
    assert envelope.source == "/parley/gateway"
    assert envelope.subject == "s1:carrefour:order:1001"
    assert DiscussionKey.parse(envelope.subject).discussion_id == doc.id
    command = envelope.data
    assert command.command_id == queued.command_id == "c" * 32
    assert (command.discussion_id, command.store_id, command.marketplace, command.thread_id) == (
        doc.id,
        "s1",
        "carrefour",
        "order:1001",
    )
    assert command.body == "Your parcel left today."
    assert command.action is ReplyAction.REPLY_AND_SOLVE
    assert command.recipients == [ParticipantRole.CUSTOMER, ParticipantRole.OPERATOR]
    assert command.requested_by == "api"
    assert command.requested_at == NOW


@pytest.mark.parametrize(
    "body", ["<p>Hello</p>", "Hi <b>there</b>", "<!-- x --> hi", '<a href="x">link</a>']
)
async def test_html_reply_publishes_nothing_and_changes_nothing(body: str) -> None:
    doc = discussion("t1")
    repo = InMemoryDiscussions(doc)
    publisher = RecordingPublisher()
    with pytest.raises(ReplyRejected) as refused:
        await make_service(repo, publisher).request_reply(
            EVERYONE,
            doc.id,
            ReplyRequest(body=body, action=ReplyAction.REPLY_AND_SOLVE),
            requested_by="api",
        )
    assert refused.value.detail == PLAIN_TEXT_ONLY
    assert publisher.published == []
    assert repo.discussions[doc.id].status is DiscussionStatus.NEW


@pytest.mark.parametrize(
    ("action", "before", "after"),
    [
        (ReplyAction.REPLY, DiscussionStatus.NEW, DiscussionStatus.OPEN),
        (ReplyAction.REPLY, DiscussionStatus.OPEN, DiscussionStatus.OPEN),
        (ReplyAction.REPLY, DiscussionStatus.PENDING, DiscussionStatus.PENDING),
        (ReplyAction.REPLY, DiscussionStatus.SOLVED, DiscussionStatus.SOLVED),
        (ReplyAction.REPLY_AND_SOLVE, DiscussionStatus.NEW, DiscussionStatus.SOLVED),
        (ReplyAction.REPLY_AND_SOLVE, DiscussionStatus.PENDING, DiscussionStatus.SOLVED),
        (ReplyAction.REPLY_AND_PENDING, DiscussionStatus.NEW, DiscussionStatus.PENDING),
        (ReplyAction.REPLY_AND_PENDING, DiscussionStatus.SOLVED, DiscussionStatus.PENDING),
    ],
)
async def test_reply_action_sets_the_status(
    action: ReplyAction, before: DiscussionStatus, after: DiscussionStatus
) -> None:
    doc = discussion("t1", status=before)
    repo = InMemoryDiscussions(doc)
    await make_service(repo).request_reply(
        EVERYONE, doc.id, ReplyRequest(body="Thanks", action=action), requested_by="api"
    )
    assert repo.discussions[doc.id].status is after


async def test_a_reply_the_outbox_cannot_store_leaves_the_status_alone() -> None:
    doc = discussion("t1")
    repo = InMemoryDiscussions(doc)
    publisher = RecordingPublisher()
    publisher.fail = True
    with pytest.raises(OutboxDown):
        await make_service(repo, publisher).request_reply(
            EVERYONE,
            doc.id,
            ReplyRequest(body="hi", action=ReplyAction.REPLY_AND_SOLVE),
            requested_by="api",
        )
    assert repo.discussions[doc.id].status is DiscussionStatus.NEW


async def test_queued_reply_is_reported_even_if_the_status_write_fails() -> None:
    doc = discussion("t1")
    repo = InMemoryDiscussions(doc)
    repo.fail_status_change = True
    publisher = RecordingPublisher()
    queued = await make_service(repo, publisher).request_reply(
        EVERYONE, doc.id, ReplyRequest(body="hi"), requested_by="api"
    )
    assert [e.data.command_id for e in publisher.published] == [queued.command_id]
