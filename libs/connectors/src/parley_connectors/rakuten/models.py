"""Typed views of Rakuten France's (ex-PriceMinister) ``sales_ws`` XML answers.

Element names are Rakuten's own (``getitemtodolistresult``, ``getiteminfosresult``,
``contactuseraboutitemresult``, ``errorresponse``), so a model reads like the
documentation's examples. Parsing goes through :mod:`defusedxml` (answers are
untrusted input) and then the ElementTree API, never string matching.

Rakuten gives buyer-seller ``message`` elements no id, only ``sender``,
``recipient``, ``senddate``, ``content`` and ``status``; Parley needs one that stays
the same at every sync, so :func:`message_id_for` derives it from the item id and the
message's own fields (plus an ordinal for exact repeats). ``mail`` elements (Rakuten
France's customer service) carry a ``mailid``, used as is.
"""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from parley_connectors import xmltree
from parley_connectors.errors import PayloadError
from parley_connectors.xmltree import child, children, local, text
from parley_schemas import as_utc

# Rakuten shows dates as Paris wall-clock time, to the minute ("15/02/2011-11:46").
RAKUTEN_TIMEZONE = ZoneInfo("Europe/Paris")
MESSAGE, MAIL = "message", "mail"


class RakutenPayloadError(PayloadError):
    """A Rakuten answer that does not match the documented shape."""


def thread_id_for(itemid: str) -> str:
    """Parley's id for the conversation about one sold item: ``item:<itemid>``."""
    return f"item:{itemid}"


def split_thread_id(thread_id: str) -> str:
    """``item:1510836652`` → ``1510836652``; ValueError otherwise."""
    kind, _, itemid = thread_id.partition(":")
    if kind != "item" or not itemid.isdigit():
        raise ValueError(f"not a Rakuten thread id: {thread_id!r}")
    return itemid


# --- XML plumbing ---------------------------------------------------------------------


def parse_xml(data: bytes, what: str) -> ET.Element:
    """The document's root element, or :class:`RakutenPayloadError` if it is not XML."""
    return xmltree.parse_xml(data, what, RakutenPayloadError)


def as_dict(element: ET.Element) -> dict[str, Any]:
    """The element as plain data for ``payload``: stripped texts, no ``#text``."""
    return xmltree.as_dict(element, strip_leaves=True, mixed_text=False)


def parse_date(value: str) -> datetime:
    """``15/02/2011-11:46`` (Paris time; spaces tolerated, seconds optional) → UTC."""
    compact = "".join(value.split())
    for pattern in ("%d/%m/%Y-%H:%M:%S", "%d/%m/%Y-%H:%M", "%d/%m/%Y"):
        try:
            naive = datetime.strptime(compact, pattern)
        except ValueError:
            continue
        return naive.replace(tzinfo=RAKUTEN_TIMEZONE).astimezone(UTC)
    parsed = datetime.fromisoformat(value.strip())  # raises ValueError when unreadable
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=RAKUTEN_TIMEZONE)
    return parsed.astimezone(UTC)


def format_date(value: datetime) -> str:
    """UTC → Rakuten's ``dd/mm/yyyy-HH:MM`` in Paris time."""
    return as_utc(value).astimezone(RAKUTEN_TIMEZONE).strftime("%d/%m/%Y-%H:%M")


def message_id_for(itemid: str, sender: str, sent: str, content: str, ordinal: int = 1) -> str:
    """A stable id for an id-less ``message``: same fields, same id, at every sync."""
    digest = hashlib.sha256("\x1f".join((itemid, sender, sent, content)).encode()).hexdigest()
    suffix = f"-{ordinal}" if ordinal > 1 else ""
    return f"msg-{digest[:24]}{suffix}"


# --- errors ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RakutenError:
    """An ``errorresponse/error``: ``type`` (Sender, ServerError …), ``code``, ``message``."""

    type: str
    code: str
    message: str
    details: tuple[str, ...] = ()

    @classmethod
    def parse(cls, root: ET.Element) -> RakutenError:
        error = child(root, "error")
        if error is None:
            return cls(type="", code="", message="error answer without <error>")
        details_element = child(error, "details")
        details = tuple(
            (d.text or "").strip()
            for d in (children(details_element, "detail") if details_element is not None else [])
            if (d.text or "").strip()
        )
        return cls(
            type=text(error, "type") or "",
            code=text(error, "code") or "",
            message=text(error, "message") or "",
            details=details,
        )

    def __str__(self) -> str:
        explained = " ".join([self.message, *self.details]).strip()
        return f"{self.type}/{self.code}: {explained}"


# --- getitemtodolist ------------------------------------------------------------------


