"""Invoice numbering across two invoicer processes on the real MongoDB-compatible server.

Two ``python -m parley_invoicer`` processes share a throw-away database on the local
FerretDB (v1: no atomic update, so this is the case the ledger is built for). Many
requests at once, across both, some for the same order, must give numbers 1..N with
no gap and no duplicate, one per order, the same number and bytes on every repeat;
after both restart, numbering goes on at N + 1, and a claim a dead process left
unbound is bound by the start-up sweep.
"""

from __future__ import annotations

import asyncio
import copy
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from integration.test_invoicer_http import POLISH_ORDER
from pymongo.asynchronous.database import AsyncDatabase

from parley_invoicer.adapters.mongo import CLAIMS, INVOICES, MongoInvoiceLedger
from parley_invoicer.domain.models import InvoiceRequest, InvoiceSettings
from parley_invoicer.numbering import InvoiceSeries, audit, order_key
from parley_invoicer.ports import Claim

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ORDERS = 30
REQUESTS = 60  # every order twice, the two asks racing on different processes
YEAR = datetime.now(ZoneInfo("Europe/Warsaw")).year  # the seller's: it picks the series


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Invoicers:
    """Two invoicer processes on one database; ``restart`` stops and starts both."""

    def __init__(self, database: str, logs: Path) -> None:
        self.ports = [free_port(), free_port()]
        self.database = database
        self.logs = logs
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self) -> None:
        for index, port in enumerate(self.ports):
            env = {
                **os.environ,
                "MONGODB_DATABASE": self.database,
                "INVOICER_PORT": str(port),
                "SERVICE_NAME": f"invoicer-{index}",
                "OTEL_TRACES_EXPORTER": "none",
            }
            with (self.logs / f"invoicer-{index}.log").open("ab") as log:
                self.processes.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "parley_invoicer"],
                        cwd=ROOT,
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
        deadline = time.monotonic() + 60
        for port, process in zip(self.ports, self.processes, strict=True):
            while True:
                assert process.poll() is None, f"invoicer exited; see {self.logs}"
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, f"invoicer not healthy; see {self.logs}"
                time.sleep(0.2)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.processes = []

    def url(self, index: int) -> str:
        return f"http://127.0.0.1:{self.ports[index % 2]}"


@pytest.fixture
def invoicers(mongo_db: AsyncDatabase[Any], tmp_path: Path) -> Iterator[Invoicers]:
    group = Invoicers(mongo_db.name, tmp_path)
    group.start()
    try:
        yield group
    finally:
        group.stop()


def order(n: int) -> dict[str, Any]:
    payload = copy.deepcopy(POLISH_ORDER)
    payload["order"]["order_id"] = f"ALG-{n}"
    return payload


async def post_all(
    invoicers: Invoicers, asks: list[tuple[int, int]]
) -> list[tuple[int, httpx.Response]]:
    """``asks``: (order, process index) pairs, all sent at once."""
    async with httpx.AsyncClient(timeout=180) as http:
        responses = await asyncio.gather(
            *(http.post(f"{invoicers.url(p)}/invoices", json=order(n)) for n, p in asks)
        )
    for response in responses:
        assert response.status_code in (200, 201), response.text
    return list(zip((n for n, _ in asks), responses, strict=True))


async def fates(db: AsyncDatabase[Any]) -> list[str]:
    claims = {
        int(c["sequence"]): (c["order_key"], c.get("voided")) async for c in db[CLAIMS].find({})
    }
    bindings = {b["_id"]: int(b["sequence"]) async for b in db[INVOICES].find({})}
    return [f.state for f in audit(claims, bindings)]


