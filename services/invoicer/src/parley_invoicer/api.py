"""The HTTP surface: health, and issuing an invoice as a PDF download.

Handlers stay thin: parse (pydantic does it, errors become problem+json in
:mod:`parley_invoicer.problems`), call the service, shape the response.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict

from parley_invoicer.domain.models import InvoiceRequest, InvoiceSettings
from parley_invoicer.problems import Problem
from parley_invoicer.service import InvoiceIssuer

PDF_MEDIA_TYPE = "application/pdf"

router = APIRouter()


class CreateInvoice(BaseModel):
    """Body of ``POST /invoices``: the store's invoice settings and the order."""

    model_config = ConfigDict(extra="forbid")

    settings: InvoiceSettings
    order: InvoiceRequest


def get_issuer(request: Request) -> InvoiceIssuer:
    issuer: InvoiceIssuer = request.app.state.issuer
    return issuer


# Documented as problem+json by parley_invoicer.problems.
_PROBLEM: dict[str, Any] = {"model": Problem}


@router.get("/health")
async def health() -> dict[str, str]:
    """Liveness and readiness: the process answers (rendering needs nothing external)."""
    return {"status": "ok"}


@router.post(
    "/invoices",
    status_code=201,
    response_class=Response,
    responses={
        201: {
            "description": "The invoice, as a PDF download",
            "content": {PDF_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
            "headers": {
                "X-Invoice-Number": {
                    "description": "The number given to the invoice",
                    "schema": {"type": "string"},
                },
                "X-Invoice-File-Id": {
                    "description": "The stored PDF's id (the same on every repeat)",
                    "schema": {"type": "string"},
                },
                "Content-Disposition": {
                    "description": 'attachment; filename="<number>.pdf"',
                    "schema": {"type": "string"},
                },
            },
        },
        200: {
            "description": "The order was invoiced before: the same number and PDF again",
            "content": {PDF_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
        },
        409: {**_PROBLEM, "description": "The numbering series is exhausted"},
        422: {**_PROBLEM, "description": "Invalid settings or order"},
    },
)
async def create_invoice(
    body: CreateInvoice, issuer: Annotated[InvoiceIssuer, Depends(get_issuer)]
) -> Response:
    """Number the order's invoice and return it as a PDF in the buyer's language.

    One order (store, marketplace, order id) gets one invoice: asking again, even with
    other settings, answers 200 with the same number and the same stored PDF bytes, so a
    client may retry after a timeout without issuing a second invoice.
    """
    issued = await issuer.issue(body.order, body.settings)
    return Response(
        content=issued.pdf,
        status_code=201 if issued.created else 200,
        media_type=PDF_MEDIA_TYPE,
        headers={
            # The number only holds [A-Za-z0-9_-], so it is safe as a bare filename.
            "Content-Disposition": f'attachment; filename="{issued.number}.pdf"',
            "X-Invoice-Number": issued.number,
            "X-Invoice-File-Id": issued.file_id,
            # Names and addresses: no cache on the way may keep a copy.
            "Cache-Control": "no-store",
        },
    )
