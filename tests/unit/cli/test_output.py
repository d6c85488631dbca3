"""The operator CLI's output helpers and its gateway-side read model, without a stack."""

from __future__ import annotations

from datetime import UTC, datetime

from parley_cli.main import parser
from parley_cli.output import table, without_query
from parley_gateway.connections import ConnectionService
from parley_gateway.domain import Scope
from parley_store import ConnectionDocument, SyncError, SyncErrorKind

AT = datetime(2026, 4, 1, tzinfo=UTC)


def test_a_table_aligns_columns_without_trailing_blanks() -> None:
    out = table(("ID", "NAME"), [("a", "long name"), ("bbb", "-")])
    assert out.splitlines() == ["ID   NAME", "a    long name", "bbb  -"]


def test_urls_lose_user_info_queries_and_fragments() -> None:
    assert without_query("https://u:p@h.example/api?key=x#f") == "https://h.example/api"
    assert without_query("mailto:a@b.example") == "mailto:a@b.example"


def test_the_parser_knows_every_command() -> None:
    root = parser()
    assert root.parse_args(["connections", "resync", "c1"]).action == "resync"
    assert root.parse_args(["keys", "revoke", "abc"]).key_id == "abc"
    args = root.parse_args(["accounts", "create", "--name", "N", "--store", "s1", "--id", "a"])
    assert (args.group, args.action, args.account_id, args.store) == (
        "accounts",
        "create",
        "a",
        ["s1"],
    )


def document(connection_id: str, store_id: str, family: str = "mirakl") -> ConnectionDocument:
    return ConnectionDocument.model_validate(
        {
            "_id": connection_id,
            "store_id": store_id,
            "family": family,
            "marketplace": "amazon_fr" if family == "email_relay" else "carrefour",
            "base_url": "http://m?key=secret",
            "credentials": "",
            "activated_at": AT,
            "cursor": AT,
            "options": {"inbound_address": "s1@in.example"},
            "last_error": SyncError(kind=SyncErrorKind.UNAVAILABLE, message="503", at=AT),
            "consecutive_failures": 2,
        }
    )


class Reader:
    def __init__(self, *docs: ConnectionDocument) -> None:
        self.docs = docs
        self.asked: list[frozenset[str] | None] = []

    async def list(self, store_ids: frozenset[str] | None) -> list[ConnectionDocument]:
        self.asked.append(store_ids)
        return [d for d in self.docs if store_ids is None or d.store_id in store_ids]


async def test_connections_stay_in_the_callers_stores() -> None:
    reader = Reader(document("c1", "s1", "email_relay"), document("c2", "s2"))
    service = ConnectionService(reader)
    (mine,) = await service.list(Scope.of(["s1"]))
    assert mine.id == "c1" and mine.inbound_address == "s1@in.example"
    assert mine.last_error is not None and mine.consecutive_failures == 2
    assert await service.list(Scope.of(["s1"]), ["s2"]) == []
    assert reader.asked == [frozenset({"s1"})]  # a foreign store never reaches the store
    (other,) = await service.list(Scope.of(["s2"]))
    assert other.inbound_address is None  # only the email relay has one
