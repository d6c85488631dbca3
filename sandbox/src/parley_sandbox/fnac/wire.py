"""The documented Fnac XML shapes, rendered from the sandbox's state.

Element order follows ``MessagesQueryService.xsd`` (``_message_query_response``):
message_id, message_referer, message_from, message_offer_title, message_subject,
message_description, created_at, updated_at, answer, answer_at, message_file.
Roots carry the ``http://www.fnac.com/schemas/mp-dialog.xsd`` namespace and the
``status`` attribute every answer has (``base.xsd`` ``base_response``).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, datetime

from parley_sandbox.fnac.store import StoredMessage

NAMESPACE = "http://www.fnac.com/schemas/mp-dialog.xsd"


def xs_datetime(value: datetime) -> str:
    """``2016-08-29T17:53:51+00:00``: ``xs:dateTime`` with an offset, to the second."""
    return value.astimezone(UTC).replace(microsecond=0).isoformat()


def root(name: str, status: str = "OK") -> ET.Element:
    return ET.Element(name, {"status": status, "xmlns": NAMESPACE})


def add(parent: ET.Element, name: str, value: str | None, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, name, attributes)
    if value is not None:
        element.text = value
    return element


def error(parent: ET.Element, message: str, code: str, severity: str = "ERROR") -> None:
    add(parent, "error", message, severity=severity, code=code)


def serialize(element: ET.Element) -> bytes:
    data: bytes = ET.tostring(element, encoding="utf-8", xml_declaration=True)
    return data


def message(parent: ET.Element, item: StoredMessage, file_url: Callable[[str], str]) -> None:
    element = ET.SubElement(
        parent,
        "message",
        {"state": item.state, "archived": "TRUE" if item.archived else "FALSE"},
    )
    add(element, "message_id", item.id)
    add(element, "message_referer", item.referer, type=item.referer_type)
    add(element, "message_from", item.from_name, type=item.from_type)
    if item.offer_title:
        add(element, "message_offer_title", item.offer_title)
    add(element, "message_subject", item.subject)
    add(element, "message_description", item.description)
    add(element, "created_at", xs_datetime(item.created_at))
    add(element, "updated_at", xs_datetime(item.updated_at))
    if item.answer is not None and item.answer_at is not None:
        add(element, "answer", item.answer)
        add(element, "answer_at", xs_datetime(item.answer_at))
    for stored in item.files:
        file_element = ET.SubElement(element, "message_file")
        add(file_element, "name", stored.name)
        add(file_element, "url", file_url(stored.id))
        add(file_element, "filetype", stored.content_type)


def corrupt(element: ET.Element) -> None:
    """A message that still names itself but lost what every reader needs."""
    for name in ("message_description", "created_at", "updated_at"):
        for child in list(element):
            if child.tag == name:
                element.remove(child)
