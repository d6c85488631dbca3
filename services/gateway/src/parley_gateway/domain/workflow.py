"""The workflow fields people and API clients set by hand (F6, F13, F14).

Status, read state, the merchant's own ticket id and tags are the gateway's fields
(parley_store.WORKFLOW_FIELDS): sync never changes them, so whatever is set here stays
until someone changes it again. Each rule lives here, not in the HTTP layer, so REST
and GraphQL refuse exactly the same inputs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Final, Literal

from parley_schemas.text import TextRejected, clean_text
from parley_store import DiscussionStatus

MAX_TICKET_ID_CHARS = 64
MAX_TAGS = 20
MAX_TAG_CHARS = 32
MAX_BULK_IDS = 100

# Lowercase words joined by single hyphens: safe in URLs, filters and UIs alike.
_TAG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


class WorkflowRejected(ValueError):
    """A workflow change breaks a rule; ``field`` names the request field at fault."""

    def __init__(self, field: str, detail: str, code: str) -> None:
        super().__init__(detail)
        self.field = field
        self.detail = detail
        self.code = code


class _Keep(Enum):
    KEEP = "keep"


KEEP: Final = _Keep.KEEP
"""Leave the field as it is (``None`` would clear the merchant ticket id)."""


def clean_ticket_id(ticket_id: str) -> str:
    """The merchant's own ticket id (assignMerchantDiscussionId): 1..64 printable
    characters once surrounding whitespace is dropped; no control characters, which
    would corrupt exports and logs downstream."""
    text = ticket_id.strip()
    if not text:
        raise WorkflowRejected("merchant_ticket_id", "a ticket id needs some text", "empty")
    if len(text) > MAX_TICKET_ID_CHARS:
        raise WorkflowRejected(
            "merchant_ticket_id",
            f"a ticket id holds at most {MAX_TICKET_ID_CHARS} characters",
            "too_long",
        )
    if not text.isprintable():
        raise WorkflowRejected(
            "merchant_ticket_id", "a ticket id holds printable characters only", "not_printable"
        )
    return text


def clean_tags(tags: Iterable[str]) -> list[str]:
    """Each tag once, in the order given, lowercased: short slugs like ``late-delivery``.

    The shared text rules run first, so a control character, a bidi override or an
    invisible-only tag is refused under its own rule's code rather than as a bad slug.
    """
    given = list(tags)
    normalised: list[str] = []
    for index, tag in enumerate(given):
        try:
            normalised.append(clean_text(tag, what="a tag").lower())
        except TextRejected as exc:
            raise WorkflowRejected(f"tags/{index}", exc.detail, exc.code) from exc
    cleaned = list(dict.fromkeys(normalised))
    if len(cleaned) > MAX_TAGS:
        raise WorkflowRejected("tags", f"a discussion holds at most {MAX_TAGS} tags", "too_many")
    for index, tag in enumerate(cleaned):
        if len(tag) > MAX_TAG_CHARS or not _TAG.match(tag):
            raise WorkflowRejected(
                f"tags/{index}",
                f"a tag is 1..{MAX_TAG_CHARS} lowercase letters, digits and single hyphens"
                f" (like late-delivery), not {tag!r}",
                "invalid_tag",
            )
    return cleaned


@dataclass(frozen=True)
class WorkflowUpdate:
    """The fields one request sets; the others stay untouched.

    Built with :meth:`of`, which applies every rule, so a value of this class is
    always a valid change of at least one field.
    """

    status: DiscussionStatus | None = None
    read: bool | None = None
    merchant_ticket_id: str | Literal[_Keep.KEEP] | None = KEEP
    tags: tuple[str, ...] | None = None

    @classmethod
    def of(
        cls,
        *,
        status: DiscussionStatus | None = None,
        read: bool | None = None,
        merchant_ticket_id: str | Literal[_Keep.KEEP] | None = KEEP,
        tags: Iterable[str] | None = None,
    ) -> WorkflowUpdate:
        ticket = (
            clean_ticket_id(merchant_ticket_id)
            if isinstance(merchant_ticket_id, str)
            else merchant_ticket_id
        )
        update = cls(
            status=status,
            read=read,
            merchant_ticket_id=ticket,
            tags=tuple(clean_tags(tags)) if tags is not None else None,
        )
        if not update.fields():
            raise WorkflowRejected(
                "",
                "nothing to change: set status, read, merchant_ticket_id or tags",
                "empty",
            )
        return update

    def fields(self) -> dict[str, object]:
        """The stored values of the fields this update sets, by document field name."""
        changes: dict[str, object] = {}
        if self.status is not None:
            changes["status"] = self.status.value
        if self.read is not None:
            changes["read"] = self.read
        if self.merchant_ticket_id is not KEEP:
            changes["merchant_ticket_id"] = self.merchant_ticket_id
        if self.tags is not None:
            changes["tags"] = list(self.tags)
        return changes


class BulkOutcome(StrEnum):
    UPDATED = "updated"
    # Unknown and out-of-scope ids are one outcome on purpose: a caller must not learn
    # that someone else's discussion exists.
    NOT_FOUND = "not_found"


def clean_bulk_ids(ids: Iterable[str]) -> list[str]:
    """Each id once, in the order given; between 1 and MAX_BULK_IDS of them."""
    cleaned = list(dict.fromkeys(ids))
    if not cleaned:
        raise WorkflowRejected("ids", "name at least one discussion", "empty")
    if len(cleaned) > MAX_BULK_IDS:
        raise WorkflowRejected("ids", f"at most {MAX_BULK_IDS} discussions per request", "too_many")
    return cleaned
