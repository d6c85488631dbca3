"""The gateway's rules without I/O: scope, cursors, reply text, status effects."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest

from parley_gateway.domain import (
    InvalidCursor,
    Position,
    ReplyRejected,
    Scope,
    StatusChange,
    clean_recipients,
    clean_reply_body,
    decode_cursor,
    encode_cursor,
    status_change_after,
)
from parley_schemas import ParticipantRole, ReplyAction
from parley_schemas.text import PLAIN_TEXT_ONLY
from parley_store import DiscussionStatus


@pytest.mark.parametrize(
    "position",
    [
        Position(datetime(2026, 6, 1, 8, 30, 15, 123000, tzinfo=UTC), "a" * 32),
        Position(datetime(2026, 6, 1, 8, 30, tzinfo=UTC), "0f" * 16),
        Position(None, "ffffffffffffffffffffffffffffffff"),
    ],
)
def test_cursor_round_trip(position: Position) -> None:
    cursor = encode_cursor(position)
    assert all(c.isalnum() or c in "-_" for c in cursor), "base64url, no padding"
    assert decode_cursor(cursor) == position


def _flip(cursor: str, index: int) -> str:
    swapped = "A" if cursor[index] != "A" else "B"
    return cursor[:index] + swapped + cursor[index + 1 :]


def _forged(payload: object) -> str:
    """A well-formed base64url JSON position without the checksum."""
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


GOOD = encode_cursor(Position(datetime(2026, 6, 1, tzinfo=UTC), "b" * 32))


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "not a cursor",
        "!!!!",
        _flip(GOOD, 0),
        _flip(GOOD, len(GOOD) // 2),
        _flip(GOOD, len(GOOD) - 2),
        GOOD[:-4],
        GOOD + "AAAA",
        _forged({"t": "2026-06-01T00:00:00+00:00", "id": "x"}),
        "A" * 600,
    ],
)
def test_tampered_or_foreign_cursor_is_refused(cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor)


def test_list_order_puts_undated_discussions_last() -> None:
    dated = Position(datetime(2020, 1, 1, tzinfo=UTC), "0")
    undated = Position(None, "f")
    assert dated.sort_key() > undated.sort_key()


def test_all_stores_scope_narrows_to_what_was_asked() -> None:
    scope = Scope.all_stores()
    assert scope.narrow() is None
    assert scope.narrow(["s1"]) == frozenset({"s1"})
    assert scope.allows("anything")


def test_restricted_scope_never_widens() -> None:
    scope = Scope.of(["s1", "s2"])
    assert scope.narrow() == frozenset({"s1", "s2"})
    assert scope.narrow(["s2", "s3"]) == frozenset({"s2"})
    assert scope.narrow(["s3"]) == frozenset()
    assert not scope.allows("s3")


@pytest.mark.parametrize(
    "body",
    [
        "<p>Hello</p>",
        "Thanks! <b>bold</b>",
        'See <a href="https://example.com">here</a>',
        "line one<br>line two",
        "line one<br/>line two",
        "<script>alert(1)</script>",
        "hidden <!-- comment --> text",
        "closing only </div>",
    ],
)
def test_html_is_refused_with_a_clear_reason(body: str) -> None:
    with pytest.raises(ReplyRejected) as refused:
        clean_reply_body(body)
    assert refused.value.detail == PLAIN_TEXT_ONLY
    assert refused.value.field == "body"


@pytest.mark.parametrize(
    "body", ["a < b", "I <3 this shop", "5 > 3 and 2 < 4", "price <= 10 €", "use -> arrow"]
)
def test_plain_text_with_angle_brackets_is_accepted(body: str) -> None:
    assert clean_reply_body(body) == body


def test_body_is_trimmed_and_bounded() -> None:
    assert clean_reply_body("  Hello  \n") == "Hello"
    assert clean_reply_body(" " + "x" * 10_000 + " ") == "x" * 10_000
    with pytest.raises(ReplyRejected):
        clean_reply_body(" \n\t ")
    with pytest.raises(ReplyRejected):
        clean_reply_body("x" * 10_001)


def test_recipients_are_deduplicated_and_never_the_merchant() -> None:
    customer, operator = ParticipantRole.CUSTOMER, ParticipantRole.OPERATOR
    assert clean_recipients([operator, customer, operator]) == [operator, customer]
    with pytest.raises(ReplyRejected):
        clean_recipients([])
    with pytest.raises(ReplyRejected):
        clean_recipients([ParticipantRole.MERCHANT])


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        (ReplyAction.REPLY_AND_SOLVE, StatusChange(DiscussionStatus.SOLVED)),
        (ReplyAction.REPLY_AND_PENDING, StatusChange(DiscussionStatus.PENDING)),
        (
            ReplyAction.REPLY,
            StatusChange(DiscussionStatus.OPEN, only_from=frozenset({DiscussionStatus.NEW})),
        ),
    ],
)
def test_reply_action_status_effect(action: ReplyAction, expected: StatusChange) -> None:
    assert status_change_after(action) == expected
