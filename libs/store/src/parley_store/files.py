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

One writer per bucket (parley_store.collections.OWNERS): ingest stores the attachments
it downloads in ``files`` (keys in ``file_keys``), the gateway the files merchants
upload in ``uploads`` (keys in ``upload_keys``). Each writes through its own
:class:`GridFsFileStore`; everyone reads through :class:`GridFsFileReader`, which
finds a file id in either bucket (an ObjectId is unique across them; uploads stored
in ``files`` before the split are still found there).

The key document is written after the upload: a reader never finds a key whose file
is not whole. Two processes storing the same key at once both upload; the first key
document wins and the loser deletes its own copy, so one file is kept per key.

The content too is read by ``_id``. The bucket keeps GridFS's layout (``files`` and
``chunks``, so any GridFS tool reads it), but each chunk's ``_id`` is derived from the
file id and the chunk number (:func:`chunk_id`) instead of being random: a reader
fetches chunk after chunk by ``_id``, where GridFS's own reader asks ``chunks`` for
``files_id`` sorted by ``n`` (on FerretDB v1, a scan of every stored file's bytes for
each attachment a reply sends or a buyer downloads). Files written by plain GridFS
are still read its way. Uploading ourselves also skips GridFS's per-upload look at
whether the bucket has its indexes.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bson import Binary, ObjectId
from bson.errors import InvalidId
from gridfs import AsyncGridFSBucket, NoFile
from gridfs.errors import CorruptGridFile
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

BUCKET = "files"  # ingest's: attachments downloaded from marketplaces and mail
FILE_KEYS = "file_keys"  # _id: the caller's key; file_id: the GridFS file (ObjectId)
UPLOADS_BUCKET = "uploads"  # the gateway's: files merchants upload for their replies
UPLOAD_KEYS = "upload_keys"
READ_BUCKETS = (BUCKET, UPLOADS_BUCKET)
CHUNK_SIZE = 255 * 1024  # GridFS's default


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


class GridFsFileReader:
    """Reads files by id from any of ``buckets`` (the first holding it wins)."""

    def __init__(self, db: AsyncDatabase[Any], buckets: tuple[str, ...] = READ_BUCKETS) -> None:
        self._read = [
            (db[f"{name}.files"], db[f"{name}.chunks"], AsyncGridFSBucket(db, bucket_name=name))
            for name in buckets
        ]

    async def _file(self, file_id: str) -> tuple[ObjectId, dict[str, Any], int]:
        """The file's id, document and the index of the bucket holding it."""
        try:
            oid = ObjectId(file_id)
        except InvalidId as exc:
            raise FileNotStored(file_id) from exc
        for index, (files, _, _) in enumerate(self._read):
            doc = await files.find_one({"_id": oid})
            if doc is not None:
                return oid, doc, index
        raise FileNotStored(file_id)

    async def _chunks_of(
        self, oid: ObjectId, doc: dict[str, Any], bucket: int = 0
    ) -> AsyncIterator[bytes]:
        """The file's chunks in order, each read by its ``_id``; a file stored by plain
        GridFS (random chunk ids) is read the GridFS way, by ``files_id``."""
        length = int(doc.get("length", 0))
        size = int(doc.get("chunkSize") or CHUNK_SIZE)
        count = _chunk_count(length, size)
        _, chunks, grid = self._read[bucket]
        for n in range(count):
            chunk = await chunks.find_one({"_id": chunk_id(oid, n)})
            if chunk is None and n == 0:
                stream = await grid.open_download_stream(oid)
                try:
                    while data := await stream.readchunk():
                        yield data
                finally:
                    await stream.close()
                return
            expected = size if n < count - 1 else length - size * (count - 1)
            if chunk is None or len(chunk["data"]) != expected:
                raise CorruptGridFile(f"chunk {n} of file {oid} is missing or truncated")
            yield bytes(chunk["data"])

    async def open(self, file_id: str) -> StoredFile:
        try:
            oid, doc, bucket = await self._file(file_id)
            content = b"".join([data async for data in self._chunks_of(oid, doc, bucket)])
        except NoFile as exc:
            raise FileNotStored(file_id) from exc
        meta = doc.get("metadata") or {}
        return StoredFile(
            file_id=file_id,
            name=str(doc.get("filename") or file_id),
            content_type=str(meta.get("content_type", "application/octet-stream")),
            size=len(content),
            content=content,
        )

    async def download(self, file_id: str) -> FileDownload:
        """The file, read chunk by chunk as the iterator is consumed.

        Raises FileNotStored before anything is read, so a caller can still answer 404.
        """
        oid, doc, bucket = await self._file(file_id)
        meta = doc.get("metadata") or {}
        return FileDownload(
            file_id=file_id,
            name=str(doc.get("filename") or file_id),
            content_type=str(meta.get("content_type", "application/octet-stream")),
            size=int(doc.get("length", 0)),
            chunks=self._chunks_of(oid, doc, bucket),
        )

    async def describe(self, file_id: str) -> FileInfo | None:
        """A stored file's name, type, size and owner, without reading its content."""
        try:
            oid = ObjectId(file_id)
        except InvalidId:
            return None
        doc = None
        for files, _, _ in self._read:
            doc = await files.find_one({"_id": oid}, {"filename": 1, "length": 1, "metadata": 1})
            if doc is not None:
                break
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


