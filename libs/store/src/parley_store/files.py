"""Parley's file storage (attachments, invoices) in GridFS, referenced by id.

Files are deduplicated by a caller-chosen ``key`` (e.g. connection + marketplace
attachment id), so a thread synced again never downloads or stores a file twice.
"""

from __future__ import annotations

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
