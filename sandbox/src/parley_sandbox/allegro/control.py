"""Sandbox-only control API for the Allegro family, under ``/_sandbox/allegro``.

Plays the buyer (Message Center messages, disputes and claims), Allegro's own staff,
and the person who authorises the application; shows what the seller sent; stages
token expiry and faults. Not part of Allegro's API; Parley's services never call it.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timedelta
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import Field

from parley_sandbox.allegro import wire
from parley_sandbox.allegro.faults import FAULT_TARGETS
from parley_sandbox.allegro.routes import sandbox_of
from parley_sandbox.allegro.store import (
    ADMIN,
    BUYER,
    AccountConfig,
    AllegroAccount,
    AllegroError,
    Issue,
    StoredFile,
)
from parley_sandbox.control_kit import (
    AttachmentIn,
    Body,
    Setting,
    add_fault_routes,
    decode_attachment,
)
from parley_sandbox.faults import FaultQueue
from parley_sandbox.mirakl.store import truncate_ms

router = APIRouter(prefix="/_sandbox/allegro")


class AccountIn(Body):
    """Settings of one seller account; omitted fields keep their value."""

    seller_login: Setting = None
    client_id: Setting = None
    client_secret: Setting = None
    initial_refresh_token: Setting = None
    access_token_ttl: int | None = Field(default=None, ge=1)
    strict_rotation: bool | None = None


class BuyerMessageIn(Body):
    """A buyer's Message Center message: in ``thread_id``, or in a new thread."""

    text: str = Field(min_length=1)
    thread_id: str | None = None
    buyer_login: str | None = None
    subject: str | None = None
    order_id: str | None = None
    offer_id: str | None = None
    type: Literal["MESSAGE_CENTER", "ASK_QUESTION", "MAIL"] = "MESSAGE_CENTER"
    attachments: list[AttachmentIn] = Field(default_factory=list)
    sent_at: datetime | None = Field(default=None, description="Defaults to now")


class IssueMessageIn(Body):
    """A message in ``issue_id``, or a new dispute/claim opened by the buyer."""

    text: str | None = None
    issue_id: str | None = None
    author: Literal["BUYER", "ADMIN"] = "BUYER"
    type: Literal["DISPUTE", "CLAIM"] = "DISPUTE"
    buyer_login: str | None = None
    subject: str | None = None
    order_id: str | None = None
    offer_id: str | None = None
    reason: str | None = None
    attachments: list[AttachmentIn] = Field(default_factory=list)
    sent_at: datetime | None = None


class IssueStateIn(Body):
    status: str | None = None
    chat_active: bool | None = None


class ResetIn(Body):
    account: str | None = None
    seed: bool = True


def account_of(request: Request, name: str) -> AllegroAccount:
    return sandbox_of(request).account(name)


def decode(item: AttachmentIn) -> StoredFile:
    return StoredFile(str(uuid.uuid4()), *decode_attachment(item, AllegroError))


@router.get("")
async def list_accounts(request: Request) -> dict[str, Any]:
    return {"accounts": [wire.describe(a) for a in sandbox_of(request).accounts.values()]}


@router.put("/{name}")
async def configure(request: Request, name: str, body: AccountIn) -> dict[str, Any]:
    account = account_of(request, name)
    current = account.config
    account.config = AccountConfig(
        name=name,
        seller_login=body.seller_login or current.seller_login,
        client_id=body.client_id or current.client_id,
        client_secret=body.client_secret or current.client_secret,
        initial_refresh_token=body.initial_refresh_token or current.initial_refresh_token,
        access_token_ttl=body.access_token_ttl or current.access_token_ttl,
        strict_rotation=(
            body.strict_rotation if body.strict_rotation is not None else current.strict_rotation
        ),
    )
    return wire.describe(account)


@router.post("/{name}/authorize")
async def authorize(request: Request, name: str) -> dict[str, Any]:
    """Stands in for the seller consenting in a browser: a fresh token pair."""
    sandbox = sandbox_of(request)
    return sandbox.issue_tokens(sandbox.account(name))


@router.post("/{name}/tokens/revoke")
async def revoke_tokens(request: Request, name: str) -> dict[str, Any]:
    """Access tokens issued so far stop working (refresh tokens keep theirs)."""
    account = account_of(request, name)
    account.tokens_valid_from = account.clock.now() + timedelta(milliseconds=1)
    return wire.describe(account)


