"""Invoices through the gateway's REST API on in-memory fakes of its ports: settings in
scope, an order's invoice issued once, the 422 naming what is missing, the invoicer's
refusals passed through, 503 when it is down, and "reply with invoice" queuing the
reply with the invoice as an attachment of the discussion's store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fakes.gateway_invoicer import FakeInvoicer, KeyedUploads
from unit.gateway.autoresponder_fakes import autoresponder_service
from unit.gateway.fakes import (
    PEPPER,
    InMemoryAccounts,
    InMemoryDiscussions,
    RecordingPublisher,
    discussion,
    started,
)

from parley_gateway.accounts import AccessService
from parley_gateway.app import create_app
from parley_gateway.bootstrap import Runtime
from parley_gateway.config import GatewaySettings
from parley_gateway.files import FileService, UploadLimits
from parley_gateway.invoices import InvoiceService
from parley_gateway.service import DiscussionService
from parley_schemas import InvoiceKind, Participant, ParticipantRole
from parley_store import DiscussionStatus

PROBLEM = "application/problem+json"
MINE = discussion(
    "o-1",
    store_id="mine",
    order_id="O-1",
    participants=[Participant(role=ParticipantRole.CUSTOMER, name="Ana Silva")],
)
NO_ORDER = discussion("q-1", store_id="mine", participants=[])
THEIRS = discussion("t-1", store_id="theirs", order_id="O-9")
SETTINGS: dict[str, Any] = {
    "seller": {
        "legal_name": "Boutique SAS",
        "address": {"lines": ["1 rue A"], "city": "Paris", "country_code": "FR"},
        "vat_id": "FR40123456789",
    },
    "numbering_prefix": "FA",
}
ORDER: dict[str, Any] = {
    "order_date": "2026-05-30",
    "currency": "EUR",
    "buyer": {
        "billing_address": {"lines": ["5 rue B"], "city": "Lyon", "country_code": "FR"},
        "language": "fr",
    },
    "lines": [
        {
            "sku": "S1",
            "label": "Mug",
            "quantity": "1",
            "unit_price_excl_vat": "10.00",
            "vat_rate": "20",
        }
    ],
}


@dataclass
class Api:
    mine: httpx.AsyncClient
    invoicer: FakeInvoicer
    uploads: KeyedUploads
    publisher: RecordingPublisher
    repo: InMemoryDiscussions


MAX_ATTACHMENTS = 3


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    repo = InMemoryDiscussions(MINE, NO_ORDER, THEIRS)
    publisher = RecordingPublisher()
    invoicer = FakeInvoicer()
    uploads_store = KeyedUploads()
    uploads = FileService(uploads_store, UploadLimits(1000, frozenset({"application/pdf"})), None)
    access = AccessService(InMemoryAccounts(), PEPPER)
    account, _ = await access.create_account("Mine", ["mine"])
    key = (await access.issue_key(account.id)).secret

    @asynccontextmanager
    async def wire(_: GatewaySettings) -> AsyncIterator[Runtime]:
        service = DiscussionService(
            repo, publisher, uploads=uploads, max_attachments=MAX_ATTACHMENTS
        )
        yield Runtime(
            service=service,
            access=access,
            autoresponders=autoresponder_service(),
            files=uploads,
            invoices=InvoiceService(repo, invoicer, service, uploads),
        )

    app = create_app(GatewaySettings(), bootstrap=wire)
    async with (
        started(app) as client_for,
        client_for({"Authorization": f"Bearer {key}"}) as mine,
    ):
        yield Api(mine, invoicer, uploads_store, publisher, repo)


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    return body


def pointers(body: dict[str, Any]) -> set[str]:
    return {e["pointer"] for e in body.get("errors", [])}


async def test_settings_are_saved_and_read_for_the_callers_stores_only(api: Api) -> None:
    problem(await api.mine.get("/stores/mine/invoice-settings"), 404)  # none saved yet
    saved = await api.mine.put("/stores/mine/invoice-settings", json=SETTINGS)
    assert saved.status_code == 200, saved.text
    assert (await api.mine.get("/stores/mine/invoice-settings")).json() == SETTINGS
    # Another account's store: 404 like an unknown one, and nothing saved there.
    problem(await api.mine.put("/stores/theirs/invoice-settings", json=SETTINGS), 404)
    problem(await api.mine.get("/stores/theirs/invoice-settings"), 404)
    assert set(api.invoicer.settings) == {"mine"}


async def test_settings_are_validated_before_the_invoicer_is_asked(api: Api) -> None:
    bad = problem(
        await api.mine.put("/stores/mine/invoice-settings", json={**SETTINGS, "colour": "red"}),
        422,
    )
    assert "#/colour" in pointers(bad)
    assert api.invoicer.settings == {}


async def test_an_orders_invoice_is_issued_once_from_the_discussion_and_the_request(
    api: Api,
) -> None:
    await api.mine.put("/stores/mine/invoice-settings", json=SETTINGS)
    first = await api.mine.post(f"/discussions/{MINE.id}/invoices", json=ORDER)
    assert first.status_code == 201, first.text
    again = await api.mine.post(f"/discussions/{MINE.id}/invoices", json=ORDER)
    assert again.status_code == 200
    assert again.json()["number"] == first.json()["number"]
    assert again.json()["file_id"] == first.json()["file_id"]
    # What the discussion knows went to the invoicer: store, marketplace, order, buyer.
    sent = api.invoicer.orders[0]
    assert (sent["store_id"], sent["marketplace"], sent["order_id"]) == ("mine", "carrefour", "O-1")
    assert (sent["discussion_id"], sent["buyer"]["name"]) == (MINE.id, "Ana Silva")
    pdf = await api.mine.get(first.headers["location"])
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    listed = (await api.mine.get(f"/discussions/{MINE.id}/invoices")).json()["items"]
    assert [(i["number"], i["kind"]) for i in listed] == [(first.json()["number"], "invoice")]


async def test_missing_order_fields_are_named_and_nothing_is_issued(api: Api) -> None:
    await api.mine.put("/stores/mine/invoice-settings", json=SETTINGS)
    body = problem(await api.mine.post(f"/discussions/{NO_ORDER.id}/invoices", json={}), 422)
    assert pointers(body) == {
        "#/order_id",
        "#/order_date",
        "#/currency",
        "#/lines",
        "#/buyer/name",
        "#/buyer/billing_address",
    }
    assert api.invoicer.orders == []


async def test_another_order_than_the_discussions_is_refused(api: Api) -> None:
    await api.mine.put("/stores/mine/invoice-settings", json=SETTINGS)
    body = problem(
        await api.mine.post(f"/discussions/{MINE.id}/invoices", json={**ORDER, "order_id": "X"}),
        422,
    )
    assert pointers(body) == {"#/order_id"}
    assert api.invoicer.orders == []


async def test_the_invoicers_422_is_passed_through_with_the_clients_pointers(api: Api) -> None:
    body = problem(await api.mine.post(f"/discussions/{MINE.id}/invoices", json=ORDER), 422)
    assert pointers(body) == {"#/settings"}  # never saved
    assert "PUT /stores/" in body["errors"][0]["detail"]
    await api.mine.put("/stores/mine/invoice-settings", json=SETTINGS)
    body = problem(
        await api.mine.post(f"/discussions/{MINE.id}/invoices", json={**ORDER, "currency": "XXX"}),
        422,
    )
    assert pointers(body) == {"#/currency"}


async def test_a_discussion_outside_the_callers_stores_is_not_found(api: Api) -> None:
    await api.mine.put("/stores/mine/invoice-settings", json=SETTINGS)
    problem(await api.mine.post(f"/discussions/{THEIRS.id}/invoices", json=ORDER), 404)
    problem(await api.mine.get(f"/discussions/{THEIRS.id}/invoices"), 404)
    assert api.invoicer.orders == []


async def test_a_pdf_is_served_only_through_a_discussion_it_is_listed_on(api: Api) -> None:
    await api.mine.put("/stores/mine/invoice-settings", json=SETTINGS)
    issued = (await api.mine.post(f"/discussions/{MINE.id}/invoices", json=ORDER)).json()
    problem(await api.mine.get(f"/discussions/{NO_ORDER.id}/invoices/{issued['file_id']}"), 404)


async def test_a_credit_note_needs_an_invoiced_order(api: Api) -> None:
    await api.mine.put("/stores/mine/invoice-settings", json=SETTINGS)
    refund = {"refund_id": "R-1", "reason": "Damaged"}
    problem(await api.mine.post(f"/discussions/{MINE.id}/credit-notes", json=refund), 409)
    await api.mine.post(f"/discussions/{MINE.id}/invoices", json=ORDER)
    credit = await api.mine.post(f"/discussions/{MINE.id}/credit-notes", json=refund)
    assert credit.status_code == 201, credit.text
    assert credit.json()["kind"] == "credit_note"
    again = await api.mine.post(f"/discussions/{MINE.id}/credit-notes", json=refund)
    assert (again.status_code, again.json()["number"]) == (200, credit.json()["number"])


async def test_an_invoicer_that_does_not_answer_is_a_503_with_retry_after(api: Api) -> None:
    api.invoicer.down = True
    response = await api.mine.post(f"/discussions/{MINE.id}/invoices", json=ORDER)
    problem(response, 503)
    assert int(response.headers["retry-after"]) >= 1


async def test_reply_with_invoice_queues_the_reply_with_the_invoice_attached(api: Api) -> None:
    await api.mine.put("/stores/mine/invoice-settings", json=SETTINGS)
    body = {"body": "Your invoice is attached.", "attach_invoice": ORDER}
    first = await api.mine.post(f"/discussions/{MINE.id}/replies", json=body)
    assert first.status_code == 202, first.text
    invoice = first.json()["invoice"]
    command = api.publisher.published[0].data
    assert command.attachment_file_ids == [invoice["attachment_id"]]
    # Named as the invoice of the discussion's order, for families that file it there.
    assert command.invoice is not None
    assert (command.invoice.file_id, command.invoice.number) == (
        invoice["attachment_id"],
        invoice["number"],
    )
    assert command.invoice.kind is InvoiceKind.INVOICE
    assert command.invoice.order_id == MINE.order_id
    info, content = api.uploads.files[invoice["attachment_id"]]
    assert (info.store_id, info.name, info.content_type) == (
        "mine",
        f"{invoice['number']}.pdf",
        "application/pdf",
    )
    issued = api.invoicer.documents[next(iter(api.invoicer.documents))]
    assert content == api.invoicer.files[issued["file_id"]]
    # The same order again: the same number, the same file attached.
    second = await api.mine.post(f"/discussions/{MINE.id}/replies", json=body)
    assert second.json()["invoice"] == invoice
    assert api.publisher.published[1].data.attachment_file_ids == [invoice["attachment_id"]]
    assert api.repo.discussions[MINE.id].status is DiscussionStatus.OPEN


async def test_a_reply_that_will_be_refused_issues_no_invoice(api: Api) -> None:
    await api.mine.put("/stores/mine/invoice-settings", json=SETTINGS)
    body = {"body": "<b>invoice</b>", "attach_invoice": ORDER}
    problem(await api.mine.post(f"/discussions/{MINE.id}/replies", json=body), 422)
    missing = {"body": "Here", "attach_invoice": {"currency": "EUR"}}
    refused = problem(await api.mine.post(f"/discussions/{MINE.id}/replies", json=missing), 422)
    assert "#/attach_invoice/lines" in pointers(refused)
    assert api.invoicer.orders == []
    assert api.publisher.published == []


async def test_a_reply_the_marketplace_would_refuse_issues_no_invoice(api: Api) -> None:
    await api.mine.put("/stores/mine/invoice-settings", json=SETTINGS)
    allegro = discussion("a-1", store_id="mine", marketplace="allegro-pl", family="allegro")
    api.repo.discussions[allegro.id] = allegro
    # Allegro's Message Center reaches the buyer only.
    body = {"body": "Invoice", "recipients": ["operator"], "attach_invoice": ORDER}
    refused = problem(await api.mine.post(f"/discussions/{allegro.id}/replies", json=body), 422)
    assert refused["errors"][0]["code"] == "recipient_not_accepted"
    assert api.invoicer.orders == []
    assert api.publisher.published == []


async def test_a_reply_whose_attachments_are_refused_issues_no_invoice(api: Api) -> None:
    """Attachments are checked with the rest of the reply, before the invoice is made;
    the invoice counts towards the reply's attachment limit."""
    await api.mine.put("/stores/mine/invoice-settings", json=SETTINGS)
    unknown = {"body": "Here", "attachment_ids": ["nope"], "attach_invoice": ORDER}
    refused = problem(await api.mine.post(f"/discussions/{MINE.id}/replies", json=unknown), 422)
    assert refused["errors"][0]["code"] == "unknown_attachment"
    crowded = {
        "body": "Here",
        "attachment_ids": [f"f{i}" for i in range(MAX_ATTACHMENTS)],
        "attach_invoice": ORDER,
    }
    refused = problem(await api.mine.post(f"/discussions/{MINE.id}/replies", json=crowded), 422)
    assert refused["errors"][0]["code"] == "too_many"
    assert "invoice included" in refused["errors"][0]["detail"]
    assert api.invoicer.orders == []
    assert api.publisher.published == []


