"""In-memory fakes of the autoresponder ports of the gateway, same semantics as adapters."""

from __future__ import annotations

from collections.abc import Iterable
from email.message import EmailMessage

from parley_gateway.autoresponder_service import AutoresponderService
from parley_gateway.ports import MailNotSent
from parley_store.autoresponders import AutoresponderKey, AutoresponderSettings


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


class FakeMailer:
    """Keeps what it sends; ``refuse`` makes the next send fail like the relay would."""

    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []
        self.refuse: MailNotSent | None = None

    async def send(self, message: EmailMessage) -> str:
        if self.refuse is not None:
            raise self.refuse
        self.sent.append(message)
        return str(message["Message-ID"]).strip("<>")


def autoresponder_service(
    repo: InMemoryAutoresponders | None = None, mailer: FakeMailer | None = None
) -> AutoresponderService:
    return AutoresponderService(
        repo or InMemoryAutoresponders(),
        mailer or FakeMailer(),
        from_address="autoresponder@parley.test",
    )
