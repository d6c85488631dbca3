"""Sandbox-only control API for the Fnac family, under ``/_sandbox/fnac`` (JSON).

Play the buyer (or Fnac's customer service), read what the shop sent, expire session
tokens and arm faults. Not part of Fnac's API; Parley's services never call it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request
from pydantic import Field

from parley_sandbox.control_kit import (
    AttachmentIn,
    Body,
    SentAt,
    Setting,
    add_fault_routes,
    add_registry_routes,
    decode_attachment,
    instance_or_404,
)
from parley_sandbox.faults import FaultQueue
from parley_sandbox.fnac import wire
from parley_sandbox.fnac.routes import sandbox_of
from parley_sandbox.fnac.store import (
    CALLCENTER,
    CLIENT,
    FAULT_TARGETS,
    OFFER,
    ORDER,
    FnacRefusal,
    FnacShop,
    ShopConfig,
    new_order_id,
)

router = APIRouter(prefix="/_sandbox/fnac")


class ShopIn(Body):
    """Settings of one marketplace's shop; omitted fields keep their value."""

    partner_id: Setting = None
    shop_id: Setting = None
    key: Setting = None
    shop_name: str | None = None
    token_ttl_seconds: int | None = Field(default=None, ge=1)


class IncomingMessageIn(Body):
    """A message the buyer (CLIENT) or Fnac's customer service (CALLCENTER) writes.

    It joins the conversation of ``order_id`` or ``offer_id``; without either a new
    order conversation opens (a generated 13-character order id).
    """

    body: str = Field(min_length=1)
    from_type: Literal["CLIENT", "CALLCENTER"] = "CLIENT"
    sender_name: str | None = None
    order_id: str | None = None
    offer_id: str | None = None
    offer_title: str | None = None
    subject: str | None = None
    incident: bool = False
    attachments: list[AttachmentIn] = Field(default_factory=list)
    sent_at: SentAt = None


def shop_of(request: Request, instance: str) -> FnacShop:
    return instance_or_404(sandbox_of(request), instance, FnacRefusal)


def describe(shop: FnacShop) -> dict[str, Any]:
    config = shop.config
    return {
        "name": config.name,
        "partner_id": config.partner_id,
        "shop_id": config.shop_id,
        "shop_name": config.shop_name,
        "conversations": len(shop.conversations),
        "messages": len(shop.messages),
        "replies": len(shop.replies),
        "faults": shop.faults.pending(),
    }


@router.put("/{instance}")
async def configure(request: Request, instance: str, body: ShopIn) -> dict[str, Any]:
    shop = shop_of(request, instance)
    current = shop.config
    shop.config = ShopConfig(
        name=instance,
        partner_id=body.partner_id or current.partner_id,
        shop_id=body.shop_id or current.shop_id,
        key=body.key or current.key,
        shop_name=body.shop_name or current.shop_name,
        token_ttl=timedelta(seconds=body.token_ttl_seconds)
        if body.token_ttl_seconds
        else current.token_ttl,
    )
    return describe(shop)


@router.post("/{instance}/messages", status_code=201)
async def incoming_message(
    request: Request, instance: str, body: IncomingMessageIn
) -> dict[str, Any]:
    shop = shop_of(request, instance)
    if body.order_id and body.offer_id:
        raise HTTPException(400, "give order_id or offer_id, not both")
    if body.offer_id:
        referer_type, referer = OFFER, body.offer_id
    else:
        referer_type, referer = ORDER, body.order_id or new_order_id()
    conversation = shop.conversation(
        referer_type,
        referer,
        customer_name=body.sender_name if body.from_type == CLIENT and body.sender_name else "",
        offer_title=body.offer_title,
    )
    if body.from_type == CLIENT and body.sender_name:
        conversation.customer_name = body.sender_name
    conversation.customer_name = conversation.customer_name or "Client Fnac"
    if body.incident:
        conversation.incident = True
    default_subject = "Question sur l'article" if referer_type == OFFER else "Question"
    if body.from_type == CALLCENTER:
        sender = body.sender_name or "Service Client Fnac"
        default_subject = "Nouvelle réclamation"
    else:
        sender = conversation.customer_name
    files = [decode_file(a) for a in body.attachments]
    message = shop.write(
        conversation,
        from_type=body.from_type,
        from_name=sender,
        subject=body.subject or default_subject,
        description=body.body,
        at=body.sent_at,
        files=files,
    )
    return {
        "thread_id": message.thread_id,
        "message_id": message.id,
        "referer_type": referer_type,
        "referer": referer,
        "created_at": wire.xs_datetime(message.created_at),
        "files": [{"id": f.id, "name": f.name} for f in message.files],
    }


def decode_file(item: AttachmentIn) -> tuple[str, str, bytes]:
    return decode_attachment(item, HTTPException)


@router.get("/{instance}/replies")
async def list_replies(
    request: Request, instance: str, thread_id: str | None = None
) -> dict[str, Any]:
    shop = shop_of(request, instance)
    return {
        "replies": [
            {
                "thread_id": r.thread_id,
                "replied_to": r.replied_to,
                "message_id": r.message_id,
                "to": r.to,
                "subject": r.subject,
                "message_type": r.message_type,
                "body": r.body,
                "received_at": wire.xs_datetime(r.received_at),
            }
            for r in shop.replies
            if thread_id is None or r.thread_id == thread_id
        ]
    }


@router.get("/{instance}/messages")
async def list_messages(request: Request, instance: str) -> dict[str, Any]:
    """Every message's read/archived state, to check ``mark_as_read`` and friends."""
    shop = shop_of(request, instance)
    return {
        "messages": [
            {
                "message_id": m.id,
                "thread_id": m.thread_id,
                "from_type": m.from_type,
                "state": m.state,
                "archived": m.archived,
                "body": m.description,
            }
            for m in sorted(shop.messages.values(), key=lambda m: (m.created_at, m.id))
        ]
    }


@router.post("/{instance}/tokens/expire")
async def expire_tokens(request: Request, instance: str) -> dict[str, Any]:
    """Ends every session, as Fnac does when ``validity`` passes."""
    return {"expired": shop_of(request, instance).expire_tokens()}


def faults_of(request: Request, instance: str) -> FaultQueue:
    return shop_of(request, instance).faults


add_fault_routes(
    router, "/{instance}/faults", queue_of=faults_of, targets=FAULT_TARGETS, refuse=HTTPException
)
add_registry_routes(
    router,
    list_path="",
    reset_path="/reset",
    registry_of=sandbox_of,
    instance_of=shop_of,
    describe=describe,
)