@router.post("/{name}/messages", status_code=201)
async def buyer_message(request: Request, name: str, body: BuyerMessageIn) -> dict[str, Any]:
    account = account_of(request, name)
    files = [decode(f) for f in body.attachments]
    if body.thread_id is not None:
        thread = account.thread(body.thread_id)
    else:
        thread = account.open_thread(body.buyer_login or f"client:{uuid.uuid4().int % 10**8}")
    message = account.write(
        thread,
        text=body.text,
        from_buyer=True,
        at=body.sent_at,
        subject=body.subject,
        order_id=body.order_id,
        offer_id=body.offer_id,
        message_type=body.type,
        files=files,
    )
    return {
        "thread_id": thread.id,
        "message_id": message.id,
        "created_at": wire.iso(message.created_at),
        "attachments": [{"id": f.id, "name": f.name, "size": f.size} for f in files],
    }


@router.post("/{name}/issues", status_code=201)
async def issue_message(request: Request, name: str, body: IssueMessageIn) -> dict[str, Any]:
    account = account_of(request, name)
    files = [decode(f) for f in body.attachments]
    if not body.text and not files:
        raise AllegroError(400, "text or attachments are required")
    if body.issue_id is not None:
        issue = account.issue(body.issue_id)
    else:
        opened = truncate_ms(body.sent_at) if body.sent_at else account.clock.now()
        claim = body.type == "CLAIM"
        issue = account.add_issue(
            Issue(
                id=str(uuid.uuid4()),
                type=body.type,
                opened_at=opened,
                buyer_id=str(uuid.uuid4().int % 10**8),
                buyer_login=body.buyer_login or "kupujacy-sandbox",
                order_id=body.order_id or str(uuid.uuid4()),
                order_created_at=opened - timedelta(days=7),
                subject=None if claim else (body.subject or "Problem z zamówieniem"),
                status="CLAIM_SUBMITTED" if claim else "DISPUTE_ONGOING",
                reference_number=f"{len(account.issues) + 1}/2026" if claim else None,
                offer_id=body.offer_id,
                reason={"type": body.reason, "description": body.subject or ""}
                if claim and body.reason
                else None,
                right="COMPLAINT" if claim else None,
                decision_due=opened + timedelta(days=14) if claim else None,
            )
        )
    message = account.say(
        issue,
        text=body.text,
        role=ADMIN if body.author == "ADMIN" else BUYER,
        at=body.sent_at,
        files=files,
    )
    return {
        "issue_id": issue.id,
        "message_id": message.id,
        "created_at": wire.iso(message.created_at),
        "attachments": [{"id": f.id, "name": f.name, "size": f.size} for f in files],
    }


@router.patch("/{name}/issues/{issue_id}")
async def issue_state(
    request: Request, name: str, issue_id: str, body: IssueStateIn
) -> dict[str, Any]:
    issue = account_of(request, name).issue(issue_id)
    if body.status is not None:
        issue.status = body.status
    if body.chat_active is not None:
        issue.chat_active = body.chat_active
    return {"issue_id": issue.id, "status": issue.status, "chat_active": issue.chat_active}


@router.get("/{name}/replies")
async def replies(
    request: Request, name: str, channel: str | None = None, thread_id: str | None = None
) -> dict[str, Any]:
    account = account_of(request, name)
    found = [
        r
        for r in account.replies
        if (channel is None or r.channel == channel)
        and (thread_id is None or r.thread_id == thread_id)
    ]
    return {
        "replies": [
            {
                "channel": r.channel,
                "thread_id": r.thread_id,
                "message_id": r.message_id,
                "text": r.text,
                # The files as received (sha256 of the bytes), so tests can assert them.
                "attachments": [
                    {
                        "id": f.id,
                        "name": f.name,
                        "size": f.size,
                        "content_type": f.content_type,
                        "sha256": hashlib.sha256(f.content).hexdigest(),
                    }
                    for f in r.attachments
                ],
                "received_at": wire.iso(r.received_at),
            }
            for r in found
        ]
    }


def faults_of(request: Request, name: str) -> FaultQueue:
    return account_of(request, name).faults


add_fault_routes(
    router, "/{instance}/faults", queue_of=faults_of, targets=FAULT_TARGETS, refuse=AllegroError
)


@router.post("/reset")
async def reset(request: Request, body: ResetIn | None = None) -> dict[str, Any]:
    wanted = body or ResetIn()
    sandbox = sandbox_of(request)
    if wanted.account is not None:
        sandbox.account(wanted.account)  # validates the name
    sandbox.reset(seed=wanted.seed, name=wanted.account)
    return {"accounts": [wire.describe(a) for a in sandbox.accounts.values()]}
