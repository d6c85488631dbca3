"""In-memory fakes of the autoresponder ports of the gateway, same semantics as adapters
(the mailer is the shared one, tests/fakes/gateway.py; re-exported here)."""

from __future__ import annotations

from collections.abc import Iterable

from fakes.gateway import FakeMailer

from parley_gateway.autoresponder_service import AutoresponderService
from parley_store.autoresponders import AutoresponderKey, AutoresponderSettings

__all__ = ["FakeMailer", "InMemoryAutoresponders", "autoresponder_service"]


class InMemoryAutoresponders:
    def __init__(self) -> None:
        self.saved: dict[str, AutoresponderSettings] = {}

    async def get(self, key: AutoresponderKey) -> AutoresponderSettings | None:
        return self.saved.get(key.id)

    async def list(self, store_ids: Iterable[str] | None) -> list[AutoresponderSettings]:
        wanted = None if store_ids is None else set(store_ids)
        return [s for _, s in sorted(self.saved.items()) if wanted is None or s.store_id in wanted]

    async def save(self, settings: AutoresponderSettings) -> None:
        self.saved[settings.key.id] = settings


def autoresponder_service(
    repo: InMemoryAutoresponders | None = None, mailer: FakeMailer | None = None
) -> AutoresponderService:
    return AutoresponderService(
        repo or InMemoryAutoresponders(),
        mailer or FakeMailer(),
        from_address="autoresponder@parley.test",
    )
