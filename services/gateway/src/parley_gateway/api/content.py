"""Headers of file downloads."""

from __future__ import annotations

from urllib.parse import quote

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
