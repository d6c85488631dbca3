"""Files going to and coming from a marketplace's messaging API, whatever its family.

A reply's attachment and a downloaded attachment look the same to every family that
carries files by id (Mirakl, Allegro): a name, a media type and the bytes. Families
whose files are addressed otherwise (Fnac's by URL) keep their own type.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OutgoingFile:
    """A file to attach to a reply."""

    name: str
    content: bytes
    content_type: str = "application/octet-stream"


@dataclass(frozen=True)
class DownloadedFile:
    """An attachment's bytes as the marketplace served them, with its name and type."""

    attachment_id: str
    name: str
    content_type: str
    content: bytes

    @property
    def size(self) -> int:
        return len(self.content)


__all__ = ["DownloadedFile", "OutgoingFile"]
