"""The fake family's marketplace: threads by connection id, replies as they arrive."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class FakeMessage:
    id: str
    author: str  # "buyer" | "shop"
    text: str
    at: datetime


@dataclass
class FakeThread:
    id: str
    subject: str
    messages: list[FakeMessage] = field(default_factory=list)


@dataclass
class FakeMarketplace:
    threads: dict[str, dict[str, FakeThread]] = field(default_factory=dict)  # by shop key

    def thread(self, shop: str, thread_id: str, subject: str = "") -> FakeThread:
        return self.threads.setdefault(shop, {}).setdefault(
            thread_id, FakeThread(thread_id, subject or f"About {thread_id}")
        )


MARKETPLACE = FakeMarketplace()
