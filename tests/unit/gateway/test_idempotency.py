"""Idempotency keys at the service level, on an in-memory store: the first request runs,
repeats replay its result, other requests under the same key are refused."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from unit.gateway.idempotency_fakes import InMemoryIdempotencyStore

from parley_gateway.domain.idempotency import (
    LEASE,
    RESULT_TTL,
    IdempotencyKeyInProgress,
    IdempotencyKeyReused,
    InvalidIdempotencyKey,
    RecordState,
    StoredResponse,
    canonical_body,
    check_key,
    fingerprint,
    record_id,
)
from parley_gateway.idempotency import Begun, IdempotencyService, Replay

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
ACCEPTED = StoredResponse(202, b'{"command_id":"c1"}', (("content-type", "application/json"),))


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store() -> InMemoryIdempotencyStore:
    return InMemoryIdempotencyStore()


@pytest.fixture
def service(store: InMemoryIdempotencyStore, clock: Clock) -> IdempotencyService:
    return IdempotencyService(store, clock=clock, purges=False)


FP = fingerprint("POST", "/discussions/d1/replies", "", b'{"body":"Hello"}')


async def begun(service: IdempotencyService, account: str = "acc-1", key: str = "k1") -> Begun:
    outcome = await service.begin(account, key, FP)
    assert isinstance(outcome, Begun)
    return outcome


async def test_a_repeat_replays_the_first_result(service: IdempotencyService) -> None:
    first = await begun(service)
    await service.finish(first, ACCEPTED)
    again = await service.begin("acc-1", "k1", FP)
    assert again == Replay(ACCEPTED)


async def test_the_result_is_kept_24_hours_from_completion(
    service: IdempotencyService, store: InMemoryIdempotencyStore, clock: Clock
) -> None:
    first = await begun(service)
    clock.now = T0 + timedelta(seconds=30)
    await service.finish(first, ACCEPTED)
    [record] = store.records.values()
    assert record.state is RecordState.COMPLETED
    assert record.expires_at == clock.now + RESULT_TTL
    clock.now = record.expires_at - timedelta(seconds=1)
    assert isinstance(await service.begin("acc-1", "k1", FP), Replay)
    clock.now = record.expires_at
    # Expired on read, even if no TTL index removed it: the key runs again.
    assert isinstance(await service.begin("acc-1", "k1", FP), Begun)


async def test_the_same_key_on_another_request_is_refused(service: IdempotencyService) -> None:
    await service.finish(await begun(service), ACCEPTED)
    other = fingerprint("POST", "/discussions/d1/replies", "", b'{"body":"Bye"}')
    with pytest.raises(IdempotencyKeyReused):
        await service.begin("acc-1", "k1", other)


async def test_a_repeat_while_the_first_runs_is_told_to_retry(
    service: IdempotencyService, clock: Clock
) -> None:
    await begun(service)
    with pytest.raises(IdempotencyKeyInProgress) as busy:
        await service.begin("acc-1", "k1", FP)
    assert busy.value.retry_after >= 1
    # A gateway that died mid-request frees the key when its lease runs out.
    clock.now = T0 + LEASE
    assert isinstance(await service.begin("acc-1", "k1", FP), Begun)


async def test_the_late_first_request_cannot_overwrite_the_take_over(
    service: IdempotencyService, store: InMemoryIdempotencyStore, clock: Clock
) -> None:
    first = await begun(service)
    clock.now = T0 + LEASE
    second = await begun(service)
    await service.finish(first, StoredResponse(202, b"first"))
    await service.finish(second, StoredResponse(202, b"second"))
    assert await service.begin("acc-1", "k1", FP) == Replay(StoredResponse(202, b"second"))


async def test_keys_belong_to_one_account(service: IdempotencyService) -> None:
    await service.finish(await begun(service, "acc-1"), ACCEPTED)
    assert isinstance(await service.begin("acc-2", "k1", FP), Begun)
    assert record_id("acc-1", "k1") != record_id("acc-2", "k1")
    assert record_id("acc-1", "k1").startswith("acc-1:")


@pytest.mark.parametrize("status", [500, 503])
async def test_a_server_error_frees_the_key_for_a_retry(
    service: IdempotencyService, store: InMemoryIdempotencyStore, status: int
) -> None:
    await service.finish(await begun(service), StoredResponse(status, b"{}"))
    assert store.records == {}
    assert isinstance(await service.begin("acc-1", "k1", FP), Begun)


async def test_a_client_error_is_a_result_like_any_other(service: IdempotencyService) -> None:
    refused = StoredResponse(422, b'{"status":422}')
    await service.finish(await begun(service), refused)
    assert await service.begin("acc-1", "k1", FP) == Replay(refused)


async def test_an_abandoned_request_frees_the_key(
    service: IdempotencyService, store: InMemoryIdempotencyStore
) -> None:
    await service.abandon(await begun(service))
    assert store.records == {}


@pytest.mark.parametrize("key", ["", "x" * 256, "caf\u00e9", "a\tb", "new\nline", "\x00"])
async def test_invalid_keys_are_refused(service: IdempotencyService, key: str) -> None:
    with pytest.raises(InvalidIdempotencyKey):
        await service.begin("acc-1", key, FP)


@pytest.mark.parametrize("key", ["a", "x" * 255, "7f0c6a3e-4d1b-4f7e-9d8a-1b2c3d4e5f60", "a b~!"])
def test_printable_ascii_keys_up_to_255_are_accepted(key: str) -> None:
    assert check_key(key) == key


def test_the_fingerprint_tells_requests_apart() -> None:
    base = fingerprint("POST", "/a", "", b"{}")
    assert base == fingerprint("post", "/a", "", b"{}")
    assert (
        len(
            {
                base,
                fingerprint("PUT", "/a", "", b"{}"),
                fingerprint("POST", "/b", "", b"{}"),
                fingerprint("POST", "/a", "x=1", b"{}"),
                fingerprint("POST", "/a", "", b"[]"),
            }
        )
        == 5
    )


async def test_expired_records_are_purged_now_and_then(
    store: InMemoryIdempotencyStore, clock: Clock
) -> None:
    service = IdempotencyService(store, clock=clock)
    await service.finish(await begun(service), ACCEPTED)
    await asyncio.sleep(0)  # purges run in the background
    assert store.purged_at == [T0]
    store.expire_all(T0)
    clock.now = T0 + timedelta(minutes=11)
    await service.begin("acc-1", "other", FP)
    await asyncio.sleep(0)
    await service.begin("acc-1", "third", FP)  # within 10 minutes: no second purge
    await asyncio.sleep(0)
    assert len(store.purged_at) == 2
    assert record_id("acc-1", "k1") not in store.records


def test_a_retry_serialised_differently_is_the_same_request() -> None:
    json_type = "application/json"
    assert canonical_body(json_type, b'{"b": 1, "a": [1, 2]}') == canonical_body(
        json_type, b'{"a":[1,2],"b":1}'
    )
    assert canonical_body(json_type, b'{"a":1}') != canonical_body(json_type, b'{"a":2}')
    assert canonical_body(json_type, b"not json") == b"not json"

    def upload(boundary: str, content: bytes) -> tuple[str, bytes]:
        body = (
            (
                f"--{boundary}\r\nContent-Disposition: form-data; name=file; filename=a.txt\r\n"
                f"Content-Type: text/plain\r\n\r\n"
            ).encode()
            + content
            + f"\r\n--{boundary}--\r\n".encode()
        )
        return f"multipart/form-data; boundary={boundary}", body

    assert canonical_body(*upload("abc123", b"hello")) == canonical_body(*upload("zz9", b"hello"))
    assert canonical_body(*upload("abc123", b"hello")) != canonical_body(*upload("zz9", b"bye"))
