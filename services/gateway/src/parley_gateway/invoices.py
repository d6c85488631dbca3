"""Invoices from the inbox (F20): a store's invoice settings, an order's invoice or a
refund's credit note for a discussion, and the invoice attached to a reply.

The invoicer numbers, renders and stores every document; this layer decides *what*
it is asked, within the caller's scope. The order comes from what Parley knows of the
discussion (store, marketplace, order id, the buyer's name) and what the request
supplies (order date, currency, billing address, lines: no connector reports them
today); anything still missing is refused with a 422 naming each field before the
invoicer is asked, so a number is never spent on an incomplete order.

An invoice attached to a reply travels like any file a merchant uploads: a copy is
kept in the gateway's own bucket, marked as the store's, under a key derived from the
invoicer's file id. The responder then sends it natively or as a download link by the
same rules as every attachment, and reading it needs no access to the invoicer's
bucket; the same invoice attached twice is the same file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from parley_gateway.domain import Scope
from parley_gateway.files import FileService
from parley_gateway.ports import DiscussionRepository, Invoicer, InvoicerRefused, IssuedDocument
from parley_gateway.service import (
    DiscussionNotFound,
    DiscussionService,
    QueuedReply,
    ReplyRequest,
)
from parley_platform.logging import get_logger
from parley_schemas import InvoiceDocument, InvoiceKind, ParticipantRole
from parley_store import DiscussionDocument

log = get_logger(__name__)

PDF = "application/pdf"
NO_ORDER = "the discussion names no order: the order id is required"


class InvoiceFieldsMissing(ValueError):
    """Fields the request must supply because Parley does not know them, each as a JSON
    Pointer into the request body with what to send."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__(", ".join(fields))
        self.fields = fields


class StoreNotInScope(LookupError):
    """Not one of the caller's stores: answered like an unknown store (404)."""

    def __init__(self, store_id: str) -> None:
        super().__init__(f"no store {store_id}")
        self.store_id = store_id


class SettingsNotSaved(LookupError):
    """The store has no invoice settings yet."""

    def __init__(self, store_id: str) -> None:
        super().__init__(f"no invoice settings saved for store {store_id}")
        self.store_id = store_id


class InvoiceFileNotFound(LookupError):
    """No document with that file on the discussion."""

    def __init__(self, discussion_id: str, file_id: str) -> None:
        super().__init__(f"no invoice file {file_id} on discussion {discussion_id}")
        self.discussion_id = discussion_id
        self.file_id = file_id


@dataclass(frozen=True)
class InvoicePdf:
    number: str
    content: bytes

    @property
    def file_name(self) -> str:
        return f"{self.number}.pdf"


@dataclass(frozen=True)
class InvoiceReply:
    """A queued reply and the invoice it carries: ``file_id`` is the copy attached to
    the reply (a file of the store), ``document`` the invoicer's own."""

    queued: QueuedReply
    document: IssuedDocument
    file_id: str


