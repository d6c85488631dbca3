"""Order alerts: order events that need the buyer, each opening a draft discussion (F9).

A marketplace tells the merchant about some order events outside any conversation
(the delivery address is invalid, the buyer left a bad rating, with or without a
comment). Parley turns each into a discussion the merchant (or a rule) can act on.
An alert's discussion key is ``store:marketplace:alert-<order id>-<kind>``: one draft
discussion per order and kind, so a re-sent alert lands on the same discussion.

The kinds are an enum on purpose: a consumer can rely on knowing every kind, so a new
kind is a new record type version, not a silent addition.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import Field, model_validator

from .common import Participant, ParticipantRole, Record
from .keys import DiscussionKey, MarketplaceId, StoreId

ALERT_THREAD_PREFIX = "alert-"


class OrderAlertKind(StrEnum):
    ADDRESS_INVALID = "address_invalid"
    BAD_RATING_WITH_COMMENT = "bad_rating_with_comment"
    BAD_RATING_WITHOUT_COMMENT = "bad_rating_without_comment"


def alert_thread_id(order_id: str, kind: OrderAlertKind) -> str:
    """The thread part of an alert's discussion key: producers and Parley agree on it."""
    return f"{ALERT_THREAD_PREFIX}{order_id}-{kind.value}"


class OrderAlert(Record):
    """An order event that needs the buyer; Parley opens a draft discussion for it."""

    connection_id: str | None = Field(
        default=None, description="The connection the alert was read through, when known"
    )
    store_id: StoreId
    marketplace: MarketplaceId = Field(description="Marketplace instance id, e.g. allegro-pl")
    family: str = Field(description="API family, e.g. allegro")
    kind: OrderAlertKind
    order_id: str = Field(min_length=1, max_length=200)
    buyer: Participant = Field(description="The order's buyer; role must be customer")
    rating: int | None = Field(
        default=None, ge=0, description="The buyer's score, on the marketplace's own scale"
    )
    rating_max: int | None = Field(
        default=None, ge=1, description="The best score of that scale (e.g. 5), when known"
    )
    comment: str | None = Field(
        default=None, max_length=10_000, description="The buyer's words, when any"
    )
    reason: str | None = Field(
        default=None, description="Why the marketplace raised it (e.g. the address problem)"
    )
    occurred_at: datetime = Field(description="When the marketplace recorded the event")
    payload: dict[str, Any] = Field(
        default_factory=dict, description="The marketplace's original event, for audit"
    )

    @model_validator(mode="after")
    def _consistent(self) -> OrderAlert:
        if self.buyer.role is not ParticipantRole.CUSTOMER:
            raise ValueError("buyer must have the customer role")
        if self.kind is OrderAlertKind.BAD_RATING_WITH_COMMENT and not (self.comment or "").strip():
            raise ValueError("a bad_rating_with_comment alert needs its comment")
        return self

    @property
    def key(self) -> DiscussionKey:
        return DiscussionKey(
            store_id=self.store_id,
            marketplace=self.marketplace,
            thread_id=alert_thread_id(self.order_id, self.kind),
        )
