"""What the commands print: plain tables for people, JSON for details."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit


class Refused(Exception):
    """The command cannot be carried out; the message says why (exit status 1)."""


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns aligned on the widest cell; one line per row, no trailing blanks."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    lines = [headers, *rows]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


def when(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value is not None else "-"


def without_query(url: str) -> str:
    """A URL without user info, query string or fragment (where keys may travel)."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def as_json(value: dict[str, Any]) -> str:
    return json.dumps(value, indent=2, sort_keys=False, default=str, ensure_ascii=False)
