"""Sandbox-only control API for the Rakuten family, under ``/_sandbox/rakuten`` (JSON).

Play the buyer (or Rakuten France's customer service), read what the seller sent,
and arm faults. Not part of Rakuten's API; Parley's services never call it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from parley_sandbox.faults import FaultKind
from parley_sandbox.rakuten.routes import sandbox_of
from parley_sandbox.rakuten.store import (
    OPERATIONS,
    AccountConfig,
    RakutenAccount,
    RakutenFault,
    RakutenRefusal,
    to_minute,
)
from parley_sandbox.rakuten.wire import rakuten_date

router = APIRouter(prefix="/_sandbox/rakuten")


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AccountIn(Body):
    """Settings of one seller account; omitted fields keep their value."""

    login: str | None = Field(default=None, min_length=1)
    token: str | None = Field(default=None, min_length=1)
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
    sent_at: datetime | None = Field(
        default=None, description="Defaults to now; a past time helps incremental-sync tests"
    )


class FaultIn(Body):
    kind: FaultKind
    count: int = Field(default=1, ge=1, le=1000)
    operations: list[str] = Field(
        default_factory=list,
        description="getitemtodolist, getiteminfos, contactuseraboutitem; empty means all",
    )
    retry_after: int = Field(default=30, ge=0)
    status: int = Field(default=500, ge=500, le=599)
    delay_seconds: float = Field(default=2.0, ge=0, le=120)


class ResetIn(Body):
    instance: str | None = None
    seed: bool = True


def account_of(request: Request, instance: str) -> RakutenAccount:
    try:
        return sandbox_of(request).instance(instance)
    except RakutenRefusal as exc:
        raise HTTPException(404, exc.detail) from exc


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


@router.get("")
async def list_accounts(request: Request) -> dict[str, Any]:
    return {"instances": [describe(a) for a in sandbox_of(request).instances.values()]}


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


@router.post("/{instance}/faults", status_code=201)
async def arm_fault(request: Request, instance: str, body: FaultIn) -> dict[str, Any]:
    unknown = set(body.operations) - OPERATIONS
    if unknown:
        raise HTTPException(400, f"unknown operations {sorted(unknown)}; use {sorted(OPERATIONS)}")
    account = account_of(request, instance)
    account.faults.arm(
        RakutenFault(
            kind=body.kind,
            remaining=body.count,
            operations=frozenset(body.operations),
            retry_after=body.retry_after,
            status=body.status,
            delay_seconds=body.delay_seconds,
        )
    )
    return {"faults": account.faults.pending()}


@router.get("/{instance}/faults")
async def list_faults(request: Request, instance: str) -> dict[str, Any]:
    return {"faults": account_of(request, instance).faults.pending()}


@router.delete("/{instance}/faults")
async def clear_faults(request: Request, instance: str) -> dict[str, Any]:
    account_of(request, instance).faults.clear()
    return {"faults": []}


@router.post("/reset")
async def reset(request: Request, body: ResetIn | None = None) -> dict[str, Any]:
    wanted = body or ResetIn()
    sandbox = sandbox_of(request)
    if wanted.instance is not None:
        account_of(request, wanted.instance)
    sandbox.reset(seed=wanted.seed, name=wanted.instance)
    return {"instances": [describe(a) for a in sandbox.instances.values()]}
