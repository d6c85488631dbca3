"""In-memory state of the sandbox's Allegro: seller accounts, their conversations, tokens.

Allegro is one marketplace with many sellers; the API has no seller in its paths, the
OAuth access token says whose data a call sees. So the sandbox keeps *accounts* (one
per seller, created on first use by the control API) and resolves every API call's
account from its bearer token.

Tokens are signed rather than remembered, so a restarted sandbox still accepts the
tokens it issued before (a demo stack keeps its connections working): a token is
``sbx.<base64url JSON {account, kind, issued-at, nonce}>.<HMAC>``. Refresh tokens
rotate on every use like Allegro's; with ``strict_rotation`` a used refresh token is
refused afterwards (``invalid_grant``), which is how tests stage the race between two
processes sharing one connection.

Times are UTC and truncated to milliseconds, the precision the wire shows.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from parley_sandbox.faults import FaultQueue
from parley_sandbox.mirakl.store import Clock, truncate_ms
from parley_sandbox.registry import InstanceRegistry

DEFAULT_CLIENT_ID = "sandbox-allegro-client"
DEFAULT_CLIENT_SECRET = "sandbox-allegro-secret"  # noqa: S105 - the sandbox's public demo value
ACCESS_TOKEN_TTL = 12 * 3600  # documented lifetime of an access token
MAX_TEXT_LENGTH = 2000  # NewMessageInThread.text maxLength
MAX_ATTACHMENT_BYTES = 5_242_880  # NewAttachmentDeclaration.size maximum
ATTACHMENT_TYPES = {
    "image/png": (".png",),
    "image/gif": (".gif",),
    "image/bmp": (".bmp",),
    "image/tiff": (".tif", ".tiff"),
    "image/jpeg": (".jpg", ".jpeg"),
    "application/pdf": (".pdf",),
}
# Signs the sandbox's tokens; a fixed value so tokens survive a restart. Not a secret.
_SIGNING_KEY = b"parley-allegro-sandbox"

BUYER, SELLER, ADMIN = "BUYER", "SELLER", "ADMIN"


class AllegroError(Exception):
    """A request the sandbox refuses; routes turn it into Allegro's error answer."""

    def __init__(
        self, status: int, message: str, *, code: str | None = None, path: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or _DEFAULT_CODES.get(status, "InternalServerError")
        self.path = path


class RateLimitedAnswer(AllegroError):
    def __init__(self, retry_after: int) -> None:
        super().__init__(429, "Too many requests, please retry later", code="TooManyRequests")
        self.retry_after = retry_after


class OAuthError(Exception):
    """An RFC 6749 error of the token endpoint (and of a refused bearer token)."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description


_DEFAULT_CODES = {
    400: "BadRequest",
    403: "AccessDenied",
    404: "NotFoundException",
    406: "NotAcceptable",
    409: "Conflict",
    413: "PayloadTooLarge",
    415: "UnsupportedMediaType",
    422: "ValidationException",
}


@dataclass
class StoredFile:
    id: str
    name: str
    content_type: str
    content: bytes
    status: str = "SAFE"

    @property
    def size(self) -> int:
        return len(self.content)


@dataclass
class Declaration:
    """A Message Center attachment declared by the seller, uploaded or not yet."""

    id: str
    filename: str
    size: int
    file: StoredFile | None = None


@dataclass
class ThreadMessage:
    id: str
    thread_id: str
    author_login: str
    is_interlocutor: bool
    text: str
    created_at: datetime
    type: str = "MESSAGE_CENTER"
    status: str = "DELIVERED"
    subject: str | None = None
    offer_id: str | None = None
    order_id: str | None = None
    attachments: list[StoredFile] = field(default_factory=list)


@dataclass
class Thread:
    id: str
    interlocutor: str
    read: bool = False
    messages: list[ThreadMessage] = field(default_factory=list)

    @property
    def last_message_at(self) -> datetime | None:
        return max((m.created_at for m in self.messages), default=None)


@dataclass
class IssueMessage:
    id: str
    text: str | None
    author_role: str
    author_login: str | None
    created_at: datetime
    attachments: list[StoredFile] = field(default_factory=list)


@dataclass
class Issue:
    id: str
    type: str  # DISPUTE | CLAIM
    opened_at: datetime
    buyer_id: str
    buyer_login: str
    order_id: str
    order_created_at: datetime
    subject: str | None
    status: str
    reference_number: str | None = None
    chat_active: bool = True
    offer_id: str | None = None
    product_id: str | None = None
    reason: dict[str, str] | None = None
    right: str | None = None
    description: str | None = None
    decision_due: datetime | None = None
    chat: list[IssueMessage] = field(default_factory=list)

    @property
    def last_message(self) -> IssueMessage | None:
        return max(self.chat, key=lambda m: m.created_at, default=None)


@dataclass
class ReceivedReply:
    """What the seller sent through the API, as tests want to check it."""

    channel: str  # message_center | discussions
    thread_id: str
    message_id: str
    text: str | None
    attachments: list[StoredFile]
    received_at: datetime


@dataclass
class AccountConfig:
    name: str
    seller_login: str = ""
    client_id: str = DEFAULT_CLIENT_ID
    client_secret: str = DEFAULT_CLIENT_SECRET
    initial_refresh_token: str = ""
    access_token_ttl: int = ACCESS_TOKEN_TTL
    strict_rotation: bool = False

    def __post_init__(self) -> None:
        if not self.seller_login:
            self.seller_login = self.name.replace("-", "_").title()
        if not self.initial_refresh_token:
            self.initial_refresh_token = f"sandbox-refresh-token-{self.name}"


class AllegroAccount:
    """One seller's Allegro as the seller's application sees it."""

    def __init__(self, config: AccountConfig, clock: Clock) -> None:
        self.config = config
        self.clock = clock
        self.threads: dict[str, Thread] = {}
        self.issues: dict[str, Issue] = {}
        self.files: dict[str, StoredFile] = {}  # Message Center attachments
        self.issue_files: dict[str, StoredFile] = {}
        self.declarations: dict[str, Declaration] = {}
        self.replies: list[ReceivedReply] = []
        self.faults = FaultQueue()
        self.used_refresh_nonces: set[str] = set()
        self.initial_refresh_used = False
        self.tokens_valid_from: datetime | None = None
        self.refreshes = 0

    # --- Message Center ----------------------------------------------------------------

    def thread(self, thread_id: str) -> Thread:
        found = self.threads.get(thread_id)
        if found is None:
            raise AllegroError(404, f"Thread {thread_id} not found", path="threadId")
        return found

    def open_thread(self, interlocutor: str, thread_id: str | None = None) -> Thread:
        thread = Thread(id=thread_id or _thread_id(), interlocutor=interlocutor)
        self.threads[thread.id] = thread
        return thread

    def write(
        self,
        thread: Thread,
        *,
        text: str,
        from_buyer: bool,
        at: datetime | None = None,
        subject: str | None = None,
        order_id: str | None = None,
        offer_id: str | None = None,
        message_type: str = "MESSAGE_CENTER",
        files: Iterable[StoredFile] = (),
        message_id: str | None = None,
    ) -> ThreadMessage:
        when = truncate_ms(at) if at is not None else self.clock.now()
        message = ThreadMessage(
            id=message_id or str(uuid.uuid4()),
            thread_id=thread.id,
            author_login=thread.interlocutor if from_buyer else self.config.seller_login,
            is_interlocutor=from_buyer,
            text=text,
            created_at=when,
            type=message_type,
            subject=subject,
            offer_id=offer_id,
            order_id=order_id,
            attachments=list(files),
        )
        thread.messages.append(message)
        for file in message.attachments:
            self.files[file.id] = file
        if from_buyer:
            thread.read = False
        return message

    def threads_newest_first(self) -> list[Thread]:
        """Sorted by last message date, newest first (threads without one last)."""
        dated = [t for t in self.threads.values() if t.last_message_at is not None]
        undated = [t for t in self.threads.values() if t.last_message_at is None]
        dated.sort(key=lambda t: (t.last_message_at, t.id), reverse=True)
        return dated + undated

    def declare(self, filename: str, size: int) -> Declaration:
        declaration = Declaration(str(uuid.uuid4()), filename, size)
        self.declarations[declaration.id] = declaration
        return declaration

    # --- post-purchase issues -----------------------------------------------------------

    def issue(self, issue_id: str) -> Issue:
        found = self.issues.get(issue_id)
        if found is None:
            raise AllegroError(404, f"Issue {issue_id} not found", path="issueId")
        return found

    def add_issue(self, issue: Issue) -> Issue:
        self.issues[issue.id] = issue
        return issue

    def say(
        self,
        issue: Issue,
        *,
        text: str | None,
        role: str,
        at: datetime | None = None,
        files: Iterable[StoredFile] = (),
        message_id: str | None = None,
    ) -> IssueMessage:
        when = truncate_ms(at) if at is not None else self.clock.now()
        login = {BUYER: issue.buyer_login, SELLER: self.config.seller_login}.get(role)
        message = IssueMessage(
            id=message_id or str(uuid.uuid4()),
            text=text,
            author_role=role,
            author_login=login,
            created_at=when,
            attachments=list(files),
        )
        issue.chat.append(message)
        for file in message.attachments:
            self.issue_files[file.id] = file
        return message

    def issues_newest_opened_first(self) -> list[Issue]:
        return sorted(self.issues.values(), key=lambda i: (i.opened_at, i.id), reverse=True)


class AllegroSandbox(InstanceRegistry[AllegroAccount]):
    """Every seller account of one sandbox process, created on first use."""

    def __init__(
        self,
        *,
        seed: bool = True,
        clock: Clock | None = None,
        seeder: Callable[[AllegroSandbox], None] | None = None,
    ) -> None:
        self.clock = clock or Clock()
        super().__init__(seed=seed, seeder=seeder)

    @property
    def accounts(self) -> dict[str, AllegroAccount]:
        """The accounts by name (Allegro calls its instances sellers' accounts)."""
        return self.instances

    def account(self, name: str) -> AllegroAccount:
        return self.instance(name)

    def _create(self, name: str) -> AllegroAccount:
        return AllegroAccount(AccountConfig(name=name), self.clock)

    def _unknown(self, name: str) -> Exception:
        return AllegroError(404, f"Unknown Allegro sandbox account '{name}'")

    def _blank(self) -> AllegroSandbox:
        return AllegroSandbox(seed=False, clock=self.clock)

    def configure(self, config: AccountConfig) -> AllegroAccount:
        account = self.account(config.name)
        account.config = config
        return account

    # --- OAuth -------------------------------------------------------------------------

    def issue_tokens(self, account: AllegroAccount) -> dict[str, Any]:
        """A fresh access and refresh token pair, as the token endpoint answers it."""
        now = self.clock.now()
        ttl = account.config.access_token_ttl
        return {
            "access_token": _sign(account.config.name, "at", now),
            "token_type": "bearer",
            "refresh_token": _sign(account.config.name, "rt", now),
            "expires_in": ttl,
            "scope": "allegro:api:messaging allegro:api:disputes",
            "allegro_api": True,
            "jti": str(uuid.uuid4()),
        }

    def refresh(self, client_id: str, client_secret: str, refresh_token: str) -> dict[str, Any]:
        """``grant_type=refresh_token``: new tokens, the used refresh token rotated out."""
        account = self.account_of_refresh_token(refresh_token)
        config = account.config
        if not (
            hmac.compare_digest(client_id, config.client_id)
            and hmac.compare_digest(client_secret, config.client_secret)
        ):
            raise OAuthError(401, "invalid_client", "Bad client credentials")
        if refresh_token == config.initial_refresh_token:
            if config.strict_rotation and account.initial_refresh_used:
                raise OAuthError(400, "invalid_grant", "Invalid refresh token")
            account.initial_refresh_used = True
        else:
            claims = _verify(refresh_token, "rt")
            assert claims is not None
            if config.strict_rotation and claims["n"] in account.used_refresh_nonces:
                raise OAuthError(400, "invalid_grant", "Invalid refresh token")
            account.used_refresh_nonces.add(claims["n"])
        account.refreshes += 1
        return self.issue_tokens(account)

    def account_of_refresh_token(self, refresh_token: str) -> AllegroAccount:
        for account in self.accounts.values():
            if refresh_token == account.config.initial_refresh_token:
                return account
        claims = _verify(refresh_token, "rt")
        if claims is None or claims["a"] not in self.accounts:
            raise OAuthError(400, "invalid_grant", "Invalid refresh token")
        return self.accounts[claims["a"]]

    def account_of_access_token(self, header: str | None) -> AllegroAccount:
        """The account a ``Bearer`` token belongs to, or the documented 401."""
        if not header or not header.startswith("Bearer "):
            raise OAuthError(401, "invalid_token", "Full authentication is required")
        claims = _verify(header.removeprefix("Bearer ").strip(), "at")
        if claims is None or claims["a"] not in self.accounts:
            raise OAuthError(401, "invalid_token", "Invalid access token")
        account = self.accounts[claims["a"]]
        issued = datetime.fromisoformat(claims["t"])
        expired = issued + timedelta(seconds=account.config.access_token_ttl) <= self.clock.now()
        revoked = account.tokens_valid_from is not None and issued < account.tokens_valid_from
        if expired or revoked:
            raise OAuthError(401, "invalid_token", "Access token expired")
        return account


def _thread_id() -> str:
    """Allegro's thread ids look like 43 URL-safe characters."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes + uuid.uuid4().bytes).decode()[:43]


def _sign(account: str, kind: str, issued: datetime) -> str:
    claims = {"a": account, "k": kind, "t": issued.isoformat(), "n": uuid.uuid4().hex}
    encoded = base64.urlsafe_b64encode(json.dumps(claims, separators=(",", ":")).encode())
    body = encoded.decode().rstrip("=")
    mac = hmac.new(_SIGNING_KEY, body.encode(), hashlib.sha256).hexdigest()[:32]
    return f"sbx.{body}.{mac}"


def _verify(token: str, kind: str) -> dict[str, str] | None:
    try:
        prefix, body, mac = token.split(".")
    except ValueError:
        return None
    expected = hmac.new(_SIGNING_KEY, body.encode(), hashlib.sha256).hexdigest()[:32]
    if prefix != "sbx" or not hmac.compare_digest(mac, expected):
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (ValueError, binascii.Error):
        return None
    if not isinstance(claims, dict) or claims.get("k") != kind:
        return None
    return {str(k): str(v) for k, v in claims.items()}
