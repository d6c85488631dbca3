"""Typed views of the Fnac Marketplace API's XML (``messages_query``, ``messages_update``).

Element and attribute names are Fnac's own (XSDs ``MessagesQueryService.xsd``,
``MessagesUpdateService.xsd``, ``AuthenticationService.xsd``, ``base.xsd``, namespace
``http://www.fnac.com/schemas/mp-dialog.xsd``), so a model reads like the schema.

Parsing goes through :mod:`defusedxml` (answers are untrusted input: no entity
expansion, no external entities) and then the standard ElementTree API; never string
matching. It is lenient where the schema leaves room (unknown elements are ignored
and kept in :attr:`FnacMessage.raw`, enumerations stay plain strings) and strict
where Parley cannot work without a value: a message without ``message_id``,
``message_referer``, ``created_at`` or ``message_description`` fails with a
:class:`FnacPayloadError` naming the message, so the caller dead-letters that one
thread and goes on.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from parley_connectors import xmltree
from parley_connectors.errors import PayloadError
from parley_connectors.xmltree import child, children, text
from parley_schemas import as_utc

NAMESPACE = "http://www.fnac.com/schemas/mp-dialog.xsd"

# message_from/@type (answers) and _from_type (query filter, which adds SYSTEM).
CLIENT, CALLCENTER, SELLER, SYSTEM = "CLIENT", "CALLCENTER", "SELLER", "SYSTEM"
# message_referer/@type and message_type.
ORDER, OFFER = "ORDER", "OFFER"
# message_to (messages_update): CALLCENTER only while the order is in incident.
TO_CLIENT, TO_CALLCENTER, TO_ALL = "CLIENT", "CALLCENTER", "ALL"
# message_subject enumeration of messages_update.
SUBJECTS = frozenset(
    {
        "product_information",
        "shipping_information",
        "order_information",
        "offer_problem",
        "offer_not_received",
        "other_question",
    }
)


class FnacPayloadError(PayloadError):
    """A Fnac answer that does not match the documented shape."""


def thread_id_for(referer_type: str, referer: str) -> str:
    """Parley's id for a Fnac conversation: ``order:<order id>`` or ``offer:<offer ref>``.

    Fnac has no thread object; its messages share a ``message_referer``. The id is
    built from that referer only, so it is the same at every sync.
    """
    return f"{referer_type.lower()}:{referer}"


def split_thread_id(thread_id: str) -> tuple[str, str]:
    """``order:7F3A9C21B04D2`` → ``("ORDER", "7F3A9C21B04D2")``; ValueError otherwise."""
    kind, _, referer = thread_id.partition(":")
    if kind.upper() not in (ORDER, OFFER) or not referer:
        raise ValueError(f"not a Fnac thread id: {thread_id!r}")
    return kind.upper(), referer


# --- XML plumbing ---------------------------------------------------------------------


def parse_xml(data: bytes, what: str) -> ET.Element:
    """The document's root element, or :class:`FnacPayloadError` if it is not XML."""
    return xmltree.parse_xml(data, what, FnacPayloadError)


def body_text(element: ET.Element, name: str) -> str | None:
    """Like :func:`text`, but keeps inner whitespace and line breaks (message bodies)."""
    found = child(element, name)
    if found is None or found.text is None:
        return None
    return found.text.strip("\r\n") if found.text.strip() else None


def as_dict(element: ET.Element) -> dict[str, Any]:
    """The element as plain data for ``payload``: texts as sent, mixed text as ``#text``."""
    return xmltree.as_dict(element)


def parse_datetime(value: str) -> datetime:
    """``xs:dateTime`` (``2016-08-29T17:53:51+02:00``); a naive one is read as UTC."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return as_utc(parsed)


def format_datetime(value: datetime) -> str:
    """``xs:dateTime`` in UTC with an explicit offset, e.g. ``2026-04-01T09:30:00+00:00``."""
    return as_utc(value).replace(microsecond=0).isoformat()


# --- errors in answers ----------------------------------------------------------------


@dataclass(frozen=True)
class FnacError:
    """An ``<error severity code>`` element: Fnac's explanation of a refusal."""

    message: str
    code: str | None = None
    severity: str | None = None

    @classmethod
    def read_all(cls, element: ET.Element) -> list[FnacError]:
        return [
            cls(
                message=(item.text or "").strip(),
                code=item.get("code"),
                severity=item.get("severity"),
            )
            for item in children(element, "error")
        ]

    def __str__(self) -> str:
        where = f"[{self.code}] " if self.code else ""
        return f"{where}{self.message}".strip()


# --- messages_query -------------------------------------------------------------------


@dataclass(frozen=True)
class FnacFile:
    """A ``message_file``: a file joined to a message, downloadable from ``url``."""

    name: str
    url: str
    filetype: str | None = None


