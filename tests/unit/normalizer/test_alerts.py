"""Order alerts (F9): the contract and the draft discussion an alert opens."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from parley_normalizer.domain.alerts import ALERT_CHANNEL, alert_discussion, alert_tag
from parley_schemas import (
    MARKETPLACE_RAW,
    ORDER_ALERT,
    ORDER_ALERTS,
    Envelope,
    OrderAlert,
    OrderAlertKind,
    Participant,
    ParticipantRole,
    UndecodableRecord,
    decode,
)
from parley_store import DiscussionDocument, DiscussionType

T0 = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
BUYER = Participant(
    role=ParticipantRole.CUSTOMER, name="Jan Kowalski", email="jan@example.pl", marketplace_id="b-7"
)
K = OrderAlertKind


def alert(kind: OrderAlertKind = K.BAD_RATING_WITH_COMMENT, **over: Any) -> OrderAlert:
    fields: dict[str, Any] = {
        "store_id": "store-1",
        "marketplace": "allegro-pl",
        "family": "allegro",
        "kind": kind,
        "order_id": "29b5-44",
        "buyer": BUYER,
        "occurred_at": T0,
    }
    if kind is K.BAD_RATING_WITH_COMMENT:
        fields |= {"rating": 1, "rating_max": 5, "comment": "  Paczka przyszła zniszczona. "}
    return OrderAlert(**(fields | over))


@pytest.mark.parametrize(
    ("kind", "tag"),
    [
        (K.ADDRESS_INVALID, "alert:address-invalid"),
        (K.BAD_RATING_WITH_COMMENT, "alert:bad-rating-with-comment"),
        (K.BAD_RATING_WITHOUT_COMMENT, "alert:bad-rating-without-comment"),
    ],
)
def test_each_kind_has_its_tag(kind: OrderAlertKind, tag: str) -> None:
    assert alert_tag(kind) == tag
    assert alert_discussion(alert(kind)).tags == [tag]


def test_the_key_names_the_order_and_the_kind() -> None:
    key = alert(K.ADDRESS_INVALID).key
    assert str(key) == "store-1:allegro-pl:alert-29b5-44-address_invalid"


def test_a_commented_bad_rating_opens_an_order_draft_starting_with_the_comment() -> None:
    opened = alert_discussion(alert())
    doc = DiscussionDocument.model_validate(
        {"_id": opened.discussion_id, **opened.fields, "created_at": opened.created_at}
    )
    assert doc.type is DiscussionType.ORDER and doc.order_id == "29b5-44"
    assert doc.initiator is ParticipantRole.OPERATOR
    assert doc.draft is True and doc.alert_kind is K.BAD_RATING_WITH_COMMENT
    assert doc.channel == ALERT_CHANNEL and doc.family == "allegro"
    assert doc.subject == "Bad rating with a comment — order 29b5-44 (rated 1/5)"
    assert doc.participants == [BUYER]
    assert opened.created_at == T0
    (first,) = opened.messages
    assert first.body == "Paczka przyszła zniszczona."
    assert first.sender == BUYER and first.sent_at == T0


def test_the_comment_message_id_is_stable_across_replays() -> None:
    assert alert_discussion(alert()).messages == alert_discussion(alert()).messages


def test_an_alert_without_comment_opens_an_empty_draft() -> None:
    opened = alert_discussion(alert(K.ADDRESS_INVALID, reason="Brak numeru domu"))
    assert opened.messages == []
    assert opened.fields["subject"] == "Invalid delivery address — order 29b5-44"


def test_a_bad_rating_with_comment_needs_its_comment() -> None:
    with pytest.raises(ValidationError, match="needs its comment"):
        alert(comment="   ")


def test_the_buyer_must_be_a_customer() -> None:
    with pytest.raises(ValidationError, match="customer role"):
        alert(K.ADDRESS_INVALID, buyer=Participant(role=ParticipantRole.OPERATOR))


def test_store_and_marketplace_must_be_key_segments() -> None:
    with pytest.raises(ValidationError):
        alert(K.ADDRESS_INVALID, store_id="store:1")


def test_the_alert_round_trips_on_its_topic_only() -> None:
    a = alert()
    envelope = Envelope[OrderAlert](
        source="/test", type=ORDER_ALERT.name, subject=str(a.key), data=a
    )
    assert decode(envelope.to_json_bytes(), ORDER_ALERTS).data == a
    with pytest.raises(UndecodableRecord, match="does not belong"):
        decode(envelope.to_json_bytes(), MARKETPLACE_RAW)
