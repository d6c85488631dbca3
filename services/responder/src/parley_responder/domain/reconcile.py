"""Did *this* reply reach the marketplace? Decided by identity, never by text alone.

After a fault that does not say whether the marketplace kept a reply (a timeout, a 5xx,
a crash mid-send), the responder asks the marketplace for the shop's messages in the
thread. A message with the same text is not proof: the merchant may have sent the same
words before (two "Thank you!" in one thread are common). So right before each first
attempt the responder records which shop messages the thread already had
(``known_before``, kept in the outbox with the ``sending`` mark). Afterwards, a shop
message with our text that was *not* there before is ours, provided there is exactly
one: the responder sends one reply of a thread at a time, in order, so a single new
match can only be that reply. None means it did not land and may be sent again; more
than one, or a marketplace that cannot be asked (SMTP), cannot be decided: the
delivery becomes ``unknown`` and the merchant decides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from parley_connectors.writing import ShopReply as ShopReply
from parley_connectors.writing import same_text


class Verdict(StrEnum):
    LANDED = "landed"
    NOT_LANDED = "not_landed"
    UNDECIDABLE = "undecidable"


@dataclass(frozen=True)
class Reconciliation:
    verdict: Verdict
    message_id: str | None = None
    reason: str | None = None


NO_LISTING = "the marketplace cannot be asked whether the reply arrived"


def known_ids(replies: Sequence[ShopReply] | None) -> frozenset[str] | None:
    """What to keep before an attempt: the ids the thread had, or None (cannot list)."""
    return None if replies is None else frozenset(r.id for r in replies)


def reconcile(
    replies: Sequence[ShopReply] | None, body: str, known_before: frozenset[str] | None
) -> Reconciliation:
    """The verdict on one reply from the shop's messages listed after the attempt."""
    if replies is None:
        return Reconciliation(Verdict.UNDECIDABLE, reason=NO_LISTING)
    matching = [r for r in replies if same_text(r.body, body)]
    if not matching:
        return Reconciliation(Verdict.NOT_LANDED)
    if known_before is None:
        # An attempt made before the thread's messages were recorded: a match may be an
        # earlier reply with the same words.
        return Reconciliation(
            Verdict.UNDECIDABLE,
            reason="a shop message with this text is at the marketplace, but it cannot be"
            " told whether it is this reply",
        )
    new = [r for r in matching if r.id not in known_before]
    if not new:
        return Reconciliation(Verdict.NOT_LANDED)
    if len(new) == 1:
        return Reconciliation(Verdict.LANDED, message_id=new[0].id)
    return Reconciliation(
        Verdict.UNDECIDABLE,
        reason=f"{len(new)} new shop messages with this text are at the marketplace;"
        " which one is this reply cannot be told",
    )
