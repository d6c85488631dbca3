"""Sandbox-only control API under ``/_sandbox`` (JSON), for tests and demos.

A real marketplace offers no way to play the buyer, read what the shop sent, or make
itself fail on demand; tests need all three. These endpoints are not part of any
marketplace's API and Parley's services never call them.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from parley_sandbox.faults import OPERATIONS, Fault, FaultKind
from parley_sandbox.mirakl import wire
from parley_sandbox.mirakl.store import (
    CUSTOMER,
    InstanceConfig,
    MiraklInstance,
    MiraklSandbox,
    Party,
    SandboxError,
    StoredThread,
)

router = APIRouter(prefix="/_sandbox")


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InstanceIn(Body):
    """Settings of one operator instance; omitted fields keep their value."""

    api_key: str | None = Field(default=None, min_length=1)
    shop_id: int | None = None
    shop_name: str | None = None
    operator_name: str | None = None


class AttachmentIn(Body):
    name: str = Field(min_length=1)
    content_base64: str
    content_type: str = "application/octet-stream"


class IncomingMessageIn(Body):
    """A message the buyer (or the operator) writes, in a new or an existing thread.

    Without ``thread_id`` a new thread opens: on ``offer_id`` (a pre-sale question)
    when given, else on ``order_id`` (generated when absent); an operator without an
    order opens a shop-operator thread.
    """

    body: str = Field(min_length=1)
    thread_id: str | None = None
    sender: Literal["CUSTOMER", "OPERATOR"] = "CUSTOMER"
    to: list[Literal["SHOP", "OPERATOR", "CUSTOMER"]] | None = None
    customer_id: str | None = None
    customer_name: str | None = None
    order_id: str | None = None
    order_label: str | None = None
    offer_id: str | None = None
    topic: str | None = None
    attachments: list[AttachmentIn] = Field(default_factory=list)
    sent_at: datetime | None = Field(
        default=None, description="Defaults to now; a past time helps incremental-sync tests"
    )


class FaultIn(Body):
    kind: FaultKind
    count: int = Field(default=1, ge=1, le=1000, description="How many calls suffer it")
    operations: list[str] = Field(
        default_factory=list, description="M10, M11, M12, M13; empty means every call"
    )
    retry_after: int = Field(default=30, ge=0, description="rate_limit: Retry-After seconds")
    status: int = Field(default=500, ge=500, le=599, description="server_error: the 5xx")
    delay_seconds: float = Field(default=2.0, ge=0, le=120, description="slow: the delay")


class ResetIn(Body):
    instance: str | None = None
    seed: bool = True


def sandbox_of(request: Request) -> MiraklSandbox:
    sandbox: MiraklSandbox = request.app.state.mirakl
    return sandbox


def describe(instance: MiraklInstance) -> dict[str, Any]:
    config = instance.config
    return {
        "name": config.name,
        "shop_id": config.shop_id,
        "shop_name": config.shop_name,
        "operator_name": config.operator_name,
        "threads": len(instance.threads),
        "replies": len(instance.replies),
        "faults": instance.faults.pending(),
    }


@router.get("/mirakl")
async def list_instances(request: Request) -> dict[str, Any]:
    sandbox = sandbox_of(request)
    return {"instances": [describe(i) for i in sandbox.instances.values()]}


@router.put("/mirakl/{instance}")
async def configure_instance(request: Request, instance: str, body: InstanceIn) -> dict[str, Any]:
    found = sandbox_of(request).instance(instance)
    current = found.config
    found.config = InstanceConfig(
        name=instance,
        api_key=body.api_key or current.api_key,
        shop_id=body.shop_id if body.shop_id is not None else current.shop_id,
        shop_name=body.shop_name or current.shop_name,
        operator_name=body.operator_name or current.operator_name,
    )
    return describe(found)


@router.post("/mirakl/{instance}/messages", status_code=201)
async def incoming_message(
    request: Request, instance: str, body: IncomingMessageIn
) -> dict[str, Any]:
    found = sandbox_of(request).instance(instance)
    files = [decode_file(a) for a in body.attachments]
    if body.thread_id is not None:
        thread = found.thread(body.thread_id)
    else:
        thread = open_thread(found, body)
    sender = thread.party(body.sender)
    if sender is None:
        raise SandboxError(400, f"{body.sender} is not a participant of thread '{thread.id}'")
    if body.to:
        to = [p for kind in dict.fromkeys(body.to) if (p := thread.party(kind)) is not None]
    else:
        to = [found.shop]
    message = found.post(thread, sender=sender, body=body.body, to=to, files=files, at=body.sent_at)
    return {
        "thread_id": thread.id,
        "message_id": message.id,
        "date_created": wire.iso(message.date_created),
        "attachments": [{"id": a.id, "name": a.name, "size": a.size} for a in message.attachments],
    }


def open_thread(found: MiraklInstance, body: IncomingMessageIn) -> StoredThread:
    customer = None
    if body.sender == CUSTOMER or body.customer_id or body.customer_name:
        customer = Party(
            CUSTOMER,
            body.customer_name or "Sandbox Buyer",
            body.customer_id or f"C-{uuid.uuid4().hex[:8]}",
        )
    if body.offer_id:
        entity = {
            "id": body.offer_id,
            "label": body.order_label or body.offer_id,
            "type": "MMP_OFFER",
        }
    elif body.order_id or body.sender == CUSTOMER:
        order = body.order_id or f"SBX-{uuid.uuid4().hex[:8].upper()}-A"
        label = body.order_label or order.removesuffix("-A")
        entity = {"id": order, "label": label, "type": "MMP_ORDER"}
    else:
        shop = found.shop
        entity = {"id": shop.id or "", "label": shop.display_name, "type": "SELLER_OPERATOR"}
    topic = body.topic or f"Message about {entity['label']}"
    return found.open_thread(topic=topic, entities=[entity], customer=customer, at=body.sent_at)


def decode_file(item: AttachmentIn) -> tuple[str, str, bytes]:
    try:
        content = base64.b64decode(item.content_base64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SandboxError(400, f"attachment {item.name!r}: content_base64 is not base64") from exc
    return (item.name, item.content_type, content)


@router.get("/mirakl/{instance}/replies")
async def list_replies(
    request: Request, instance: str, thread_id: str | None = None
) -> dict[str, Any]:
    found = sandbox_of(request).instance(instance)
    replies = [r for r in found.replies if thread_id is None or r.thread_id == thread_id]
    return {
        "replies": [
            {
                "thread_id": r.thread_id,
                "message_id": r.message_id,
                "body": r.body,
                "to": [wire.participant(p) for p in r.to],
                "topic": r.topic,
                "attachments": [
                    {"id": a.id, "name": a.name, "size": a.size, "content_type": a.content_type}
                    for a in r.attachments
                ],
                "received_at": wire.iso(r.received_at),
                "shop_id": r.shop_id,
            }
            for r in replies
        ]
    }


@router.post("/mirakl/{instance}/faults", status_code=201)
async def arm_fault(request: Request, instance: str, body: FaultIn) -> dict[str, Any]:
    unknown = set(body.operations) - OPERATIONS
    if unknown:
        raise SandboxError(400, f"unknown operations {sorted(unknown)}; use {sorted(OPERATIONS)}")
    found = sandbox_of(request).instance(instance)
    found.faults.arm(
        Fault(
            kind=body.kind,
            remaining=body.count,
            operations=frozenset(body.operations),
            retry_after=body.retry_after,
            status=body.status,
            delay_seconds=body.delay_seconds,
        )
    )
    return {"faults": found.faults.pending()}


@router.get("/mirakl/{instance}/faults")
async def list_faults(request: Request, instance: str) -> dict[str, Any]:
    return {"faults": sandbox_of(request).instance(instance).faults.pending()}


@router.delete("/mirakl/{instance}/faults")
async def clear_faults(request: Request, instance: str) -> dict[str, Any]:
    sandbox_of(request).instance(instance).faults.clear()
    return {"faults": []}


@router.post("/reset")
async def reset(request: Request, body: ResetIn | None = None) -> dict[str, Any]:
    wanted = body or ResetIn()
    sandbox = sandbox_of(request)
    if wanted.instance is not None:
        sandbox.instance(wanted.instance)  # validates the name
    sandbox.reset(seed=wanted.seed, name=wanted.instance)
    return {"instances": [describe(i) for i in sandbox.instances.values()]}
