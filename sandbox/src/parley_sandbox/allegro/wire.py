"""The documented Allegro JSON shapes, rendered from the sandbox's state.

Kept apart from the routes so each shape can be read in one place against the REST
API reference: Thread, Message (Message Center), PostPurchaseIssue and its chat
messages, and the error bodies (``ErrorsHolder`` and OAuth's ``AuthError``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from parley_sandbox.allegro.store import (
    AllegroAccount,
    Issue,
    IssueMessage,
    StoredFile,
    Thread,
    ThreadMessage,
)


def iso(value: datetime) -> str:
    """``2026-03-01T09:00:00.000Z``: UTC with milliseconds, as Allegro writes dates."""
    utc = value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def avatar(login: str) -> str:
    return f"https://a.allegroimg.com/original/sandbox/{login.replace(':', '-')}/avatar"


def thread(item: Thread) -> dict[str, Any]:
    last = item.last_message_at
    return {
        "id": item.id,
        "read": item.read,
        "lastMessageDateTime": iso(last) if last is not None else None,
        "interlocutor": {"login": item.interlocutor, "avatarUrl": avatar(item.interlocutor)},
    }


def message(item: ThreadMessage, base_url: str) -> dict[str, Any]:
    relates: dict[str, Any] = {"offer": None, "order": None}
    if item.offer_id:
        relates["offer"] = {"id": item.offer_id}
    if item.order_id:
        relates["order"] = {"id": item.order_id}
    return {
        "id": item.id,
        "status": item.status,
        "type": item.type,
        "createdAt": iso(item.created_at),
        "thread": {"id": item.thread_id},
        "author": {"login": item.author_login, "isInterlocutor": item.is_interlocutor},
        "text": item.text,
        "subject": item.subject,
        "relatesTo": relates,
        "hasAdditionalAttachments": False,
        "attachments": [
            {
                "fileName": f.name,
                "mimeType": f.content_type,
                "url": f"{base_url}/messaging/message-attachments/{f.id}",
                "status": f.status,
            }
            for f in item.attachments
        ],
        "additionalInformation": None,
    }


def issue_attachment(file: StoredFile, base_url: str) -> dict[str, Any]:
    return {"fileName": file.name, "url": f"{base_url}/sale/issues/attachments/{file.id}"}


def chat_message(item: IssueMessage, base_url: str) -> dict[str, Any]:
    author: dict[str, Any] = {"role": item.author_role}
    if item.author_login is not None:
        author["login"] = item.author_login
    return {
        "id": item.id,
        "text": item.text,
        "attachments": [issue_attachment(f, base_url) for f in item.attachments],
        "author": author,
        "createdAt": iso(item.created_at),
    }


_LAST_STATUS = {"BUYER": "BUYER_REPLIED", "SELLER": "SELLER_REPLIED"}


def issue(item: Issue, base_url: str) -> dict[str, Any]:
    first = min(item.chat, key=lambda m: m.created_at, default=None)
    last = item.last_message
    chat: dict[str, Any] = {
        "lastMessage": None,
        "messagesCount": len(item.chat),
        "initialMessage": chat_message(first, base_url) if first else None,
    }
    if last is not None:
        status = "NEW" if len(item.chat) == 1 else _LAST_STATUS.get(last.author_role, "ALLEGRO")
        chat["lastMessage"] = {"status": status, "createdAt": iso(last.created_at)}
    return {
        "id": item.id,
        "type": item.type,
        "referenceNumber": item.reference_number,
        "decisionDueDate": iso(item.decision_due) if item.decision_due else None,
        "openedDate": iso(item.opened_at),
        "subject": item.subject,
        "buyer": {"id": item.buyer_id, "login": item.buyer_login},
        "checkoutForm": {"id": item.order_id, "createdAt": iso(item.order_created_at)},
        "currentState": {
            "status": item.status,
            "statusDueDate": None,
            "returnRequired": None,
            "chatActive": item.chat_active,
        },
        "chat": chat,
        "expectations": [],
        "description": item.description,
        "offer": {"id": item.offer_id, "quantity": 1} if item.offer_id else None,
        "product": {"id": item.product_id} if item.product_id else None,
        "reason": item.reason,
        "right": item.right,
        "attachments": [],
    }


def errors(status_code: str, message_text: str, path: str | None = None) -> dict[str, Any]:
    """Allegro's ``ErrorsHolder``."""
    return {
        "errors": [
            {
                "code": status_code,
                "message": message_text,
                "details": None,
                "path": path,
                "userMessage": message_text,
            }
        ]
    }


def oauth_error(error: str, description: str) -> dict[str, str]:
    """RFC 6749's error body, which Allegro also answers for a refused bearer token."""
    return {"error": error, "error_description": description}


def describe(account: AllegroAccount) -> dict[str, Any]:
    config = account.config
    return {
        "name": config.name,
        "seller_login": config.seller_login,
        "client_id": config.client_id,
        "initial_refresh_token": config.initial_refresh_token,
        "strict_rotation": config.strict_rotation,
        "access_token_ttl": config.access_token_ttl,
        "threads": len(account.threads),
        "issues": len(account.issues),
        "replies": len(account.replies),
        "refreshes": account.refreshes,
        "faults": account.faults.pending(),
    }
