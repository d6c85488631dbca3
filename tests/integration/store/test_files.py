"""Parley's file store on the real server: by key and by id, chunks read by ``_id``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from gridfs import AsyncGridFSBucket
from pymongo.asynchronous.database import AsyncDatabase
from support.query_log import QueryLog, monitored

from parley_store import (
    UPLOAD_KEYS,
    UPLOADS_BUCKET,
    FileNotStored,
    GridFsFileReader,
    GridFsFileStore,
)
from parley_store.files import CHUNK_SIZE, FILE_KEYS

pytestmark = pytest.mark.integration

BIG = bytes(range(256)) * (CHUNK_SIZE // 256 * 2 + 7)  # two whole chunks and a bit


@pytest.fixture
async def watched(
    mongo_uri: str, mongo_db: AsyncDatabase[Any]
) -> AsyncIterator[tuple[AsyncDatabase[Any], QueryLog]]:
    async with monitored(mongo_uri, mongo_db.name) as pair:
        yield pair


async def test_a_file_is_stored_once_per_key_and_read_back_by_id_only(
    watched: tuple[AsyncDatabase[Any], QueryLog],
) -> None:
    db, log = watched
    files = GridFsFileStore(db)

    log.recording = True
    first = await files.save("c1/att-1", "big.bin", "application/pdf", BIG, store_id="s1")
    again = await files.save("c1/att-1", "other.bin", "text/plain", b"x")
    stored = await files.open(first)
    download = await files.download(first)
    streamed = b"".join([chunk async for chunk in download.chunks])
    info = await files.describe(first)
    empty = await files.open(await files.save("c1/empty", "e.txt", "text/plain", b""))
    log.recording = False

    assert again == first and await files.find("c1/att-1") == first
    assert stored.content == BIG and stored.name == "big.bin"
    assert stored.content_type == "application/pdf"
    assert streamed == BIG and download.size == len(BIG)
    assert info is not None and (info.size, info.store_id) == (len(BIG), "s1")
    assert empty.content == b""
    assert log.not_by_id() == [], [(q.command, q.collection, q.filter) for q in log.queries]


async def test_files_stay_readable_by_gridfs_and_gridfs_files_by_the_store(
    mongo_db: AsyncDatabase[Any],
) -> None:
    files = GridFsFileStore(mongo_db)
    bucket = AsyncGridFSBucket(mongo_db, bucket_name="files")
    ours = await files.save("k", "a.bin", "application/octet-stream", BIG)
    stream = await bucket.open_download_stream_by_name("a.bin")
    assert await stream.read() == BIG, "the GridFS layout: any GridFS reader reads it"

    theirs = await bucket.upload_from_stream("b.bin", BIG, metadata={"content_type": "x/y"})
    assert (await files.open(str(theirs))).content == BIG
    download = await files.download(str(theirs))
    assert b"".join([c async for c in download.chunks]) == BIG
    assert ours != str(theirs)


async def test_missing_and_malformed_ids_are_not_stored(mongo_db: AsyncDatabase[Any]) -> None:
    files = GridFsFileStore(mongo_db)
    for file_id in ("nope", "0123456789abcdef01234567"):
        with pytest.raises(FileNotStored):
            await files.open(file_id)
        with pytest.raises(FileNotStored):
            await files.download(file_id)
        assert await files.describe(file_id) is None
    assert await files.find("no-such-key") is None


async def test_concurrent_saves_of_one_key_keep_one_file(mongo_db: AsyncDatabase[Any]) -> None:
    files = GridFsFileStore(mongo_db)
    ids = await asyncio.gather(
        *(files.save("race", f"{n}.bin", "application/pdf", BIG) for n in range(4))
    )
    assert len(set(ids)) == 1
    assert await mongo_db[FILE_KEYS].count_documents({}) == 1
    assert await mongo_db["files.files"].count_documents({}) == 1
    assert await mongo_db["files.chunks"].count_documents({}) == 3
    assert (await files.open(ids[0])).content == BIG


async def test_each_writer_has_its_bucket_and_every_reader_finds_both(
    mongo_db: AsyncDatabase[Any],
) -> None:
    """Ingest writes ``files``, the gateway ``uploads`` (one owner per bucket); a
    reader finds a file id in either, and each writer's keys are its own."""
    inbound = GridFsFileStore(mongo_db)
    uploads = GridFsFileStore(mongo_db, UPLOADS_BUCKET, UPLOAD_KEYS)
    attachment = await inbound.save("c1/att-1", "in.pdf", "application/pdf", BIG)
    upload = await uploads.save("u1", "out.pdf", "application/pdf", b"merchant's", store_id="s1")
    assert await mongo_db["files.files"].count_documents({}) == 1
    assert await mongo_db["uploads.files"].count_documents({}) == 1
    assert await uploads.find("c1/att-1") is None and await inbound.find("u1") is None

    reader = GridFsFileReader(mongo_db)
    assert (await reader.open(attachment)).content == BIG
    download = await reader.download(upload)
    assert b"".join([c async for c in download.chunks]) == b"merchant's"
    described = await reader.describe(upload)
    assert described is not None and described.store_id == "s1"
    assert (await uploads.open(attachment)).content == BIG  # a writer reads all too
    with pytest.raises(FileNotStored):
        await reader.open("0123456789abcdef01234567")