class InvoiceService:
    def __init__(
        self,
        discussions: DiscussionRepository,
        invoicer: Invoicer,
        replies: DiscussionService,
        files: FileService | None = None,
    ) -> None:
        """``replies`` checks and queues a reply that carries an invoice; ``files`` is
        where that invoice is kept to attach, None refusing such replies."""
        self._discussions = discussions
        self._invoicer = invoicer
        self._files = files
        self._replies = replies

    async def settings(self, scope: Scope, store_id: str) -> dict[str, Any]:
        _check_store(scope, store_id)
        saved = await self._invoicer.get_settings(store_id)
        if saved is None:
            raise SettingsNotSaved(store_id)
        return saved

    async def save_settings(
        self, scope: Scope, store_id: str, settings: dict[str, Any]
    ) -> dict[str, Any]:
        """The invoicer validates and keeps them; its 422 names each invalid field."""
        _check_store(scope, store_id)
        saved = await self._invoicer.put_settings(store_id, settings)
        log.info("invoice settings saved", store_id=store_id)
        return saved

    async def issue(
        self, scope: Scope, discussion_id: str, supplied: dict[str, Any], *, at: str = "#"
    ) -> IssuedDocument:
        """The invoice of the discussion's order: issued once, the same on every repeat.

        ``supplied`` is what the request gives (see the module doc); ``at`` is where it
        sits in the request body, so every error points at the client's own field.
        """
        return await self._issue(await self._discussion(scope, discussion_id), supplied, at)

    async def _issue(
        self, discussion: DiscussionDocument, supplied: dict[str, Any], at: str
    ) -> IssuedDocument:
        order = await self._order(discussion, supplied, at)
        issued = await _passing_problems(self._invoicer.issue_invoice(order), "#/order", at)
        log.info(
            "invoice issued" if issued.created else "invoice found",
            discussion_id=discussion.id,
            number=issued.number,
        )
        return issued

    async def credit(
        self, scope: Scope, discussion_id: str, supplied: dict[str, Any], *, at: str = "#"
    ) -> IssuedDocument:
        """A credit note for a refund of the discussion's (invoiced) order."""
        discussion = await self._discussion(scope, discussion_id)
        refund = {k: v for k, v in supplied.items() if v is not None}
        order_id = _order_id(discussion, refund.get("order_id"), at)
        if order_id is None:
            raise InvoiceFieldsMissing({f"{at}/order_id": NO_ORDER})
        if not refund.get("refund_id"):
            raise InvoiceFieldsMissing({f"{at}/refund_id": "the refund's id is required"})
        refund.update(
            store_id=discussion.store_id,
            marketplace=discussion.marketplace,
            order_id=order_id,
            discussion_id=discussion.id,
        )
        issued = await _passing_problems(self._invoicer.issue_credit_note(refund), "#/refund", at)
        log.info("credit note issued", discussion_id=discussion.id, number=issued.number)
        return issued

    async def documents(self, scope: Scope, discussion_id: str) -> list[dict[str, Any]]:
        """The discussion's invoices and credit notes, in numbering order."""
        discussion = await self._discussion(scope, discussion_id)
        return await self._invoicer.documents_of(discussion.id)

    async def pdf(self, scope: Scope, discussion_id: str, file_id: str) -> InvoicePdf:
        """A document's PDF, only through a discussion it is listed on: knowing a file
        id is never enough."""
        for document in await self.documents(scope, discussion_id):
            if document.get("file_id") == file_id:
                return InvoicePdf(str(document["number"]), await self._invoicer.pdf(file_id))
        raise InvoiceFileNotFound(discussion_id, file_id)

    async def reply(
        self,
        scope: Scope,
        discussion_id: str,
        reply: ReplyRequest,
        supplied: dict[str, Any],
        *,
        requested_by: str,
        at: str = "#/attach_invoice",
    ) -> InvoiceReply:
        """Queues a reply carrying the order's invoice (issued now or before).

        The reply is checked first, so a reply that will be refused issues no invoice on
        its way; the invoice is kept as a file of the discussion's store (attached like
        an upload) and named on the command as the order's invoice.
        """
        if self._files is None:
            raise InvoiceFieldsMissing({at: "attaching invoices is not available here"})
        checked = await self._replies.check_reply(scope, discussion_id, reply, with_invoice=True)
        issued = await self._issue(checked.discussion, supplied, at)
        file_id = await self._files.keep_generated(
            checked.discussion.store_id,
            f"invoice/{issued.file_id}",
            f"{issued.number}.pdf",
            PDF,
            issued.pdf,
            by=requested_by,
        )
        document = InvoiceDocument(
            file_id=file_id, number=issued.number, kind=InvoiceKind(issued.kind)
        )
        queued = await self._replies.queue_reply(
            checked, requested_by=requested_by, invoice=document
        )
        return InvoiceReply(queued, issued, file_id)

    async def _discussion(self, scope: Scope, discussion_id: str) -> DiscussionDocument:
        discussion = await self._discussions.get(scope, discussion_id)
        if discussion is None:
            raise DiscussionNotFound(discussion_id)
        return discussion

    async def _order(
        self, discussion: DiscussionDocument, supplied: dict[str, Any], at: str
    ) -> dict[str, Any]:
        """The invoicer's order: the discussion's facts, then what the request adds."""
        buyer = {k: v for k, v in (supplied.get("buyer") or {}).items() if v is not None}
        buyer.setdefault("name", _customer_name(discussion))
        order: dict[str, Any] = {
            "store_id": discussion.store_id,
            "marketplace": discussion.marketplace,
            "discussion_id": discussion.id,
            "order_id": _order_id(discussion, supplied.get("order_id"), at),
            "order_date": supplied.get("order_date"),
            "currency": supplied.get("currency"),
            "buyer": buyer,
            "lines": supplied.get("lines") or None,
        }
        if order["currency"] is None:
            # The store's default currency, when its settings name one.
            saved = await self._invoicer.get_settings(discussion.store_id) or {}
            order["currency"] = saved.get("default_currency")
        missing = {
            f"{at}/{field}": why
            for field, why in (
                ("order_id", NO_ORDER),
                ("order_date", "the order's date is required (YYYY-MM-DD)"),
                ("currency", "the order's currency is required (ISO 4217, e.g. EUR)"),
                ("lines", "at least one order line is required"),
            )
            if not order[field]
        }
        if not buyer.get("name"):
            missing[f"{at}/buyer/name"] = "the buyer's name is required (none on the discussion)"
        if not buyer.get("billing_address"):
            missing[f"{at}/buyer/billing_address"] = "the buyer's billing address is required"
        if missing:
            raise InvoiceFieldsMissing(missing)
        return {k: v for k, v in order.items() if v is not None}


