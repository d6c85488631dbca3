"""One owner per collection: no service writes a collection it does not own.

The declaration is parley_store.collections.OWNERS (and FIELD_OWNERS for the one
collection split by field); tests/support/ownership.py reads every service's code, and
the library code it uses, for the collections it can write. A write the checker cannot
resolve fails the test as surely as a foreign write, so it cannot pass by not seeing.
"""

from __future__ import annotations

from collections import defaultdict

import pytest
from support.ownership import Codebase, Write, service_writes, services_of

from parley_store.collections import FIELD_OWNERS, OWNERS

# Writes still to move to their owner, each with the reason it is here. The test also
# fails when one of them is gone (so the list only shrinks).
NOT_YET_MOVED: dict[tuple[str, str], str] = {}


@pytest.fixture(scope="module")
def code() -> Codebase:
    return Codebase.of_repo()


def foreign_writes(code: Codebase) -> dict[tuple[str, str], list[Write]]:
    """(service, collection) → the writes of a collection the service does not own,
    plus every write the checker could not resolve (collection ``?``)."""
    found: dict[tuple[str, str], list[Write]] = defaultdict(list)
    for package, service in services_of(code).items():
        for write in service_writes(code, package):
            owner = OWNERS.get(write.collection)
            if owner == service or (write.collection, service) in FIELD_OWNERS:
                continue
            found[(service, write.collection)].append(write)
    return dict(found)


def test_every_service_is_seen(code: Codebase) -> None:
    assert set(services_of(code).values()) >= {
        "gateway",
        "ingest",
        "normalizer",
        "responder",
        "invoicer",
    }


def test_each_service_writes_only_the_collections_it_owns(code: Codebase) -> None:
    found = foreign_writes(code)
    unexpected = {
        f"{service} writes {collection} (owner: {OWNERS.get(collection, 'undeclared')})": [
            f"{w.where} {w.method} {w.detail}".strip() for w in writes
        ]
        for (service, collection), writes in found.items()
        if (service, collection) not in NOT_YET_MOVED
    }
    assert unexpected == {}
    stale = set(NOT_YET_MOVED) - set(found)
    assert not stale, f"moved to their owner, drop from NOT_YET_MOVED: {sorted(stale)}"


def test_every_declared_owner_writes_what_it_owns(code: Codebase) -> None:
    """The declaration follows the code: an owner that never writes its collection (a
    renamed or retired collection) is a stale entry."""
    written = {
        (service, w.collection)
        for package, service in services_of(code).items()
        for w in service_writes(code, package)
    }
    never = sorted(
        (collection, owner)
        for collection, owner in OWNERS.items()
        if (owner, collection) not in written
    )
    # Declared ahead of their writer: the outboxes of services that have none yet, and
    # sync_cursors (ingest keeps its cursors on the connection today).
    assert never == [
        ("outbox_ingest", "ingest"),
        ("outbox_normalizer", "normalizer"),
        ("outbox_responder", "responder"),
        ("sync_cursors", "ingest"),
    ]


# --- the checker catches what it must -------------------------------------------------

PLANTED_DIRECT = """
from parley_store import DELIVERIES

class Sneaky:
    def __init__(self, db):
        self._col = db[DELIVERIES]

    async def requeue(self, command_id):
        await self._col.update_one({"_id": command_id}, {"$set": {"state": "queued"}})
"""

PLANTED_VIA_LIBRARY = """
from parley_store.autoresponder_store import MongoAutoresponderStore

def wire(db):
    return MongoAutoresponderStore(db)
"""

PLANTED_BUCKET = """
from parley_store import GridFsFileStore

def wire(db):
    return GridFsFileStore(db)  # the default bucket is ingest's
"""

PLANTED_UNRESOLVED = """
def pick(db, name):
    return db[name]

async def write(db, name):
    col = pick(db, name)
    await col.insert_one({"_id": 1})
"""

PLANTED_THROUGH_PARAMETER = """
MESSAGES_ = "messages"

async def _bulk(collection, ops):
    await collection.bulk_write(ops)

class Store:
    def __init__(self, db):
        self._messages = db[MESSAGES_]

    async def write(self, ops):
        await _bulk(self._messages, ops)
"""


@pytest.mark.parametrize(
    ("source", "service", "collection"),
    [
        (PLANTED_DIRECT, "responder", "deliveries"),  # the responder owns it: fine there
        (PLANTED_VIA_LIBRARY, "gateway", "autoresponders"),
        (PLANTED_BUCKET, "ingest", "files.files"),
        (PLANTED_THROUGH_PARAMETER, "normalizer", "messages"),
    ],
)
@pytest.mark.parametrize("planted_in", ["ingest", "gateway"])
def test_a_planted_write_is_found_and_attributed(
    code: Codebase, source: str, service: str, collection: str, planted_in: str
) -> None:
    code.add_source(f"parley_{planted_in}.planted", source)
    try:
        found = foreign_writes(code)
        if planted_in == service:
            assert (planted_in, collection) not in found
        else:
            assert (planted_in, collection) in found, sorted(found)
    finally:
        del code.modules[f"parley_{planted_in}.planted"]


def test_a_write_the_checker_cannot_resolve_fails_too(code: Codebase) -> None:
    code.add_source("parley_gateway.planted", PLANTED_UNRESOLVED)
    try:
        found = foreign_writes(code)
        assert ("gateway", "?") in found
        [write] = found[("gateway", "?")]
        assert write.method == "insert_one" and write.where.endswith("planted.py:7")
    finally:
        del code.modules["parley_gateway.planted"]


def test_the_repository_as_it_is_has_no_unresolved_write(code: Codebase) -> None:
    assert not any(collection == "?" for _, collection in foreign_writes(code))
