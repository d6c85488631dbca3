"""The buying company of a Mirakl B2B thread, carried onto its customer participants.

The payloads follow Mirakl's "M10 - Retrieve a thread" response (developer.mirakl.com,
Messages > M10, response 200 fields): ``customer_organization`` is "data related to the
customer organization (B2B transactions)" with ``display_name`` and ``id``, both
required when the object is there; ``authorized_participants`` give ``type``, ``id``
(none for the operator) and ``display_name``; ``entities`` give ``id``, ``type``
(MMP_ORDER, MMP_OFFER …) and ``label``; a message's ``from`` has ``organization_details``
(``type``, ``id``, ``display_name``). Written by hand from that schema (M11 "List
threads" returns the same thread object), not from Parley's sandbox.
"""

from __future__ import annotations

from typing import Any

from parley_connectors.mirakl import MiraklThread
from parley_connectors.mirakl.reading import MiraklConnector
from parley_schemas import Organization, ParticipantRole


def thread(customer_organization: dict[str, Any] | None) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "id": "3d9e4f2a-7b1c-4e5d-8a6f-0c1b2d3e4f5a",
        "topic": {"type": "FREE_TEXT", "value": "Invoice for our purchase department"},
        "entities": [
            {"id": "ORDER-5531-A", "type": "MMP_ORDER", "label": "ORDER-5531-A"},
            {"id": "2077", "type": "MMP_OFFER", "label": "Office chair, black"},
        ],
        "authorized_participants": [
            {"type": "CUSTOMER", "id": "cust-4410", "display_name": "Paul Girard"},
            {"type": "SHOP", "id": "2001", "display_name": "Bureau Pro"},
            {"type": "OPERATOR", "display_name": "Operator"},
        ],
        "current_participants": [{"type": "CUSTOMER", "id": "cust-4410"}],
        "date_created": "2026-04-03T09:12:00Z",
        "date_updated": "2026-04-03T10:00:00Z",
        "messages": [
            {
                "id": "msg-1",
                "body": "Could the invoice carry our company's name?",
                "date_created": "2026-04-03T09:12:00Z",
                "from": {
                    "type": "CUSTOMER_USER",
                    "display_name": "Paul Girard",
                    "organization_details": {
                        "type": "CUSTOMER",
                        "id": "cust-4410",
                        "display_name": "Paul Girard",
                    },
                },
                "to": [{"type": "SHOP", "id": "2001", "display_name": "Bureau Pro"}],
                "attachments": [],
            },
            {
                "id": "msg-2",
                "body": "Of course.",
                "date_created": "2026-04-03T10:00:00Z",
                "from": {
                    "type": "SHOP_USER",
                    "display_name": "Bureau Pro",
                    "organization_details": {
                        "type": "SHOP",
                        "id": "2001",
                        "display_name": "Bureau Pro",
                    },
                },
                "to": [{"type": "CUSTOMER", "id": "cust-4410", "display_name": "Paul Girard"}],
                "attachments": [],
            },
        ],
    }
    if customer_organization is not None:
        payload["customer_organization"] = customer_organization
    return payload


def test_a_b2b_threads_customer_carries_the_buying_company(connector: MiraklConnector) -> None:
    org = {"id": "ORG-88", "display_name": "Girard & Fils SAS"}
    snapshot = connector.snapshot(MiraklThread.parse(thread(org)))

    company = Organization(name="Girard & Fils SAS", id="ORG-88")
    by_role = {p.role: p for p in snapshot.participants}
    assert by_role[ParticipantRole.CUSTOMER].organization == company
    assert by_role[ParticipantRole.CUSTOMER].marketplace_id == "cust-4410"
    # The company is the buyer's: the shop and the operator act for no customer company.
    assert by_role[ParticipantRole.MERCHANT].organization is None
    assert by_role[ParticipantRole.OPERATOR].organization is None
    buyer_message, shop_message = snapshot.messages
    assert buyer_message.sender.organization == company
    assert buyer_message.sender.marketplace_id == "cust-4410"
    assert shop_message.sender.organization is None


def test_a_thread_without_a_customer_organization_names_no_company(
    connector: MiraklConnector,
) -> None:
    snapshot = connector.snapshot(MiraklThread.parse(thread(None)))

    assert all(p.organization is None for p in snapshot.participants)
    assert all(m.sender.organization is None for m in snapshot.messages)


def test_entities_keep_their_ids_and_labels(connector: MiraklConnector) -> None:
    snapshot = connector.snapshot(MiraklThread.parse(thread(None)))

    assert [(e.type, e.id, e.label) for e in snapshot.entities] == [
        ("order", "ORDER-5531-A", "ORDER-5531-A"),
        ("offer", "2077", "Office chair, black"),
    ]
