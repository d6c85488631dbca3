"""Reading the XML answers of the XML families (Fnac, Rakuten) the same way.

Answers are untrusted input, so they are parsed through :mod:`defusedxml` (no entity
expansion, no external entities) and then read with the standard ElementTree API,
never by string matching. Both families namespace some answers and not others and
use unique element names, so elements are looked up by their local name.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any, cast

import defusedxml.ElementTree as SafeET  # type: ignore[import-untyped]
from defusedxml import DefusedXmlException

from parley_connectors.errors import PayloadError


def parse_xml(data: bytes, what: str, error: type[PayloadError]) -> ET.Element:
    """The document's root element, or the family's ``error`` if it is not (safe) XML."""
    try:
        return cast(ET.Element, SafeET.fromstring(data))
    except (ET.ParseError, DefusedXmlException, ValueError) as exc:
        snippet = data[:80].decode("utf-8", errors="replace")
        raise error(f"{what} answer is not XML: {snippet!r}") from exc


def local(tag: str) -> str:
    """``{namespace}name`` → ``name``."""
    return tag.rsplit("}", 1)[-1]


def child(element: ET.Element, name: str) -> ET.Element | None:
    for item in element:
        if local(item.tag) == name:
            return item
    return None


def children(element: ET.Element, name: str) -> list[ET.Element]:
    return [item for item in element if local(item.tag) == name]


def text(element: ET.Element, name: str) -> str | None:
    """The stripped text of a child element; ``None`` when absent or empty."""
    found = child(element, name)
    if found is None or found.text is None:
        return None
    value = found.text.strip()
    return value or None


def as_dict(
    element: ET.Element, *, strip_leaves: bool = False, mixed_text: bool = True
) -> dict[str, Any]:
    """The element as plain data, for ``payload`` (audit, replays, dead letters).

    Attributes become ``@name``; a repeated child becomes a list. A leaf's text is
    kept as is unless ``strip_leaves``; with ``mixed_text`` an element's own text,
    next to children or attributes, is kept as ``#text``.
    """
    out: dict[str, Any] = {f"@{local(k)}": v for k, v in element.attrib.items()}
    for item in element:
        value: Any
        if len(item) or item.attrib:
            value = as_dict(item, strip_leaves=strip_leaves, mixed_text=mixed_text)
        else:
            value = (item.text or "").strip() if strip_leaves else (item.text or "")
        name = local(item.tag)
        if name in out:
            previous = out[name]
            out[name] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            out[name] = value
    if mixed_text and element.text and element.text.strip() and (len(element) or element.attrib):
        out["#text"] = element.text.strip()
    return out


__all__ = ["as_dict", "child", "children", "local", "parse_xml", "text"]
