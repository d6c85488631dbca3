"""Conversations out of single emails: the thread id, and the threading headers of a reply.

Email has no thread object, so Parley derives one id per conversation that every mail
of that conversation maps to, whoever sent it and in whatever order they arrive:

- with an order id (Amazon puts it in every relay subject): ``order:<order id>:<buyer>``,
  ``<buyer>`` being a short hash of the buyer's anonymised relay address, so the same
  buyer writing about the same order always lands in the same discussion, and two
  buyers (or two relays) never share one;
- without one (pre-sale questions): ``ref:<root message id>``, the root being the
  first id in ``References`` (RFC 5322 §3.6.4), else ``In-Reply-To``, else the mail's
  own ``Message-ID`` (it starts a conversation). Keeping the root itself in the id lets
  a reply put it back at the head of its ``References``, so the buyer's answer to
  that reply has the same root and lands in the same discussion.

Message ids are handled without their angle brackets everywhere in Parley and get them
back only when written into a header.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence

THREAD_ID_MAX = 256
MAX_REFERENCES = 20  # RFC 5322 lets a long chain be trimmed; the root is always kept
_MSG_ID = re.compile(r"<([^<>\s]+)>")


def message_ids(header: str | None) -> list[str]:
    """The message ids of a ``References``/``In-Reply-To``/``Message-ID`` value.

    Ids are written ``<left@right>``; a mailer that forgot the brackets still gets its
    whitespace-separated tokens read as ids.
    """
    if not header:
        return []
    found = _MSG_ID.findall(header)
    if found:
        return found
    return [token.strip("<>,;") for token in header.split() if "@" in token]


def short_hash(value: str, length: int = 12) -> str:
    return hashlib.sha256(value.strip().lower().encode()).hexdigest()[:length]


def thread_id_for(
    *,
    order_id: str | None,
    buyer_address: str,
    message_id: str,
    in_reply_to: str | None = None,
    references: Sequence[str] = (),
) -> str:
    """The stable id of the conversation a mail belongs to (see the module docstring)."""
    if order_id:
        return f"order:{order_id}:{short_hash(buyer_address)}"
    root = references[0] if references else in_reply_to or message_id
    thread_id = f"ref:{root}"
    if len(thread_id) > THREAD_ID_MAX:  # absurdly long ids: keep them stable, not whole
        thread_id = f"ref:#{short_hash(root, 40)}"
    return thread_id


def root_of(thread_id: str) -> str | None:
    """The conversation's root message id when the thread id carries it."""
    if thread_id.startswith("ref:") and not thread_id.startswith("ref:#"):
        return thread_id.removeprefix("ref:")
    return None


def reply_references(thread_id: str, known_ids: Iterable[str]) -> list[str]:
    """``References`` of a reply: the root, then the conversation's ids, oldest first.

    ``known_ids`` are the message ids Parley has for the thread, in time order; the
    last of them is what the reply answers. A long chain keeps its root and its most
    recent ids.
    """
    chain: list[str] = []
    root = root_of(thread_id)
    for mid in [root, *known_ids] if root else known_ids:
        if mid and mid not in chain:
            chain.append(mid)
    if len(chain) > MAX_REFERENCES:
        chain = [chain[0], *chain[-(MAX_REFERENCES - 1) :]]
    return chain


def bracketed(ids: Iterable[str]) -> str:
    return " ".join(f"<{mid}>" for mid in ids)
