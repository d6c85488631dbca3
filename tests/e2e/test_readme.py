"""The README's quickstart, run as written against the whole system.

Every shell block of README.md preceded by ``<!-- runnable -->`` runs, in order, in
one bash session (``set -euo pipefail``; curl with ``-f`` fails on any HTTP error),
with the ``PARLEY_URL`` and ``PARLEY_KEY`` that ``make run`` prints, against the e2e
system with one buyer discussion. Then the effects the blocks claim are checked
through the API and at the marketplace sandbox, so a README call that silently does
nothing fails here too.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from devstack import ServiceGroup, create_api_key
from support.waiting import eventually

pytestmark = pytest.mark.e2e

README = Path(__file__).resolve().parents[2] / "README.md"
RUNNABLE = re.compile(r"<!-- runnable -->\s*\n```(?:sh|bash)\n(.*?)\n```", re.DOTALL)
TIMEOUT = 60.0


def runnable_blocks(text: str) -> list[str]:
    return RUNNABLE.findall(text)


def test_the_readme_marks_the_quickstart_blocks_runnable() -> None:
    blocks = runnable_blocks(README.read_text())
    assert len(blocks) >= 6
    joined = "\n".join(blocks)
    for call in ("/discussions?", "/replies", "bulk-status", "/files", "/graphql"):
        assert call in joined, f"the quickstart shows no {call} call"
    assert "assignMerchantDiscussionId" in joined
    assert not re.search(r"(^|[\s;(])uv ", joined, re.MULTILINE), "a bare uv is not installed"


async def test_every_runnable_readme_block_works_against_the_stack(system: ServiceGroup) -> None:
    suffix = uuid.uuid4().hex[:8]
    store, instance = f"readme-{suffix}", f"readme{suffix}"
    system.activate_family(
        "mirakl",
        f"{store}-carrefour",
        store,
        instance,
        marketplace="carrefour",
        since=datetime.now(UTC) - timedelta(minutes=1),
        interval_seconds=2,
    )
    key = create_api_key(system, f"readme-{suffix}", [store])
    url = f"http://127.0.0.1:{system.ports.gateway}"
    async with (
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{system.ports.sandbox}") as sandbox,
        httpx.AsyncClient(
            base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=10
        ) as api,
    ):
        posted = await sandbox.post(
            f"/_sandbox/mirakl/{instance}/messages",
            json={
                "body": "Bonjour, où en est ma commande ?",
                "sender": "CUSTOMER",
                "customer_name": "Camille Martin",
            },
        )
        assert posted.status_code == 201, posted.text

        async def listed() -> bool:
            return bool((await api.get("/discussions")).json()["items"])

        await eventually(listed, timeout=TIMEOUT)

        script = "set -euo pipefail\n" + "\n".join(runnable_blocks(README.read_text()))
        env = {**system.environment(), "PARLEY_URL": url, "PARLEY_KEY": key}
        env.pop("MAKEFLAGS", None)
        done = await asyncio.to_thread(
            subprocess.run,
            ["bash", "-c", script],
            cwd=README.parent,
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
        assert '"errors"' not in done.stdout, done.stdout  # GraphQL answers errors with 200
        assert f"{store}-carrefour" in done.stdout, "make cli listed the connection"
        assert not (README.parent / "delivery-note.txt").exists()

        (discussion,) = (await api.get("/discussions")).json()["items"]
        assert discussion["merchant_ticket_id"] == "TICKET-42"
        assert discussion["status"] == "pending"
        assert discussion["tags"] == ["late-delivery"]
        assert discussion["read"] is False

        replies: list[dict[str, Any]] = []

        async def delivered() -> bool:
            answer = await sandbox.get(f"/_sandbox/mirakl/{instance}/replies")
            replies[:] = answer.json()["replies"]
            return len(replies) == 4

        await eventually(delivered, timeout=TIMEOUT)
        bodies = " ".join(str(r.get("body")) for r in replies)
        assert "your parcel ships tomorrow" in bodies
        assert "delivery note is attached" in bodies
        # Reply with invoice: the invoice's PDF travelled with the reply (Mirakl takes files).
        (with_invoice,) = [r for r in replies if "invoice is attached" in str(r.get("body"))]
        assert [a["content_type"] for a in with_invoice["attachments"]] == ["application/pdf"]