@dataclass(frozen=True)
class RakutenTodoItem:
    """A sold item the seller has something to do about (claim, unread message or mail)."""

    itemid: str
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class RakutenTodoPage:
    items: list[RakutenTodoItem | RakutenPayloadError]
    next_token: str | None

    @classmethod
    def parse(cls, root: ET.Element) -> RakutenTodoPage:
        response = child(root, "response")
        if response is None:
            raise RakutenPayloadError("getitemtodolist answer has no <response>")
        items_element = child(response, "items")
        holder = items_element if items_element is not None else response
        items: list[RakutenTodoItem | RakutenPayloadError] = []
        for element in children(holder, "item"):
            itemid = text(element, "itemid")
            if itemid is None or not itemid.isdigit():
                items.append(
                    RakutenPayloadError(
                        "a to-do item has no numeric itemid", payload=as_dict(element)
                    )
                )
                continue
            items.append(RakutenTodoItem(itemid=itemid, raw=as_dict(element)))
        return cls(items=items, next_token=text(response, "nexttoken"))


# --- getiteminfos ---------------------------------------------------------------------


@dataclass(frozen=True)
class RakutenMessage:
    """A ``message`` (buyer ↔ seller) or a ``mail`` (Rakuten France's customer service)."""

    kind: str  # MESSAGE | MAIL
    message_id: str
    sender: str
    recipient: str | None
    sent_at: datetime
    content: str
    status: str | None = None
    subject: str | None = None  # a mail's <object>


@dataclass(frozen=True)
class RakutenItem:
    """One ``getiteminfosresult/response/item``: a sold item and its conversation."""

    itemid: str
    seller_id: str | None
    purchase_id: str | None
    date: datetime | None
    item_state: str | None
    item_state_label: str | None
    headline: str | None
    messages: tuple[RakutenMessage, ...]
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def thread_id(self) -> str:
        return thread_id_for(self.itemid)

    @property
    def last_activity(self) -> datetime | None:
        dates = [m.sent_at for m in self.messages]
        return max(dates) if dates else self.date

    @classmethod
    def parse(cls, root: ET.Element, asked: str) -> RakutenItem:
        """Reads the item, or raises :class:`RakutenPayloadError` naming its thread."""
        thread = thread_id_for(asked)
        response = child(root, "response")
        element = child(response, "item") if response is not None else None
        if element is None:
            raise RakutenPayloadError("getiteminfos answer has no <item>", thread_id=thread)
        raw = as_dict(root)
        itemid = text(element, "itemid")
        if itemid != asked:
            raise RakutenPayloadError(
                f"asked for item {asked}, Rakuten answered item {itemid}",
                thread_id=thread,
                payload=raw,
            )
        problems: list[str] = []
        messages: list[RakutenMessage] = []
        seen: dict[tuple[str, str, str], int] = {}
        for position, node in enumerate(element):
            kind = local(node.tag)
            if kind not in (MESSAGE, MAIL):
                continue
            sender, sent, content = text(node, "sender"), text(node, "senddate"), None
            content_element = child(node, "content")
            if content_element is not None and content_element.text is not None:
                content = content_element.text.strip()
            where = f"{kind} #{position}"
            if not sender or not sent or content is None:
                problems.append(f"{where} misses sender, senddate or content")
                continue
            try:
                sent_at = parse_date(sent)
            except ValueError:
                problems.append(f"{where} senddate {sent!r} is not a date")
                continue
            if kind == MAIL:
                mail_id = text(node, "mailid")
                if not mail_id:
                    problems.append(f"{where} has no mailid")
                    continue
                message_id = f"mail-{mail_id}"
            else:
                key = (sender, sent, content)
                seen[key] = seen.get(key, 0) + 1
                message_id = message_id_for(itemid, sender, sent, content, seen[key])
            messages.append(
                RakutenMessage(
                    kind=kind,
                    message_id=message_id,
                    sender=sender,
                    recipient=text(node, "recipient"),
                    sent_at=sent_at,
                    content=content,
                    status=text(node, "status"),
                    subject=text(node, "object"),
                )
            )
        date_text = text(element, "date")
        try:
            date = parse_date(date_text) if date_text else None
        except ValueError:
            problems.append(f"item date {date_text!r} is not a date")
            date = None
        if problems:
            raise RakutenPayloadError("; ".join(problems[:3]), thread_id=thread, payload=raw)
        # Rakuten lists newest first (documentation example); dates are to the minute, so
        # ties keep that order reversed: oldest first, in the order Rakuten gave.
        messages.reverse()
        messages.sort(key=lambda m: m.sent_at)
        return cls(
            itemid=itemid,
            seller_id=text(response, "sellerid") if response is not None else None,
            purchase_id=text(element, "purchaseid"),
            date=date,
            item_state=text(element, "itemstate"),
            item_state_label=text(element, "itemstatelabel"),
            headline=text(element, "headline"),
            messages=tuple(messages),
            raw=raw,
        )