def _check_store(scope: Scope, store_id: str) -> None:
    if not scope.allows(store_id):
        raise StoreNotInScope(store_id)


def _order_id(discussion: DiscussionDocument, supplied: Any, at: str) -> str | None:
    """The discussion's order; a different one is refused (the invoice is listed on
    this discussion); None when neither the discussion nor the request names one."""
    if discussion.order_id is not None:
        if supplied is not None and supplied != discussion.order_id:
            raise InvoiceFieldsMissing(
                {f"{at}/order_id": f"this discussion is about order {discussion.order_id}"}
            )
        return discussion.order_id
    return str(supplied) if supplied else None


def _customer_name(discussion: DiscussionDocument) -> str | None:
    for participant in discussion.participants:
        if participant.role is ParticipantRole.CUSTOMER and participant.name:
            return participant.name
    return None


async def _passing_problems(call: Any, sent_at: str, at: str) -> IssuedDocument:
    """The invoicer's refusal, with its pointers moved from the body it was sent
    (``#/order/...``) to where the client sent the same fields (``at``)."""
    try:
        issued: IssuedDocument = await call
    except InvoicerRefused as exc:
        problem = dict(exc.problem)
        errors = problem.get("errors")
        if isinstance(errors, list):
            problem["errors"] = [_moved(e, sent_at, at) for e in errors if isinstance(e, dict)]
        raise InvoicerRefused(exc.status, problem) from exc
    return issued


def _moved(error: dict[str, Any], sent_at: str, at: str) -> dict[str, Any]:
    pointer = str(error.get("pointer") or "")
    if pointer == "#/settings":  # the client cannot send settings here: say where they go
        return {
            **error,
            "detail": "the store has no invoice settings: save them first with "
            "PUT /stores/{store_id}/invoice-settings",
        }
    if pointer == sent_at or pointer.startswith(sent_at + "/"):
        pointer = at + pointer[len(sent_at) :]
    return {**error, "pointer": pointer}
