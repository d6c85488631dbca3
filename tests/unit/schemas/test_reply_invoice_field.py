"""ReplyCommand.invoice (issue 14): optional, so commands from before it still read."""

from __future__ import annotations

from datetime import UTC, datetime

from parley_schemas import InvoiceDocument, InvoiceKind, ReplyCommand

BASE = {
    "command_id": "cmd-00000001",
    "discussion_id": "d1",
    "store_id": "store-1",
    "marketplace": "carrefour",
    "thread_id": "t1",
    "body": "Here is your invoice",
    "recipients": ["customer"],
    "attachment_file_ids": ["file-1"],
    "requested_by": "merchant",
    "requested_at": datetime(2026, 5, 30, tzinfo=UTC).isoformat(),
}


def test_a_command_without_invoice_reads_as_none() -> None:
    assert ReplyCommand.model_validate(BASE).invoice is None


def test_the_invoice_round_trips_with_its_order_and_kind() -> None:
    command = ReplyCommand.model_validate(
        {**BASE, "invoice": {"file_id": "file-1", "number": "FA-1", "order_id": "O-1"}}
    )
    assert command.invoice == InvoiceDocument(
        file_id="file-1", number="FA-1", order_id="O-1", kind=InvoiceKind.INVOICE
    )
    again = ReplyCommand.model_validate_json(command.model_dump_json())
    assert again.invoice == command.invoice