@dataclass(frozen=True)
class FnacMessage:
    """One ``message`` of a ``messages_query_response``.

    Fnac lists messages one by one; a conversation is the set of messages sharing a
    ``message_referer`` (an order id or an offer reference) — see :attr:`thread_key`.
    """

    message_id: str
    referer: str
    referer_type: str
    description: str
    created_at: datetime
    updated_at: datetime
    from_type: str | None = None
    from_name: str | None = None
    subject: str | None = None
    offer_title: str | None = None
    state: str | None = None
    archived: str | None = None
    answer: str | None = None
    answer_at: datetime | None = None
    files: tuple[FnacFile, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def thread_key(self) -> tuple[str, str]:
        return (self.referer_type, self.referer)

    @property
    def thread_id(self) -> str:
        return thread_id_for(self.referer_type, self.referer)

    @property
    def read(self) -> bool:
        return (self.state or "").upper() == "READ"

    @classmethod
    def parse(cls, element: ET.Element) -> FnacMessage:
        """Reads one message, or raises :class:`FnacPayloadError` saying what is wrong."""
        raw = as_dict(element)
        message_id = text(element, "message_id")
        referer_element = child(element, "message_referer")
        referer = (referer_element.text or "").strip() if referer_element is not None else ""
        referer_type = ""
        if referer_element is not None:
            referer_type = (referer_element.get("type") or "").upper()
        thread = thread_id_for(referer_type, referer) if referer and referer_type else None
        problems = []
        if not message_id:
            problems.append("message_id is missing")
        if not referer or not referer_type:
            problems.append("message_referer (with its type) is missing")
        description = body_text(element, "message_description")
        if description is None:
            problems.append("message_description is missing")
        created_text = text(element, "created_at")
        updated_text = text(element, "updated_at") or created_text
        created_at = updated_at = answer_at = None
        try:
            created_at = parse_datetime(created_text) if created_text else None
            updated_at = parse_datetime(updated_text) if updated_text else None
            answer_at_text = text(element, "answer_at")
            answer_at = parse_datetime(answer_at_text) if answer_at_text else None
        except ValueError as exc:
            problems.append(f"a date is not xs:dateTime ({exc})")
        if created_at is None and not any("date" in p for p in problems):
            problems.append("created_at is missing")
        if problems:
            where = f"message {message_id}: " if message_id else ""
            raise FnacPayloadError(where + "; ".join(problems), thread_id=thread, payload=raw)
        assert message_id and description is not None and created_at is not None
        sender = child(element, "message_from")
        from_type = from_name = None
        if sender is not None:
            from_type = (sender.get("type") or "").upper() or None
            from_name = (sender.text or "").strip() or None
        files = []
        for item in children(element, "message_file"):
            url = text(item, "url")
            if url:
                name = text(item, "name") or url
                files.append(FnacFile(name=name, url=url, filetype=text(item, "filetype")))
        return cls(
            message_id=message_id,
            referer=referer,
            referer_type=referer_type,
            description=description,
            created_at=created_at,
            updated_at=updated_at or created_at,
            from_type=from_type,
            from_name=from_name,
            subject=text(element, "message_subject"),
            offer_title=text(element, "message_offer_title"),
            state=element.get("state"),
            archived=element.get("archived"),
            answer=body_text(element, "answer"),
            answer_at=answer_at,
            files=tuple(files),
            raw=raw,
        )


@dataclass(frozen=True)
class FnacPage:
    """One page of ``messages_query``: its messages (or their errors) and where it stands."""

    page: int
    total_paging: int
    nb_total_result: int | None
    messages: list[FnacMessage | FnacPayloadError]

    @property
    def last(self) -> bool:
        return self.page >= self.total_paging

    @classmethod
    def parse(cls, root: ET.Element) -> FnacPage:
        raw_page, raw_total = text(root, "page"), text(root, "total_paging")
        try:
            page = int(raw_page) if raw_page else 1
            total = int(raw_total) if raw_total else page
            count_text = text(root, "nb_total_result")
            count = int(count_text) if count_text else None
        except ValueError as exc:
            raise FnacPayloadError(f"messages_query paging is not a number: {exc}") from exc
        messages: list[FnacMessage | FnacPayloadError] = []
        for element in children(root, "message"):
            try:
                messages.append(FnacMessage.parse(element))
            except FnacPayloadError as exc:
                messages.append(exc)
        return cls(page=page, total_paging=total, nb_total_result=count, messages=messages)


# --- auth and messages_update ---------------------------------------------------------


@dataclass(frozen=True)
class FnacToken:
    """An ``auth_response``: the session token and until when it is valid."""

    token: str
    validity: datetime | None
    version: str | None = None


@dataclass(frozen=True)
class FnacUpdateResult:
    """A ``messages_update_response`` line: the message acted on and how it went.

    Fnac answers with the id of the message the action was applied to (for ``reply``,
    the message replied to), not with an id for the message it created.
    """

    message_id: str
    status: str
    errors: tuple[FnacError, ...] = ()
