"""Parley's file storage (attachments, invoices) in GridFS, referenced by id.

Files are deduplicated by a caller-chosen ``key`` (e.g. connection + marketplace
attachment id), so a thread synced again never downloads or stores a file twice.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from gridfs import AsyncGridFSBucket, NoFile
from pymongo.asynchronous.database import AsyncDatabase

BUCKET = "files"


@dataclass(frozen=True)
class StoredFile:
    file_id: str
    name: str
    content_type: str
    size: int
    content: bytes


@dataclass(frozen=True)
class FileDownload:
    """A stored file's description, and its content as an iterator of GridFS chunks:
    serving an attachment never holds the whole file in memory."""

    file_id: str
    name: str
    content_type: str
    size: int
    chunks: AsyncIterator[bytes]


@dataclass(frozen=True)
class FileInfo:
    """What is known of a stored file without its content. ``store_id`` is set on files
    a merchant uploaded for a store (replies may attach only those of their store)."""

    file_id: str
    name: str
    content_type: str
    size: int
    store_id: str | None = None


class FileNotStored(LookupError):
    """No file with that id."""


class GridFsFileStore:
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self._bucket = AsyncGridFSBucket(db, bucket_name=BUCKET)
        self._files = db[f"{BUCKET}.files"]

    async def find(self, key: str) -> str | None:
        doc = await self._files.find_one({"metadata.key": key}, {"_id": 1})
        return str(doc["_id"]) if doc else None

    async def save(
        self, key: str, name: str, content_type: str, content: bytes, **metadata: str
    ) -> str:
        existing = await self.find(key)
        if existing is not None:
            return existing
        file_id = await self._bucket.upload_from_stream(
            name,
            content,
            metadata={"key": key, "content_type": content_type, **metadata},
        )
        return str(file_id)

    async def open(self, file_id: str) -> StoredFile:
        try:
            oid = ObjectId(file_id)
            stream = await self._bucket.open_download_stream(oid)
        except (InvalidId, NoFile) as exc:
            raise FileNotStored(file_id) from exc
        content = await stream.read()
        meta = stream.metadata or {}
        return StoredFile(
            file_id=file_id,
            name=stream.filename or file_id,
            content_type=str(meta.get("content_type", "application/octet-stream")),
            size=len(content),
            content=content,
        )

    async def download(self, file_id: str) -> FileDownload:
        """The file, read chunk by chunk as the iterator is consumed.

        Raises FileNotStored before anything is read, so a caller can still answer 404.
        """
        try:
            stream = await self._bucket.open_download_stream(ObjectId(file_id))
        except (InvalidId, NoFile) as exc:
            raise FileNotStored(file_id) from exc
        meta = stream.metadata or {}

        async def chunks() -> AsyncIterator[bytes]:
            try:
                while chunk := await stream.readchunk():
                    yield chunk
            finally:
                await stream.close()

        return FileDownload(
            file_id=file_id,
            name=stream.filename or file_id,
            content_type=str(meta.get("content_type", "application/octet-stream")),
            size=int(stream.length),
            chunks=chunks(),
        )

    async def describe(self, file_id: str) -> FileInfo | None:
        """A stored file's name, type, size and owner, without reading its content."""
        try:
            oid = ObjectId(file_id)
        except InvalidId:
            return None
        doc = await self._files.find_one({"_id": oid}, {"filename": 1, "length": 1, "metadata": 1})
        if doc is None:
            return None
        meta = doc.get("metadata") or {}
        return FileInfo(
            file_id=file_id,
            name=str(doc.get("filename") or file_id),
            content_type=str(meta.get("content_type", "application/octet-stream")),
            size=int(doc.get("length", 0)),
            store_id=meta.get("store_id"),
        )