class GridFsFileStore(GridFsFileReader):
    """The one writer of ``bucket`` (and its ``keys``); reads like the reader."""

    def __init__(self, db: AsyncDatabase[Any], bucket: str = BUCKET, keys: str = FILE_KEYS) -> None:
        super().__init__(db, (bucket, *(b for b in READ_BUCKETS if b != bucket)))
        self._files = db[f"{bucket}.files"]
        self._chunks = db[f"{bucket}.chunks"]
        self._keys = db[keys]

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
        file_id = await self._upload(
            name, content, {"key": key, "content_type": content_type, **metadata}
        )
        try:
            await self._keys.insert_one({"_id": key, "file_id": file_id})
        except DuplicateKeyError:  # stored by someone else meanwhile: theirs is kept
            await self._delete(file_id, len(content))
            winner = await self.find(key)
            assert winner is not None
            return winner
        return str(file_id)

    async def _upload(self, name: str, content: bytes, metadata: dict[str, str]) -> ObjectId:
        """The GridFS layout, chunks first (a file document never names missing
        chunks), each chunk under its :func:`chunk_id`."""
        file_id = ObjectId()
        chunks = [
            {
                "_id": chunk_id(file_id, n),
                "files_id": file_id,
                "n": n,
                "data": Binary(content[start : start + CHUNK_SIZE]),
            }
            for n, start in enumerate(range(0, len(content), CHUNK_SIZE))
        ]
        if chunks:
            await self._chunks.insert_many(chunks, ordered=True)
        await self._files.insert_one(
            {
                "_id": file_id,
                "length": len(content),
                "chunkSize": CHUNK_SIZE,
                "uploadDate": _now_millis(),
                "filename": name,
                "metadata": metadata,
            }
        )
        return file_id

    async def _delete(self, file_id: ObjectId, length: int) -> None:
        await self._files.delete_one({"_id": file_id})
        for n in range(_chunk_count(length, CHUNK_SIZE)):
            await self._chunks.delete_one({"_id": chunk_id(file_id, n)})


def chunk_id(file_id: ObjectId, n: int) -> ObjectId:
    """Chunk ``n`` of a file: 12 bytes of SHA-256 over the file id and ``n``, so a
    reader derives every chunk's ``_id`` from the file document (deterministic; a
    collision between two chunks is as likely as one of two random 96-bit ids)."""
    return ObjectId(hashlib.sha256(file_id.binary + n.to_bytes(8, "big")).digest()[:12])


def _chunk_count(length: int, size: int) -> int:
    return -(-length // size) if length else 0


def _now_millis() -> datetime:
    """GridFS's uploadDate, at the millisecond precision the server keeps."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)