async def graphql(api: Api, query: str, **variables: Any) -> dict[str, Any]:
    response = await api.mine.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


SAVE = "mutation($s: String!, $v: JSON!) { saveInvoiceSettings(storeId: $s, settings: $v) }"
ISSUE = """mutation($d: ID!, $o: JSON!) {
  issueInvoice(discussionId: $d, order: $o) { number kind fileId download created }
}"""
LIST = "query($d: ID!) { discussionInvoices(discussionId: $d) { number kind orderId download } }"


async def test_graphql_saves_settings_issues_once_and_lists(api: Api) -> None:
    saved = await graphql(api, SAVE, s="mine", v=SETTINGS)
    assert saved["data"]["saveInvoiceSettings"] == SETTINGS
    first = (await graphql(api, ISSUE, d=MINE.id, o=ORDER))["data"]["issueInvoice"]
    again = (await graphql(api, ISSUE, d=MINE.id, o=ORDER))["data"]["issueInvoice"]
    assert (first["created"], again["created"]) == (True, False)
    assert again["number"] == first["number"]
    listed = (await graphql(api, LIST, d=MINE.id))["data"]["discussionInvoices"]
    assert listed == [
        {
            "number": first["number"],
            "kind": "invoice",
            "orderId": "O-1",
            "download": first["download"],
        }
    ]
    assert (await api.mine.get(first["download"])).content.startswith(b"%PDF")


