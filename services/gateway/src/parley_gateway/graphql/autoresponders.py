"""Autoresponders in GraphQL (F19): the same AutoresponderService as REST's
/autoresponders routes, so the rules (placeholders, plain text, the shop address
required to enable, the caller's stores only) are enforced once."""

from __future__ import annotations

from datetime import datetime

import strawberry

from parley_gateway.graphql.context import GraphQLContext
from parley_store.autoresponders import (
    PLACEHOLDERS,
    AutoresponderChange,
    AutoresponderKey,
    AutoresponderSettings,
)

Info = strawberry.Info[GraphQLContext, None]


@strawberry.type(description="The autoresponder of one store, marketplace and channel")
class Autoresponder:
    store_id: str
    marketplace: str
    channel: str
    enabled: bool
    language: str = strawberry.field(description="ISO 639-1 language of the text")
    template: str = strawberry.field(
        description="Plain text; placeholders: " + ", ".join("{" + p + "}" for p in PLACEHOLDERS)
    )
    sender_name: str | None
    shop_name: str
    notify_shop_address: str | None
    notify_extra_address: str | None
    saved: bool = strawberry.field(description="False while these are the defaults")
    default_text: bool = strawberry.field(description="The text is the marketplace's default")
    updated_at: datetime | None
    updated_by: str | None

    @classmethod
    def of(cls, settings: AutoresponderSettings) -> Autoresponder:
        return cls(
            store_id=settings.store_id,
            marketplace=settings.marketplace,
            channel=settings.channel,
            enabled=settings.enabled,
            language=settings.language,
            template=settings.template,
            sender_name=settings.sender_name,
            shop_name=settings.shop_name,
            notify_shop_address=settings.notify_shop_address,
            notify_extra_address=settings.notify_extra_address,
            saved=settings.saved,
            default_text=settings.is_default_text,
            updated_at=settings.updated_at,
            updated_by=settings.updated_by,
        )


@strawberry.input(
    description="The whole setting; an omitted field takes its default (text and "
    "language: the marketplace's)"
)
class AutoresponderInput:
    enabled: bool
    template: str | None = None
    language: str | None = None
    sender_name: str | None = None
    shop_name: str | None = None
    notify_shop_address: str | None = strawberry.field(
        default=None, description="Gets a copy of each autoresponse; required when enabled"
    )
    notify_extra_address: str | None = None

    def to_change(self) -> AutoresponderChange:
        return AutoresponderChange(
            enabled=self.enabled,
            template=self.template,
            language=self.language,
            sender_name=self.sender_name,
            shop_name=self.shop_name,
            notify_shop_address=self.notify_shop_address,
            notify_extra_address=self.notify_extra_address,
        )


@strawberry.type
class AutoresponderTestSent:
    sent_to: list[str]
    message_id: str
    text: str = strawberry.field(description="The rendered text, with sample values")


async def list_autoresponders(
    info: Info, store_ids: list[str] | None = None
) -> list[Autoresponder]:
    context = info.context
    found = await context.autoresponders.list(context.scope, store_ids or ())
    return [Autoresponder.of(s) for s in found]


async def get_autoresponder(
    info: Info, store_id: str, marketplace: str, channel: str
) -> Autoresponder:
    context = info.context
    key = AutoresponderKey(store_id, marketplace, channel)
    return Autoresponder.of(await context.autoresponders.get(context.scope, key))


async def save_autoresponder(
    info: Info, store_id: str, marketplace: str, channel: str, settings: AutoresponderInput
) -> Autoresponder:
    context = info.context
    caller = context.caller
    saved = await context.autoresponders.replace(
        caller.scope,
        AutoresponderKey(store_id, marketplace, channel),
        settings.to_change(),
        by=caller.account_id,
    )
    return Autoresponder.of(saved)


async def restore_autoresponder_default(
    info: Info, store_id: str, marketplace: str, channel: str
) -> Autoresponder:
    context = info.context
    caller = context.caller
    restored = await context.autoresponders.restore_default(
        caller.scope, AutoresponderKey(store_id, marketplace, channel), by=caller.account_id
    )
    return Autoresponder.of(restored)


async def send_autoresponder_test(
    info: Info, store_id: str, marketplace: str, channel: str
) -> AutoresponderTestSent:
    context = info.context
    sent = await context.autoresponders.send_test(
        context.scope, AutoresponderKey(store_id, marketplace, channel)
    )
    return AutoresponderTestSent(
        sent_to=sent.recipients, message_id=sent.message_id, text=sent.text
    )
