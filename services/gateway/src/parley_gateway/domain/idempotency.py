"""Idempotency keys: the rules that make a repeated mutating request harmless.

A client that timed out does not know whether its request was done; it sends it again
with the same ``Idempotency-Key`` and gets the first result back instead of a second
reply or a second command. These are the pure rules; the gateway's
:class:`~parley_gateway.idempotency.IdempotencyService` applies them to a store.

- A key is 1..255 printable ASCII characters, chosen by the client (a UUID is ideal).
- It belongs to the caller's account: two accounts may use the same key unknowingly.
- It is bound to one request (method, path, query and body, by digest): the same key
  on a different request is refused, never silently answered with another result.
- The first result is kept 24 hours; until it exists the key is held by a lease, so a
  concurrent repeat is told to retry later, and a gateway that died mid-request frees
  its key once the lease runs out rather than after a day.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_KEY_CHARS = 255
# Printable ASCII, space included (RFC 9110 field values allow inner spaces).
KEY_PATTERN = r"^[\x20-\x7e]{1,255}$"
_KEY = re.compile(KEY_PATTERN)

RESULT_TTL = timedelta(hours=24)
LEASE = timedelta(seconds=60)
# Replayed with the stored body: what a client needs to read the first result again.
REPLAYED_HEADERS = ("content-type", "location", "retry-after")


class InvalidIdempotencyKey(ValueError):
    """The header is not 1..255 printable ASCII characters."""

    def __init__(self) -> None:
        super().__init__(
            f"{IDEMPOTENCY_HEADER} must be 1..{MAX_KEY_CHARS} printable ASCII characters "
            "(a UUID is a good choice)"
        )
        self.detail = str(self)


class IdempotencyKeyReused(ValueError):
    """The key was first used for another request (method, path or body differ)."""

    def __init__(self) -> None:
        super().__init__(
            f"this {IDEMPOTENCY_HEADER} was used for a different request (method, path or "
            "body); use a new key for a new request"
        )
        self.detail = str(self)


class IdempotencyKeyInProgress(RuntimeError):
    """The first request with this key has not finished; ``retry_after`` in seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"a request with this {IDEMPOTENCY_HEADER} is still being processed; retry "
            "after it has finished to get its result"
        )
        self.detail = str(self)
        self.retry_after = retry_after


def check_key(key: str) -> str:
    """The key as given when valid; InvalidIdempotencyKey otherwise."""
    if not _KEY.fullmatch(key):
        raise InvalidIdempotencyKey()
    return key


def record_id(account_id: str, key: str) -> str:
    """The stored record's ``_id``: the account in clear (scoping, support), the key as a
    digest (fixed length, any printable characters, nothing of it in the database)."""
    return f"{account_id}:{hashlib.sha256(key.encode('ascii')).hexdigest()}"


def fingerprint(method: str, path: str, query: str, body: bytes) -> str:
    """What makes two requests "the same request" for one key."""
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), query.encode()):
        digest.update(part)
        digest.update(b"\n")
    digest.update(body)
    return digest.hexdigest()


def canonical_body(content_type: str | None, body: bytes) -> bytes:
    """The body as it matters for "the same request": a client's retry may serialise
    the same JSON differently (spacing, key order) and a multipart upload gets a new
    random boundary each time it is built, so both are reduced to their content."""
    media_type, _, params = (content_type or "").partition(";")
    media_type = media_type.strip().lower()
    if media_type == "application/json" or media_type.endswith("+json"):
        try:
            parsed = json.loads(body)
        except ValueError:
            return body
        return json.dumps(parsed, sort_keys=True, separators=(",", ":")).encode()
    if media_type == "multipart/form-data":
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.lower() == "boundary" and value:
                boundary = value.strip('"').encode("latin-1")
                return body.replace(b"--" + boundary, b"--boundary")
    return body


class RecordState(StrEnum):
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"


@dataclass(frozen=True)
class StoredResponse:
    """The first result: what is sent again, byte for byte, to every repeat."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class IdempotencyRecord:
    """One key of one account. ``claim`` identifies the request holding it, so that
    only that request completes or releases it."""

    id: str
    account_id: str
    fingerprint: str
    state: RecordState
    claim: str
    created_at: datetime
    expires_at: datetime
    locked_until: datetime
    response: StoredResponse | None = None


def new_claim(
    account_id: str, key: str, request_fingerprint: str, claim: str, now: datetime
) -> IdempotencyRecord:
    return IdempotencyRecord(
        id=record_id(account_id, key),
        account_id=account_id,
        fingerprint=request_fingerprint,
        state=RecordState.IN_PROGRESS,
        claim=claim,
        created_at=now,
        expires_at=now + RESULT_TTL,
        locked_until=now + LEASE,
    )


class Verdict(StrEnum):
    REPLAY = "replay"  # the first result exists: send it again
    TAKE_OVER = "take_over"  # expired, or its request died: start afresh
    IN_PROGRESS = "in_progress"
    MISMATCH = "mismatch"


def judge(existing: IdempotencyRecord, request_fingerprint: str, now: datetime) -> Verdict:
    """What a request with an already-stored key gets.

    Expiry is checked here on every read, not left to the database: FerretDB has no
    TTL index, and even MongoDB's deletes lag by up to a minute.
    """
    if existing.expires_at <= now:
        return Verdict.TAKE_OVER
    if existing.fingerprint != request_fingerprint:
        return Verdict.MISMATCH
    if existing.state is RecordState.COMPLETED:
        return Verdict.REPLAY
    if existing.locked_until <= now:
        return Verdict.TAKE_OVER
    return Verdict.IN_PROGRESS


# Seconds a client waits before asking again: a request usually ends well within it.
IN_PROGRESS_RETRY_AFTER = 1


def should_keep(status: int) -> bool:
    """A 5xx says nothing was done (or that the gateway cannot tell): the key is freed
    so the client's retry runs the request, rather than replaying an outage for 24 h."""
    return status < 500
