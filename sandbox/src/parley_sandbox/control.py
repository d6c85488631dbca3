"""Sandbox-only control API under ``/_sandbox`` (JSON), for tests and demos.

A real marketplace offers no way to play the buyer, read what the shop sent, or make
itself fail on demand; tests need all three. These endpoints are not part of any
marketplace's API and Parley's services never call them.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import Field

from parley_sandbox.control_kit import (
    AttachmentIn,
    Body,
    SentAt,
    Setting,
    add_fault_routes,
    add_registry_routes,
    decode_attachment,
)
from parley_sandbox.faults import MIRAKL_TARGETS, FaultQueue
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


class InstanceIn(Body):
    """Settings of one operator instance; omitted fields keep their value."""

    api_key: Setting = None
    shop_id: int | None = None
    shop_name: str | None = None
    operator_name: str | None = None


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
    sent_at: SentAt = None


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
    return decode_attachment(item, SandboxError)


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
                # The files as received (sha256 of the bytes), so tests can assert them.
                "attachments": [
                    {
                        "id": a.id,
                        "name": a.name,
                        "size": a.size,
                        "content_type": a.content_type,
                        "sha256": hashlib.sha256(a.content).hexdigest(),
                    }
                    for a in r.attachments
                ],
                "received_at": wire.iso(r.received_at),
                "shop_id": r.shop_id,
            }
            for r in replies
        ]
    }


def faults_of(request: Request, instance: str) -> FaultQueue:
    return sandbox_of(request).instance(instance).faults


add_fault_routes(
    router,
    "/mirakl/{instance}/faults",
    queue_of=faults_of,
    targets=MIRAKL_TARGETS,
    refuse=SandboxError,
)
add_registry_routes(
    router,
    list_path="/mirakl",
    reset_path="/reset",
    registry_of=sandbox_of,
    instance_of=lambda request, name: sandbox_of(request).instance(name),
    describe=describe,
)