async def test_two_processes_number_gaplessly_once_per_order_and_go_on_after_a_restart(
    invoicers: Invoicers, mongo_db: AsyncDatabase[Any]
) -> None:
    # Order n is asked on process 0 and on process 1 at once.
    asks = [(i % ORDERS, i // ORDERS) for i in range(REQUESTS)]
    answered = await post_all(invoicers, asks)

    numbers: dict[int, set[str]] = {}
    bodies: dict[int, set[bytes]] = {}
    created: dict[int, int] = {}
    for n, response in answered:
        numbers.setdefault(n, set()).add(response.headers["x-invoice-number"])
        bodies.setdefault(n, set()).add(response.content)
        created[n] = created.get(n, 0) + (response.status_code == 201)
    assert all(len(found) == 1 for found in numbers.values()), numbers
    assert all(len(found) == 1 for found in bodies.values())
    assert created == dict.fromkeys(range(ORDERS), 1)
    issued = sorted(number for found in numbers.values() for number in found)
    assert issued == [f"FV-{YEAR}-{i:06d}" for i in range(1, ORDERS + 1)]
    assert await fates(mongo_db) == ["issued"] * ORDERS
    first_bytes = {n: next(iter(found)) for n, found in bodies.items()}

    invoicers.stop()
    # A process died right after claiming number N + 1 for order 99: no binding, and the
    # hint never raised.
    orphan = order(99)
    orphan_key = order_key("store-pl", "allegro", "ALG-99")
    series = InvoiceSeries("PL5260250995", "FV", YEAR)
    await MongoInvoiceLedger(mongo_db).claim(
        Claim(
            series_key=series.key,
            sequence=ORDERS + 1,
            number=str(series.number(ORDERS + 1)),
            order_key=orphan_key,
            issue_date=datetime.now(ZoneInfo("Europe/Warsaw")).date(),
            request={
                "order": InvoiceRequest.model_validate(orphan["order"]).model_dump(mode="json"),
                "settings": InvoiceSettings.model_validate(orphan["settings"]).model_dump(
                    mode="json"
                ),
            },
            claimed_at=datetime.now(UTC) - timedelta(minutes=5),
        )
    )
    invoicers.start()

    again = await post_all(invoicers, [(n, n) for n in range(ORDERS)])
    fresh = await post_all(invoicers, [(ORDERS + k, k) for k in range(4)])

    for n, response in again:
        assert response.status_code == 200
        assert response.headers["x-invoice-number"] == next(iter(numbers[n]))
        assert response.content == first_bytes[n]
    assert sorted(r.headers["x-invoice-number"] for _, r in fresh) == [
        f"FV-{YEAR}-{i:06d}" for i in range(ORDERS + 2, ORDERS + 6)
    ]
    deadline = time.monotonic() + 30
    while await mongo_db[INVOICES].find_one({"_id": orphan_key}) is None:
        assert time.monotonic() < deadline, "the start-up sweep never bound the orphan claim"
        await asyncio.sleep(0.2)
    [(_, resumed)] = await post_all(invoicers, [(99, 0)])
    assert (resumed.status_code, resumed.headers["x-invoice-number"]) == (
        200,
        f"FV-{YEAR}-{ORDERS + 1:06d}",
    )
    assert await fates(mongo_db) == ["issued"] * (ORDERS + 5)


REFUNDS = 8


async def test_two_processes_issue_one_credit_note_per_refund_in_a_gapless_series_of_their_own(
    invoicers: Invoicers, mongo_db: AsyncDatabase[Any]
) -> None:
    await post_all(invoicers, [(n, 0) for n in range(REFUNDS)])
    settings = copy.deepcopy(POLISH_ORDER["settings"]) | {"credit_note_prefix": "FK"}

    def refund(n: int) -> dict[str, Any]:
        return {
            "settings": settings,
            "refund": {
                "store_id": "store-pl",
                "marketplace": "allegro",
                "order_id": f"ALG-{n}",
                "refund_id": f"RF-{n}",
            },
        }

    # Each refund asked on both processes at once.
    async with httpx.AsyncClient(timeout=180) as http:
        responses = await asyncio.gather(
            *(
                http.post(f"{invoicers.url(p)}/credit-notes", json=refund(n))
                for n in range(REFUNDS)
                for p in (0, 1)
            )
        )

    by_refund: dict[str, set[tuple[str, bytes]]] = {}
    for response in responses:
        assert response.status_code in (200, 201), response.text
        assert response.headers["x-document-kind"] == "credit_note"
        by_refund.setdefault(response.headers["x-invoice-number"], set()).add(
            (response.headers["x-invoice-file-id"], response.content)
        )
    assert sorted(by_refund) == [f"FK-{YEAR}-{i:06d}" for i in range(1, REFUNDS + 1)]
    assert all(len(copies) == 1 for copies in by_refund.values())  # same file, same bytes
    series = InvoiceSeries("PL5260250995", "FK", YEAR)
    claims = {
        int(c["sequence"]): (c["order_key"], c.get("voided"))
        async for c in mongo_db[CLAIMS].find({"series": series.key})
    }
    bindings = {b["_id"]: int(b["sequence"]) async for b in mongo_db[INVOICES].find({})}
    assert [f.state for f in audit(claims, bindings)] == ["issued"] * REFUNDS
