"""Parley's file storage (attachments, invoices) in GridFS, referenced by id.

Files are deduplicated by a caller-chosen ``key`` (e.g. connection + marketplace
attachment id), so a thread synced again never downloads or stores a file twice.

The key is found by ``_id``: ``file_keys`` holds one small document per key whose
``_id`` *is* the key, naming the GridFS file. A lookup by ``_id`` is the one query a
MongoDB-compatible server always serves from its primary key (FerretDB v1 pushes down
nothing else on SQLite; asking GridFS's ``files`` collection for ``metadata.key``
read and decoded every stored file's document on each attachment of each sync).
The file ids stay GridFS ObjectIds, so every stored reference keeps working; the key
is also kept in the file's metadata, for people reading the bucket.

The key document is written after the upload: a reader never finds a key whose file
is not whole. Two processes storing the same key at once both upload; the first key
document wins and the loser deletes its own copy, so one file is kept per key.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from gridfs import AsyncGridFSBucket, NoFile
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

BUCKET = "files"
FILE_KEYS = "file_keys"  # _id: the caller's key; file_id: the GridFS file (ObjectId)


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
        self._keys = db[FILE_KEYS]

    async def find(self, key: str) -> str | None:
        """The file stored under ``key``, if any: one read by ``_id``."""
        doc = await self._keys.find_one({"_id": key})
        return str(doc["file_id"]) if doc else None

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
        try:
            await self._keys.insert_one({"_id": key, "file_id": file_id})
        except DuplicateKeyError:  # stored by someone else meanwhile: theirs is kept
            await self._bucket.delete(file_id)
            winner = await self.find(key)
            assert winner is not None
            return winner
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
