"""Reading and writing JSON payloads the same way in every JSON family (Mirakl, Allegro).

Two things must not differ between families: how a payload that fails validation is
described (the reason lands in dead-letter records and logs, where a short, stable
text can be grouped and compared) and how dates are normalised (every date Parley
keeps is UTC; a naive date on the wire is read as UTC rather than refused, since a
marketplace dropping the offset should not cost the merchant a conversation).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, ValidationError

from parley_schemas import as_utc

UtcDatetime = Annotated[datetime, AfterValidator(as_utc)]


def format_iso_millis(value: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and ``Z``, e.g. ``2026-04-01T09:30:00.000Z``."""
    utc = as_utc(value)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def describe_validation_error(exc: ValidationError) -> str:
    """A short, stable reason: which fields are wrong and why (at most three)."""
    problems = []
    for error in exc.errors()[:3]:
        where = ".".join(str(part) for part in error["loc"]) or "payload"
        problems.append(f"{where}: {error['msg']}")
    more = exc.error_count() - len(problems)
    suffix = f" (and {more} more)" if more > 0 else ""
    return "; ".join(problems) + suffix


__all__ = ["UtcDatetime", "describe_validation_error", "format_iso_millis"]
