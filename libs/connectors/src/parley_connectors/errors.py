"""Errors every marketplace client raises, whatever its API family.

Ingest and the responder decide what to do from the *kind* of failure, never from a
family's own status codes or bodies: wait (``RateLimited``), flag the connection
(``AuthenticationFailed``), back off and retry (``MarketplaceUnavailable``), give up on
one request (``NotFound``, ``BadRequest``) or dead-letter one payload
(``PayloadError``). So each family's client maps its wire errors onto these classes
and nothing else escapes it.

Clients never retry on their own: the caller owns the retry policy (the responder's
backoff, ingest's schedule), and a hidden retry loop inside a client would multiply
with theirs. Messages never contain credentials.
"""

from __future__ import annotations

from typing import Any


class MarketplaceError(Exception):
    """Base of every error a marketplace client raises.

    ``status`` is the HTTP status the marketplace answered, when there was one.
    """

    def __init__(self, message: str = "", *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class RateLimited(MarketplaceError):
    """The marketplace asked us to slow down (HTTP 429).

    ``retry_after`` is always a number of seconds, so callers can schedule without
    re-parsing headers; a client substitutes a conservative default when the
    marketplace did not say.
    """

    def __init__(self, retry_after: float, message: str = "", *, status: int | None = 429) -> None:
        super().__init__(message or f"rate limited, retry after {retry_after:g}s", status=status)
        self.retry_after = float(retry_after)

    @property
    def retry_after_seconds(self) -> float:
        return self.retry_after


class AuthenticationFailed(MarketplaceError):
    """The credentials were refused (HTTP 401/403): retrying will not help."""


class MarketplaceUnavailable(MarketplaceError):
    """The marketplace failed or did not answer in time (5xx, timeouts, network).

    ``maybe_delivered`` says whether a write that met this fault may still have been
    kept (a timeout, a 5xx, a connection lost mid-request): True unless the protocol
    says for sure it was not (an SMTP 4xx deferral, a connection never opened).
    """

    def __init__(
        self, message: str = "", *, status: int | None = None, maybe_delivered: bool = True
    ) -> None:
        super().__init__(message, status=status)
        self.maybe_delivered = maybe_delivered


class NotFound(MarketplaceError):
    """The thread, attachment or resource does not exist (HTTP 404)."""


class BadRequest(MarketplaceError):
    """The marketplace refused the request itself (HTTP 400 and other 4xx).

    ``message`` is the marketplace's own explanation, worth showing to a person.
    """

    def __init__(self, message: str, *, status: int | None = 400) -> None:
        super().__init__(message, status=status)
        self.message = message


class PayloadError(MarketplaceError):
    """The marketplace answered, but in a shape we cannot read.

    Carries the thread id when it could be read, so one bad thread can be
    dead-lettered while the rest of a sync goes on, and the offending payload for the
    dead-letter record.
    """

    def __init__(
        self,
        reason: str,
        *,
        thread_id: str | None = None,
        payload: Any = None,
        status: int | None = None,
    ) -> None:
        where = f"thread {thread_id}: " if thread_id else ""
        super().__init__(f"{where}{reason}", status=status)
        self.reason = reason
        self.thread_id = thread_id
        self.payload = payload


__all__ = [
    "AuthenticationFailed",
    "BadRequest",
    "MarketplaceError",
    "MarketplaceUnavailable",
    "NotFound",
    "PayloadError",
    "RateLimited",
]
