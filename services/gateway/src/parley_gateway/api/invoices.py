"""Invoices (F20): a store's invoice settings, a discussion's invoices and credit notes.

- ``GET``/``PUT /stores/{store_id}/invoice-settings``: one of the caller's stores;
- ``POST /discussions/{id}/invoices``: the order's invoice (201 issued, 200 the same
  number and file again);
- ``GET /discussions/{id}/invoices``: the discussion's invoices and credit notes;
- ``GET /discussions/{id}/invoices/{file_id}``: one of them as a PDF;
- ``POST /discussions/{id}/credit-notes``: a refund's credit note.

A reply carries the invoice with ``attach_invoice`` on ``POST /discussions/{id}/replies``
(``InvoiceService.reply``). A store or discussion outside the caller's scope answers
404 like an unknown one; the invoicer's refusals pass through as problem+json (a 422
names each field), and an invoicer that does not answer is a 503 + Retry-After.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Path, Request, Response
from fastapi.responses import JSONResponse

from parley_gateway.api.dependencies import CallerScope, get_caller
from parley_gateway.api.files import NotConfigured
from parley_gateway.api.invoice_models import (
    CreditNoteIn,
    InvoiceList,
    InvoiceOrderIn,
    InvoiceOut,
    InvoiceSettingsIn,
)
from parley_gateway.api.problems import (
    PROBLEM_RESPONSES,
    PROBLEM_TYPE_BASE,
    InputProblem,
    problem_response,
    retry_after,
)
from parley_gateway.bootstrap import Runtime
from parley_gateway.invoices import (
    InvoiceFieldsMissing,
    InvoiceFileNotFound,
    InvoiceService,
    SettingsNotSaved,
    StoreNotInScope,
)
from parley_gateway.ports import InvoicerRefused, InvoicerUnavailable, IssuedDocument
from parley_platform.logging import get_logger

log = get_logger(__name__)

PDF = "application/pdf"


def get_invoices(request: Request) -> InvoiceService:
    runtime: Runtime = request.app.state.runtime
    invoices = runtime.invoices
    if invoices is None:
        raise NotConfigured("invoices are not wired")
    return invoices


Invoices = Annotated[InvoiceService, Depends(get_invoices)]
StoreId = Annotated[str, Path(min_length=1, max_length=64, description="One of your stores")]
DiscussionId = Annotated[
    str, Path(min_length=1, max_length=128, description="The discussion's opaque id")
]
FileId = Annotated[str, Path(pattern=r"^[A-Za-z0-9]{1,64}$", description="The PDF's id")]

router = APIRouter(
    tags=["invoices"],
    dependencies=[Depends(get_caller)],
    responses={401: PROBLEM_RESPONSES[401]},
)
_SETTINGS_DOC: dict[int | str, dict[str, Any]] = {
    200: {"model": InvoiceSettingsIn, "description": "The store's invoice settings"}
}
_PDF_RESPONSE: dict[str, Any] = {
    "description": "The PDF/A-3 with its embedded Factur-X (EN 16931) XML",
    "content": {PDF: {"schema": {"type": "string", "format": "binary"}}},
}


@router.get(
    "/stores/{store_id}/invoice-settings",
    summary="A store's invoice settings",
    response_class=JSONResponse,
    responses={**_SETTINGS_DOC, **{s: PROBLEM_RESPONSES[s] for s in (404, 503)}},
)
async def get_invoice_settings(
    store_id: StoreId, invoices: Invoices, scope: CallerScope
) -> JSONResponse:
    return JSONResponse(await invoices.settings(scope, store_id))


@router.put(
    "/stores/{store_id}/invoice-settings",
    summary="Save a store's invoice settings (seller identity, numbering, terms)",
    response_class=JSONResponse,
    responses={**_SETTINGS_DOC, **{s: PROBLEM_RESPONSES[s] for s in (404, 422, 503)}},
)
async def put_invoice_settings(
    store_id: StoreId, settings: InvoiceSettingsIn, invoices: Invoices, scope: CallerScope
) -> JSONResponse:
    return JSONResponse(await invoices.save_settings(scope, store_id, settings.supplied()))


@router.post(
    "/discussions/{discussion_id}/invoices",
    status_code=201,
    summary="Issue the invoice of the discussion's order (once; repeats answer it again)",
    response_description="Issued now (201) or before (200: the same number and PDF)",
    responses={
        200: {"model": InvoiceOut, "description": "Issued before: the same invoice"},
        **{s: PROBLEM_RESPONSES[s] for s in (404, 422, 503)},
        409: {**PROBLEM_RESPONSES[422], "description": "Numbering series exhausted"},
    },
)
async def issue_invoice(
    discussion_id: DiscussionId,
    order: InvoiceOrderIn,
    request: Request,
    response: Response,
    invoices: Invoices,
    scope: CallerScope,
) -> InvoiceOut:
    issued = await invoices.issue(scope, discussion_id, order.supplied())
    return _issued_answer(request, response, discussion_id, issued)


@router.post(
    "/discussions/{discussion_id}/credit-notes",
    status_code=201,
    summary="Issue a credit note for a refund of the discussion's invoiced order",
    response_description="Issued now (201) or before for this refund id (200)",
    responses={
        200: {"model": InvoiceOut, "description": "Issued before: the same credit note"},
        **{s: PROBLEM_RESPONSES[s] for s in (404, 422, 503)},
        409: {**PROBLEM_RESPONSES[422], "description": "The order has no invoice yet"},
    },
)
async def issue_credit_note(
    discussion_id: DiscussionId,
    refund: CreditNoteIn,
    request: Request,
    response: Response,
    invoices: Invoices,
    scope: CallerScope,
) -> InvoiceOut:
    issued = await invoices.credit(scope, discussion_id, refund.supplied())
    return _issued_answer(request, response, discussion_id, issued)


@router.get(
    "/discussions/{discussion_id}/invoices",
    summary="The discussion's invoices and credit notes",
    responses={s: PROBLEM_RESPONSES[s] for s in (404, 503)},
)
async def list_invoices(
    discussion_id: DiscussionId, request: Request, invoices: Invoices, scope: CallerScope
) -> InvoiceList:
    documents = await invoices.documents(scope, discussion_id)
    return InvoiceList(
        items=[
            InvoiceOut(
                number=str(d["number"]),
                kind=str(d.get("kind", "invoice")),
                file_id=str(d["file_id"]),
                download=_download(request, discussion_id, str(d["file_id"])),
                issue_date=d.get("issue_date"),
                order_id=d.get("order_id"),
                currency=d.get("currency"),
                total_incl_vat=d.get("total_incl_vat"),
                corrects=d.get("corrects"),
            )
            # A document still being rendered has no file yet: listed once it has one.
            for d in documents
            if d.get("file_id")
        ]
    )


@router.get(
    "/discussions/{discussion_id}/invoices/{file_id}",
    summary="Download one of the discussion's invoices or credit notes (PDF)",
    response_class=Response,
    responses={200: _PDF_RESPONSE, **{s: PROBLEM_RESPONSES[s] for s in (404, 503)}},
)
async def download_invoice(
    discussion_id: DiscussionId, file_id: FileId, invoices: Invoices, scope: CallerScope
) -> Response:
    pdf = await invoices.pdf(scope, discussion_id, file_id)
    return Response(
        pdf.content,
        media_type=PDF,
        headers={
            # The number holds only [A-Za-z0-9_-]: a safe bare file name.
            "Content-Disposition": f'attachment; filename="{pdf.file_name}"',
            "X-Invoice-Number": pdf.number,
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        },
    )


def _issued_answer(
    request: Request, response: Response, discussion_id: str, issued: IssuedDocument
) -> InvoiceOut:
    download = _download(request, discussion_id, issued.file_id)
    response.status_code = 201 if issued.created else 200
    response.headers["Location"] = download
    return InvoiceOut(
        number=issued.number, kind=issued.kind, file_id=issued.file_id, download=download
    )


def _download(request: Request, discussion_id: str, file_id: str) -> str:
    path = str(
        request.app.url_path_for("download_invoice", discussion_id=discussion_id, file_id=file_id)
    )
    return str(request.scope.get("root_path", "")) + path


async def _fields_missing(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InvoiceFieldsMissing)
    return problem_response(
        request,
        HTTPStatus.UNPROCESSABLE_ENTITY,
        f"The invoice needs {', '.join(exc.fields)}; see errors for each one.",
        problem_type=PROBLEM_TYPE_BASE + "invalid-request",
        title="Invalid request",
        errors=[
            InputProblem(pointer=pointer, detail=detail, code="missing")
            for pointer, detail in exc.fields.items()
        ],
    )


async def _invoicer_refused(request: Request, exc: Exception) -> JSONResponse:
    """The invoicer's problem, as the gateway's (its own instance, the same fields)."""
    assert isinstance(exc, InvoicerRefused)
    problem = exc.problem
    try:
        status = HTTPStatus(exc.status)
    except ValueError:
        status = HTTPStatus.UNPROCESSABLE_ENTITY
    errors = [
        InputProblem(
            pointer=str(e.get("pointer") or "#"),
            detail=str(e.get("detail") or ""),
            code=str(e.get("code") or "invalid"),
        )
        for e in problem.get("errors") or []
        if isinstance(e, dict)
    ]
    return problem_response(
        request,
        status,
        str(problem.get("detail") or status.description),
        problem_type=str(problem.get("type") or "about:blank"),
        title=str(problem.get("title") or status.phrase),
        errors=errors or None,
    )


async def _invoicer_unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.warning("invoicer unavailable", reason=str(exc), path=request.url.path)
    return problem_response(
        request,
        HTTPStatus.SERVICE_UNAVAILABLE,
        "The invoice service did not answer, so nothing was issued or changed; retry "
        "after the Retry-After delay (a retry never issues a second invoice).",
        problem_type=PROBLEM_TYPE_BASE + "invoicer-unavailable",
        title="Invoicer unavailable",
        headers={"Retry-After": retry_after(request)},
    )


async def _not_found(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, StoreNotInScope):
        detail, kind = f"There is no store {exc.store_id}.", "store-not-found"
    elif isinstance(exc, SettingsNotSaved):
        detail = (
            f"Store {exc.store_id} has no invoice settings yet; save them with "
            f"PUT /stores/{exc.store_id}/invoice-settings."
        )
        kind = "invoice-settings-not-found"
    else:
        assert isinstance(exc, InvoiceFileNotFound)
        detail = f"Discussion {exc.discussion_id} has no invoice file {exc.file_id}."
        kind = "invoice-not-found"
    return problem_response(
        request,
        HTTPStatus.NOT_FOUND,
        detail,
        problem_type=PROBLEM_TYPE_BASE + kind,
        title=kind.replace("-", " ").capitalize(),
    )


def install_invoice_routes(app: FastAPI) -> None:
    """Adds the routes and the problem details of their errors."""
    app.include_router(router)
    app.add_exception_handler(InvoiceFieldsMissing, _fields_missing)
    app.add_exception_handler(InvoicerRefused, _invoicer_refused)
    app.add_exception_handler(InvoicerUnavailable, _invoicer_unavailable)
    for missing in (StoreNotInScope, SettingsNotSaved, InvoiceFileNotFound):
        app.add_exception_handler(missing, _not_found)
