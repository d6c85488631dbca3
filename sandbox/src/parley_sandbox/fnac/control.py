"""Sandbox-only control API for the Fnac family, under ``/_sandbox/fnac`` (JSON).

Play the buyer (or Fnac's customer service), read what the shop sent, expire session
tokens and arm faults. Not part of Fnac's API; Parley's services never call it.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime, timedelta
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from parley_sandbox.faults import FaultKind
from parley_sandbox.fnac import wire
from parley_sandbox.fnac.routes import sandbox_of
from parley_sandbox.fnac.store import (
    CALLCENTER,
    CLIENT,
    OFFER,
    OPERATIONS,
    ORDER,
    FnacFault,
    FnacRefusal,
    FnacShop,
    ShopConfig,
    new_order_id,
)

router = APIRouter(prefix="/_sandbox/fnac")


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ShopIn(Body):
    """Settings of one marketplace's shop; omitted fields keep their value."""

    partner_id: str | None = Field(default=None, min_length=1)
    shop_id: str | None = Field(default=None, min_length=1)
    key: str | None = Field(default=None, min_length=1)
    shop_name: str | None = None
    token_ttl_seconds: int | None = Field(default=None, ge=1)


class AttachmentIn(Body):
    name: str = Field(min_length=1)
    content_base64: str
    content_type: str = "application/octet-stream"


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
    sent_at: datetime | None = Field(
        default=None, description="Defaults to now; a past time helps incremental-sync tests"
    )


class FaultIn(Body):
    kind: FaultKind
    count: int = Field(default=1, ge=1, le=1000, description="How many calls suffer it")
    operations: list[str] = Field(
        default_factory=list,
        description="auth, messages_query, messages_update, message_file; empty means all",
    )
    retry_after: int = Field(default=30, ge=0)
    status: int = Field(default=500, ge=500, le=599)
    delay_seconds: float = Field(default=2.0, ge=0, le=120)


class ResetIn(Body):
    instance: str | None = None
    seed: bool = True


def shop_of(request: Request, instance: str) -> FnacShop:
    try:
        return sandbox_of(request).instance(instance)
    except FnacRefusal as exc:
        raise HTTPException(404, exc.message) from exc


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


@router.get("")
async def list_shops(request: Request) -> dict[str, Any]:
    return {"instances": [describe(s) for s in sandbox_of(request).instances.values()]}


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
    try:
        content = base64.b64decode(item.content_base64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise HTTPException(400, f"attachment {item.name!r}: content_base64 is not base64") from exc
    return (item.name, item.content_type, content)


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


@router.post("/{instance}/faults", status_code=201)
async def arm_fault(request: Request, instance: str, body: FaultIn) -> dict[str, Any]:
    unknown = set(body.operations) - OPERATIONS
    if unknown:
        raise HTTPException(400, f"unknown operations {sorted(unknown)}; use {sorted(OPERATIONS)}")
    shop = shop_of(request, instance)
    shop.faults.arm(
        FnacFault(
            kind=body.kind,
            remaining=body.count,
            operations=frozenset(body.operations),
            retry_after=body.retry_after,
            status=body.status,
            delay_seconds=body.delay_seconds,
        )
    )
    return {"faults": shop.faults.pending()}


@router.get("/{instance}/faults")
async def list_faults(request: Request, instance: str) -> dict[str, Any]:
    return {"faults": shop_of(request, instance).faults.pending()}


@router.delete("/{instance}/faults")
async def clear_faults(request: Request, instance: str) -> dict[str, Any]:
    shop_of(request, instance).faults.clear()
    return {"faults": []}


@router.post("/reset")
async def reset(request: Request, body: ResetIn | None = None) -> dict[str, Any]:
    wanted = body or ResetIn()
    sandbox = sandbox_of(request)
    if wanted.instance is not None:
        shop_of(request, wanted.instance)  # validates the name
    sandbox.reset(seed=wanted.seed, name=wanted.instance)
    return {"instances": [describe(s) for s in sandbox.instances.values()]}