async def test_graphql_refuses_like_rest(api: Api) -> None:
    theirs = await graphql(api, SAVE, s="theirs", v=SETTINGS)
    assert theirs["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    bad = await graphql(api, SAVE, s="mine", v={**SETTINGS, "colour": "red"})
    assert bad["errors"][0]["extensions"]["code"] == "VALIDATION"
    await graphql(api, SAVE, s="mine", v=SETTINGS)
    missing = await graphql(api, ISSUE, d=NO_ORDER.id, o={"currency": "EUR"})
    extensions = missing["errors"][0]["extensions"]
    assert extensions["code"] == "VALIDATION"
    assert "#/order/lines" in extensions["fields"]
    api.invoicer.down = True
    down = await graphql(api, LIST, d=MINE.id)
    assert down["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert api.invoicer.orders == []


CREDIT = """mutation($d: ID!, $r: JSON!) {
  issueCreditNote(discussionId: $d, refund: $r) { number kind fileId download created }
}"""
REFUND: dict[str, Any] = {"refund_id": "R-1", "reason": "Damaged"}
REPLY = """mutation($d: ID!, $b: String!, $o: JSON) {
  reply(discussionId: $d, body: $b, attachInvoice: $o) {
    commandId invoice { number attachmentId fileId download }
  }
}"""


def credit_notes(api: Api) -> list[dict[str, Any]]:
    return [d for d in api.invoicer.documents.values() if d["kind"] == "credit_note"]


async def test_graphql_issues_a_credit_note_once_per_refund(api: Api) -> None:
    await graphql(api, SAVE, s="mine", v=SETTINGS)
    invoice = (await graphql(api, ISSUE, d=MINE.id, o=ORDER))["data"]["issueInvoice"]
    first = (await graphql(api, CREDIT, d=MINE.id, r=REFUND))["data"]["issueCreditNote"]
    assert (first["kind"], first["created"]) == ("credit_note", True)
    assert first["number"] != invoice["number"]
    # The discussion's order and store, as REST sends them.
    [note] = credit_notes(api)
    assert (note["store_id"], note["order_id"], note["discussion_id"]) == ("mine", "O-1", MINE.id)
    again = (await graphql(api, CREDIT, d=MINE.id, r=REFUND))["data"]["issueCreditNote"]
    assert again == {**first, "created": False}
    assert len(credit_notes(api)) == 1
    # Another refund is another credit note.
    other = await graphql(api, CREDIT, d=MINE.id, r={"refund_id": "R-2"})
    assert other["data"]["issueCreditNote"]["number"] != first["number"]
    pdf = await api.mine.get(first["download"])
    assert (pdf.status_code, pdf.content) == (200, api.invoicer.files[first["fileId"]])
    listed = (await graphql(api, LIST, d=MINE.id))["data"]["discussionInvoices"]
    assert [i["kind"] for i in listed] == ["invoice", "credit_note", "credit_note"]


async def test_graphql_credit_note_of_an_order_not_invoiced_is_a_conflict(api: Api) -> None:
    await graphql(api, SAVE, s="mine", v=SETTINGS)
    answer = await graphql(api, CREDIT, d=MINE.id, r=REFUND)
    assert answer["data"] is None
    assert answer["errors"][0]["extensions"]["code"] == "CONFLICT"
    assert "O-1" in answer["errors"][0]["message"]
    assert credit_notes(api) == []


async def test_graphql_credit_note_input_is_refused_naming_the_field(api: Api) -> None:
    await graphql(api, SAVE, s="mine", v=SETTINGS)
    await graphql(api, ISSUE, d=MINE.id, o=ORDER)

    async def refused(discussion_id: str, refund: dict[str, Any]) -> dict[str, Any]:
        answer = await graphql(api, CREDIT, d=discussion_id, r=refund)
        extensions: dict[str, Any] = answer["errors"][0]["extensions"]
        assert extensions["code"] == "VALIDATION", answer
        return extensions

    # The REST body's model: the same rules, the GraphQL argument named.
    assert (await refused(MINE.id, {"reason": "Damaged"}))["field"] == "refund.refund_id"
    assert (await refused(MINE.id, {**REFUND, "colour": "red"}))["field"] == "refund.colour"
    empty_lines = await refused(MINE.id, {**REFUND, "lines": []})
    assert (empty_lines["field"], empty_lines["reason"]) == ("refund.lines", "too_short")
    bad_line = await refused(MINE.id, {**REFUND, "lines": [{"sku": "S1"}]})
    assert bad_line["field"] == "refund.lines.0.label"
    # What the discussion decides: its own order only, and one is needed.
    other_order = await refused(MINE.id, {**REFUND, "order_id": "O-2"})
    assert other_order["fields"] == ["#/refund/order_id"]
    no_order = await refused(NO_ORDER.id, REFUND)
    assert no_order["fields"] == ["#/refund/order_id"]
    assert credit_notes(api) == []


async def test_graphql_credit_note_outside_the_callers_stores_or_invoicer_down(api: Api) -> None:
    await graphql(api, SAVE, s="mine", v=SETTINGS)
    await graphql(api, ISSUE, d=MINE.id, o=ORDER)
    theirs = await graphql(api, CREDIT, d=THEIRS.id, r=REFUND)
    assert theirs["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert THEIRS.id in theirs["errors"][0]["message"]
    api.invoicer.down = True
    down = await graphql(api, CREDIT, d=MINE.id, r=REFUND)
    assert down["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert credit_notes(api) == []


async def test_graphql_reply_with_attach_invoice_queues_the_invoice_file(api: Api) -> None:
    await graphql(api, SAVE, s="mine", v=SETTINGS)
    first = (await graphql(api, REPLY, d=MINE.id, b="Your invoice.", o=ORDER))["data"]["reply"]
    invoice = first["invoice"]
    command = api.publisher.published[0].data
    assert command.command_id == first["commandId"]
    assert command.attachment_file_ids == [invoice["attachmentId"]]
    assert command.invoice is not None
    assert (command.invoice.file_id, command.invoice.number, command.invoice.order_id) == (
        invoice["attachmentId"],
        invoice["number"],
        MINE.order_id,
    )
    # The same use case as REST: the command says which kind of document it carries.
    assert command.invoice.kind is InvoiceKind.INVOICE
    info, content = api.uploads.files[invoice["attachmentId"]]
    assert (info.store_id, info.name, info.content_type) == (
        "mine",
        f"{invoice['number']}.pdf",
        "application/pdf",
    )
    assert content == api.invoicer.files[invoice["fileId"]]
    assert (await api.mine.get(invoice["download"])).content == content
    # The same order again: the same invoice, the same file attached.
    second = (await graphql(api, REPLY, d=MINE.id, b="Again.", o=ORDER))["data"]["reply"]
    assert second["invoice"] == invoice
    assert api.publisher.published[1].data.attachment_file_ids == [invoice["attachmentId"]]
    assert len(api.invoicer.documents) == 1
    plain = (await graphql(api, REPLY, d=MINE.id, b="No invoice."))["data"]["reply"]
    assert plain["invoice"] is None
    assert api.publisher.published[2].data.attachment_file_ids == []


async def test_graphql_reply_refused_issues_no_invoice(api: Api) -> None:
    await graphql(api, SAVE, s="mine", v=SETTINGS)
    html = await graphql(api, REPLY, d=MINE.id, b="<b>invoice</b>", o=ORDER)
    assert html["errors"][0]["extensions"]["field"] == "body"
    shape = await graphql(api, REPLY, d=MINE.id, b="Here", o={**ORDER, "colour": "red"})
    assert shape["errors"][0]["extensions"]["field"] == "attachInvoice.colour"
    missing = await graphql(api, REPLY, d=MINE.id, b="Here", o={"currency": "EUR"})
    extensions = missing["errors"][0]["extensions"]
    assert extensions["code"] == "VALIDATION"
    assert "#/attachInvoice/lines" in extensions["fields"]
    theirs = await graphql(api, REPLY, d=THEIRS.id, b="Here", o=ORDER)
    assert theirs["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert api.invoicer.orders == []
    assert api.publisher.published == []
