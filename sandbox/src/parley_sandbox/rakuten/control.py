"""Sandbox-only control API for the Rakuten family, under ``/_sandbox/rakuten`` (JSON).

Play the buyer (or Rakuten France's customer service), read what the seller sent,
and arm faults. Not part of Rakuten's API; Parley's services never call it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request
from pydantic import Field

from parley_sandbox.control_kit import (
    Body,
    SentAt,
    Setting,
    add_fault_routes,
    add_registry_routes,
    instance_or_404,
)
from parley_sandbox.faults import FaultQueue
from parley_sandbox.rakuten.routes import sandbox_of
from parley_sandbox.rakuten.store import (
    FAULT_TARGETS,
    AccountConfig,
    RakutenAccount,
    RakutenRefusal,
    to_minute,
)
from parley_sandbox.rakuten.wire import rakuten_date

router = APIRouter(prefix="/_sandbox/rakuten")


class AccountIn(Body):
    """Settings of one seller account; omitted fields keep their value."""

    login: Setting = None
    token: Setting = None
    seller_id: str | None = None
    todo_page_size: int | None = Field(default=None, ge=1, le=1000)


class IncomingMessageIn(Body):
    """A message the buyer (BUYER) or Rakuten France's customer service (RAKUTEN) writes.

    It joins the item ``itemid``, or a new sold item (generated ids) when absent.
    """

    body: str = Field(min_length=1)
    sender: Literal["BUYER", "RAKUTEN"] = "BUYER"
    itemid: str | None = Field(default=None, pattern=r"^[0-9]{1,20}$")
    buyer: str | None = None
    headline: str | None = None
    subject: str | None = None
    claim: Literal["AMICABLE", "OPEN"] | None = None
    claim_comment: str | None = None
    ordered_at: datetime | None = None
    received_at: datetime | None = None
    sent_at: SentAt = None


def account_of(request: Request, instance: str) -> RakutenAccount:
    return instance_or_404(sandbox_of(request), instance, RakutenRefusal)


def describe(account: RakutenAccount) -> dict[str, Any]:
    config = account.config
    return {
        "name": config.name,
        "login": config.login,
        "seller_id": config.seller_id,
        "items": len(account.items),
        "todo": [i.itemid for i in account.todo()],
        "replies": len(account.replies),
        "faults": account.faults.pending(),
    }


@router.put("/{instance}")
async def configure(request: Request, instance: str, body: AccountIn) -> dict[str, Any]:
    account = account_of(request, instance)
    current = account.config
    account.config = AccountConfig(
        name=instance,
        login=body.login or current.login,
        token=body.token or current.token,
        seller_id=body.seller_id or current.seller_id,
        todo_page_size=body.todo_page_size or current.todo_page_size,
    )
    return describe(account)


@router.post("/{instance}/messages", status_code=201)
async def incoming_message(
    request: Request, instance: str, body: IncomingMessageIn
) -> dict[str, Any]:
    account = account_of(request, instance)
    item = account.item(
        body.itemid,
        buyer=body.buyer or "acheteur-sandbox",
        headline=body.headline,
        ordered_at=body.ordered_at
        or (to_minute(body.sent_at) - timedelta(days=1) if body.sent_at else None),
    )
    if body.received_at is not None:
        item.received_at = to_minute(body.received_at)
    if body.claim is not None:
        item.claim, item.claim_comment = body.claim, body.claim_comment
    mail_id = None
    if body.sender == "RAKUTEN":
        subject = body.subject or f"Votre vente ({item.itemid}) - Service Clients Rakuten France"
        mail_id = account.rakuten_writes(item, body.body, subject, at=body.sent_at).mail_id
    else:
        account.buyer_writes(item, body.body, at=body.sent_at)
    sent = item.messages[-1].sent_at
    return {
        "thread_id": f"item:{item.itemid}",
        "itemid": item.itemid,
        "purchaseid": item.purchaseid,
        "mailid": mail_id,
        "senddate": rakuten_date(sent),
        "sent_at": sent.isoformat(),
    }


@router.get("/{instance}/replies")
async def list_replies(
    request: Request, instance: str, thread_id: str | None = None
) -> dict[str, Any]:
    account = account_of(request, instance)
    return {
        "replies": [
            {
                "thread_id": r.thread_id,
                "itemid": r.itemid,
                "content": r.content,
                "received_at": r.received_at.isoformat(),
            }
            for r in account.replies
            if thread_id is None or r.thread_id == thread_id
        ]
    }


def faults_of(request: Request, instance: str) -> FaultQueue:
    return account_of(request, instance).faults


add_fault_routes(
    router, "/{instance}/faults", queue_of=faults_of, targets=FAULT_TARGETS, refuse=HTTPException
)
add_registry_routes(
    router,
    list_path="",
    reset_path="/reset",
    registry_of=sandbox_of,
    instance_of=account_of,
    describe=describe,
)
