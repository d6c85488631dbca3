"""Use cases of autoresponders (F19), independent of any transport (REST and GraphQL
both call this): list, read, replace, restore the default text, send a test.

Every call takes the caller's :class:`Scope`: a store outside it behaves like one
without settings *and* without the right to create them (``AutoresponderNotFound``),
so a caller cannot probe other accounts' store ids. A key never saved reads as its
defaults (disabled, the marketplace's default text): the merchant edits from there.

Why the test mail leaves from the gateway, over SMTP, rather than as a command to the
responder: a test is a synchronous question ("does my copy arrive, and how does it
read?") whose answer the merchant waits for on the settings page. Sent here, a relay
that refuses the address comes back as this request's error at once; through Kafka
it would need a new command type, a result channel back and polling, only to report
the same SMTP answer later. Nothing about a test needs the responder's guarantees
either: it is not once-only (each click is meant to send one), touches no
marketplace and no outbox. The mail itself is built by the same function the
responder uses for real copies (:func:`parley_store.autoresponders.notification_mail`),
so the test shows exactly what the shop will receive.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from parley_gateway.domain import Scope
from parley_gateway.ports import AutoresponderRepository, Mailer
from parley_schemas import utcnow
from parley_store.autoresponders import (
    AutoresponderChange,
    AutoresponderKey,
    AutoresponderRejected,
    AutoresponderSettings,
    NotificationCopy,
    apply_change,
    default_settings,
    notification_mail,
    render,
    restore_default,
    sample_values,
)


class AutoresponderNotFound(LookupError):
    """The key's store is not one of the caller's."""

    def __init__(self, key: AutoresponderKey) -> None:
        super().__init__(f"no autoresponder {key.id}")
        self.key = key


@dataclass(frozen=True)
class TestSent:
    recipients: list[str]
    message_id: str
    text: str


class AutoresponderService:
    def __init__(
        self,
        settings: AutoresponderRepository,
        mailer: Mailer,
        *,
        from_address: str,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._settings = settings
        self._mailer = mailer
        self._from = from_address
        self._clock = clock

    async def list(
        self, scope: Scope, store_ids: Iterable[str] = ()
    ) -> list[AutoresponderSettings]:
        """The saved settings of the caller's stores (or of the requested ones of them)."""
        stores = scope.narrow(store_ids)
        if stores is not None and not stores:
            return []
        return await self._settings.list(stores)

    async def get(self, scope: Scope, key: AutoresponderKey) -> AutoresponderSettings:
        self._check(scope, key)
        return await self._settings.get(key) or default_settings(key)

    async def replace(
        self, scope: Scope, key: AutoresponderKey, change: AutoresponderChange, *, by: str
    ) -> AutoresponderSettings:
        """Saves every field of ``change`` (omitted ones take their defaults)."""
        self._check(scope, key)
        saved = apply_change(key, change, at=self._clock(), by=by)
        await self._settings.save(saved)
        return saved

    async def restore_default(
        self, scope: Scope, key: AutoresponderKey, *, by: str
    ) -> AutoresponderSettings:
        """Back to the marketplace's default text; switch and addresses stay as they are."""
        current = await self.get(scope, key)
        restored = restore_default(current, at=self._clock(), by=by)
        await self._settings.save(restored)
        return restored

    async def send_test(self, scope: Scope, key: AutoresponderKey) -> TestSent:
        """Mails the rendered text, with sample values, to the notification addresses.

        Works on a disabled autoresponder too (try before switching it on); raises
        MailNotSent when the relay does not take it.
        """
        settings = await self.get(scope, key)
        if not settings.notify_addresses:
            raise AutoresponderRejected(
                "notify_shop_address",
                "set the shop's address first: the test is mailed to it",
                "shop_address_required",
            )
        text = render(settings, sample_values(settings.language))
        domain = self._from.rpartition("@")[2] or "parley.invalid"
        message_id = f"autoresponder-test-{uuid.uuid4().hex}@{domain}"
        mail = notification_mail(
            NotificationCopy(settings=settings, text=text, test=True),
            from_address=self._from,
            message_id=message_id,
            at=self._clock(),
        )
        await self._mailer.send(mail)
        return TestSent(recipients=settings.notify_addresses, message_id=message_id, text=text)

    @staticmethod
    def _check(scope: Scope, key: AutoresponderKey) -> None:
        if not scope.allows(key.store_id):
            raise AutoresponderNotFound(key)
