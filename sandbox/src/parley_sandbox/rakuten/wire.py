"""Rakuten's date format: Paris wall-clock time to the minute, ``15/02/2011-11:46``."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")


def rakuten_date(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(PARIS).strftime("%d/%m/%Y-%H:%M")


def parse_rakuten_date(value: str) -> datetime:
    return datetime.strptime(value, "%d/%m/%Y-%H:%M").replace(tzinfo=PARIS).astimezone(UTC)
