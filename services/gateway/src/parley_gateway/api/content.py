"""File downloads: one response shape for every route that serves a stored file."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from fastapi.responses import StreamingResponse

from parley_store import FileDownload

# The OpenAPI description of a successful download.
FILE_RESPONSE: dict[str, Any] = {
    "description": "The file, with its type and name (Content-Disposition)",
    "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
}

_UNSAFE_IN_QUOTED = str.maketrans({'"': "'", "\\": "_", "\r": " ", "\n": " "})


def content_disposition(filename: str) -> str:
    """``attachment`` with the file's name, readable by every client (RFC 6266).

    ``filename`` is an ASCII fallback for old clients; ``filename*`` (RFC 8187) carries
    the real name in UTF-8, so "Facture n°12.pdf" survives. Marketplace file names come
    from buyers: quotes and line breaks are neutralised so they cannot break the header.
    """
    fallback = (
        filename.encode("ascii", "replace").decode("ascii").translate(_UNSAFE_IN_QUOTED)
    ) or "attachment"
    encoded = quote(filename, safe="")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"


def file_response(
    download: FileDownload, extra_headers: Mapping[str, str] | None = None
) -> StreamingResponse:
    """Streams the stored file chunk by chunk, under its own type and name.

    Files come from buyers and merchants: ``nosniff`` and a sandbox CSP keep a browser
    from ever running one as a page of this API.
    """
    return StreamingResponse(
        download.chunks,
        media_type=download.content_type,
        headers={
            "Content-Length": str(download.size),
            "Content-Disposition": content_disposition(download.name),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox",
            **(extra_headers or {}),
        },
    )
