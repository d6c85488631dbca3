"""The HTTP surface the gateway calls: invoices, credit notes, listings, files, settings.

Handlers stay thin: parse (pydantic does it, errors become problem+json in
:mod:`parley_invoicer.problems`), call the service, shape the response.

- ``PUT``/``GET /stores/{store_id}/invoice-settings``: a store's invoice settings;
- ``POST /invoices``: an order's invoice as PDF (idempotent per order);
- ``POST /credit-notes``: a refund's credit note as PDF (idempotent per refund id);
- ``GET /invoices?discussion_id=`` or ``?store_id=&marketplace=&order_id=``: the
  documents listed, as JSON;
- ``GET /invoice-files/{file_id}``: a stored PDF.

``settings`` may be left out of a POST when the store's settings were saved: the
saved ones are used; with neither, the answer is a 422 naming ``#/settings``.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from parley_invoicer.domain.invoice import DocumentKind
from parley_invoicer.domain.models import InvoiceRequest, InvoiceSettings, RefundRequest
from parley_invoicer.ports import DocumentQuery, SettingsStore
from parley_invoicer.problems import MissingFieldsError, Problem
from parley_invoicer.service import DocumentSummary, InvoiceIssuer, IssuedInvoice, NotFoundError

PDF_MEDIA_TYPE = "application/pdf"
STORE_ID = r"^[A-Za-z0-9_.-]{1,64}$"

router = APIRouter()


class CreateInvoice(BaseModel):
    """Body of ``POST /invoices``: the order, and the store's invoice settings unless
    they were saved with ``PUT /stores/{store_id}/invoice-settings``."""

    model_config = ConfigDict(extra="forbid")

    settings: InvoiceSettings | None = None
    order: InvoiceRequest


class CreateCreditNote(BaseModel):
    """Body of ``POST /credit-notes``: the refund, and settings as for an invoice."""

    model_config = ConfigDict(extra="forbid")

    settings: InvoiceSettings | None = None
    refund: RefundRequest


class DocumentOut(BaseModel):
    """An invoice or credit note as listed; fetch its PDF at ``/invoice-files/{file_id}``."""

    number: str
    kind: DocumentKind
    issue_date: date
    store_id: str
    marketplace: str
    order_id: str
    discussion_id: str | None
    currency: str
    total_incl_vat: str = Field(description="Decimal as a string, e.g. '123.45'")
    file_id: str | None = Field(description="None while the PDF is being rendered")
    corrects: str | None = Field(description="For a credit note: the invoice number")

    @classmethod
    def of(cls, summary: DocumentSummary) -> DocumentOut:
        return cls.model_validate(summary, from_attributes=True)


class DocumentList(BaseModel):
    documents: list[DocumentOut]


def get_issuer(request: Request) -> InvoiceIssuer:
    issuer: InvoiceIssuer = request.app.state.issuer
    return issuer


def get_settings_store(request: Request) -> SettingsStore:
    store: SettingsStore = request.app.state.settings_store
    return store


Issuer = Annotated[InvoiceIssuer, Depends(get_issuer)]
Settings = Annotated[SettingsStore, Depends(get_settings_store)]
StoreId = Annotated[str, Path(pattern=STORE_ID)]

# Documented as problem+json by parley_invoicer.problems.
_PROBLEM: dict[str, Any] = {"model": Problem}
_PDF_CONTENT = {PDF_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}}
_PDF_HEADERS = {
    "X-Invoice-Number": {
        "description": "The number given to the document",
        "schema": {"type": "string"},
    },
    "X-Invoice-File-Id": {
        "description": "The stored PDF's id (the same on every repeat)",
        "schema": {"type": "string"},
    },
    "X-Document-Kind": {
        "description": "invoice or credit_note",
        "schema": {"type": "string"},
    },
    "Content-Disposition": {
        "description": 'attachment; filename="<number>.pdf"',
        "schema": {"type": "string"},
    },
}


@router.get("/health")
async def health() -> dict[str, str]:
    """Liveness and readiness: the process answers (rendering needs nothing external)."""
    return {"status": "ok"}


@router.put(
    "/stores/{store_id}/invoice-settings",
    response_model=InvoiceSettings,
    responses={422: {**_PROBLEM, "description": "Invalid settings"}},
)
async def put_settings(
    store_id: StoreId, settings: InvoiceSettings, store: Settings
) -> InvoiceSettings:
    """Save the store's invoice settings (replacing the previous ones). Documents
    already issued keep the settings they were issued with."""
    await store.put(store_id, settings.model_dump(mode="json"))
    return settings


@router.get(
    "/stores/{store_id}/invoice-settings",
    response_model=InvoiceSettings,
    responses={404: {**_PROBLEM, "description": "No settings saved for this store"}},
)
async def get_settings(store_id: StoreId, store: Settings) -> InvoiceSettings:
    saved = await store.get(store_id)
    if saved is None:
        raise NotFoundError(f"no invoice settings saved for store {store_id}")
    return InvoiceSettings.model_validate(saved)


async def _settings_for(
    store_id: str, given: InvoiceSettings | None, store: SettingsStore
) -> InvoiceSettings:
    if given is not None:
        return given
    saved = await store.get(store_id)
    if saved is None:
        raise MissingFieldsError(
            {"#/settings": f"no invoice settings saved for store {store_id}: send settings"}
        )
    return InvoiceSettings.model_validate(saved)


def _pdf_response(issued: IssuedInvoice) -> Response:
    return Response(
        content=issued.pdf,
        status_code=201 if issued.created else 200,
        media_type=PDF_MEDIA_TYPE,
        headers={
            # The number only holds [A-Za-z0-9_-], so it is safe as a bare filename.
            "Content-Disposition": f'attachment; filename="{issued.number}.pdf"',
            "X-Invoice-Number": issued.number,
            "X-Invoice-File-Id": issued.file_id,
            "X-Document-Kind": issued.kind.value,
            # Names and addresses: no cache on the way may keep a copy.
            "Cache-Control": "no-store",
        },
    )


@router.post(
    "/invoices",
    status_code=201,
    response_class=Response,
    responses={
        201: {
            "description": "The invoice, a PDF/A-3 with its Factur-X XML",
            "content": _PDF_CONTENT,
            "headers": _PDF_HEADERS,
        },
        200: {
            "description": "The order was invoiced before: the same number and PDF again",
            "content": _PDF_CONTENT,
        },
        409: {**_PROBLEM, "description": "The numbering series is exhausted"},
        422: {**_PROBLEM, "description": "Invalid or missing settings or order fields"},
    },
)
async def create_invoice(body: CreateInvoice, issuer: Issuer, store: Settings) -> Response:
    """Number the order's invoice and return it as a PDF in the buyer's language.

    One order (store, marketplace, order id) gets one invoice: asking again, even with
    other settings, answers 200 with the same number and the same stored PDF bytes, so a
    client may retry after a timeout without issuing a second invoice.
    """
    settings = await _settings_for(body.order.store_id, body.settings, store)
    return _pdf_response(await issuer.issue(body.order, settings))


@router.post(
    "/credit-notes",
    status_code=201,
    response_class=Response,
    responses={
        201: {
            "description": "The credit note, a PDF/A-3 with its Factur-X XML (type 381)",
            "content": _PDF_CONTENT,
            "headers": _PDF_HEADERS,
        },
        200: {
            "description": "The refund was credited before: the same credit note again",
            "content": _PDF_CONTENT,
        },
        409: {**_PROBLEM, "description": "The order has no invoice, or the series is full"},
        422: {**_PROBLEM, "description": "Invalid or missing settings or refund fields"},
    },
)
async def create_credit_note(body: CreateCreditNote, issuer: Issuer, store: Settings) -> Response:
    """Credit the refund against the order's invoice (all its lines unless ``lines``
    says which); one credit note per refund id."""
    settings = await _settings_for(body.refund.store_id, body.settings, store)
    return _pdf_response(await issuer.credit(body.refund, settings))


@router.get(
    "/invoices",
    response_model=DocumentList,
    responses={422: {**_PROBLEM, "description": "Neither a discussion nor an order given"}},
)
async def list_documents(
    issuer: Issuer,
    discussion_id: Annotated[str | None, Query(pattern=STORE_ID)] = None,
    store_id: Annotated[str | None, Query(pattern=STORE_ID)] = None,
    marketplace: Annotated[str | None, Query(pattern=STORE_ID)] = None,
    order_id: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
) -> DocumentList:
    """The invoices and credit notes of a discussion, or of an order (store,
    marketplace and order id together)."""
    order = {"store_id": store_id, "marketplace": marketplace, "order_id": order_id}
    if discussion_id is None:
        missing = {
            f"#/query/{k}": "required to list an order's documents"
            for k, v in order.items()
            if v is None
        }
        if missing:
            raise MissingFieldsError(missing)
        query = DocumentQuery(store_id=store_id, marketplace=marketplace, order_id=order_id)
    else:
        query = DocumentQuery(discussion_id=discussion_id)
    return DocumentList(documents=[DocumentOut.of(s) for s in await issuer.documents(query)])


@router.get(
    "/invoice-files/{file_id}",
    response_class=Response,
    responses={
        200: {"description": "The stored PDF", "content": _PDF_CONTENT},
        404: {**_PROBLEM, "description": "No such file"},
    },
)
async def get_file(
    file_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9:_.|-]{1,300}$")], issuer: Issuer
) -> Response:
    """A stored invoice or credit note PDF, as issued."""
    pdf = await issuer.pdf(file_id)
    return Response(
        content=pdf,
        media_type=PDF_MEDIA_TYPE,
        headers={"Cache-Control": "no-store"},
    )
