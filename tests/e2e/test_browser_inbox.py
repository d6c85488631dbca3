"""The web inbox in a real browser (issue 15): Debian's headless Chromium driven by
playwright-core, axe-core on every page, against the whole system of the e2e session.

The scenarios themselves are JavaScript (tests/browser/scenarios.mjs, run one per
process by tests/browser/run.mjs); this module gives them a world to act on and judges
what they report. It seeds an account with two stores, each on a sandbox Mirakl
instance, with one buyer thread per scenario that changes one, through the same services
as every e2e test (so the session's secret scan covers the browser's traffic too, the
session cookies the browser got included), makes an API key of the account, and runs
each scenario with the gateway's URL, the key and the seeded threads. A scenario passes when
its steps did, no page threw, and axe-core found no serious or critical violation; its
screenshots and its JSON report land in .run/browser/<scenario>/ (the path is in every
failure message).

tests/browser/install.sh (idempotent, also run by `make test`) provides Chromium from
Debian's packages and the pinned node packages; this module runs it too, so a bare
pytest gets them.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from devstack import ServiceGroup, create_api_key
from support.browser import OUT_DIR, install_browser_tools, run_scenario, verdict
from support.invoicing import invoice_settings
from support.secret_scan import SecretLedger
from support.waiting import eventually

pytestmark = pytest.mark.e2e

# How long one wait of a scenario may take (a click's effect, a page's data).
WAIT_MS = 15_000
SEED_TIMEOUT = 60.0

# The seeded threads: the topic (the discussion's subject) each scenario looks for.
# Scenarios that change a thread (read, reply, status) each have their own, so their
# order in this module does not matter.
THREADS = {
    "filter": "Colis abîmé à la livraison",
    "read": "Question sur la garantie",
    "reply": "Facture demandée",
    "live": "Retard de livraison",
    "bulk_a": "Taille trop petite",
    "bulk_b": "Couleur différente",
    "drop": "Photo du colis",
    "retry": "Remboursement en attente",
    "keyboard": "Adresse de livraison erronée",
    "tags": "Échange contre une autre taille",
    "ticket": "Suivi du dossier client",
    "resync": "Message manquant dans la conversation",
    "invoice": "Facture de la commande, s'il vous plaît",
    "at_risk": "Toujours pas de réponse",
}
# Threads whose buyer has waited this long already: Mirakl's reply is due 48 h after the
# buyer's first unanswered message, so 45 h of waiting leaves 3 h, inside the gateway's
# 4 h at-risk window (the at-risk scenario).
WAITED = {"at_risk": timedelta(hours=45)}
# The store's invoicing set-up, so a reply can carry the order's invoice (the invoice
# scenario fills in the order itself, through the reply box's form).
INVOICE_SETTINGS = invoice_settings("Boutique Navigateur SAS", "NAV")
# The account's second store, with one thread: the store switcher's scenario.
OTHER_SUBJECT = "Question pour l'autre boutique"


@pytest.fixture(scope="module")
def browser_tools() -> None:
    install_browser_tools()


async def buyer_thread(
    sandbox: httpx.AsyncClient,
    instance: str,
    topic: str,
    order_id: str,
    tag: str,
    waited: timedelta | None = None,
) -> str:
    """A buyer opens a thread on the sandbox Mirakl ``instance``; answers its id.

    ``waited``: the buyer's first message is that old and a second one is sent now (the
    store's sync only looks at threads updated since it started), so the reply is due
    that much sooner."""
    first: dict[str, Any] = {
        "body": f"Bonjour, {topic.lower()} ({tag}).",
        "sender": "CUSTOMER",
        "customer_name": "Camille Martin",
        "order_id": order_id,
        "topic": topic,
    }
    if waited is not None:
        first["sent_at"] = (datetime.now(UTC) - waited).isoformat()
    answer = await sandbox.post(f"/_sandbox/mirakl/{instance}/messages", json=first)
    assert answer.status_code == 201, answer.text
    thread_id: str = answer.json()["thread_id"]
    if waited is not None:
        again = await sandbox.post(
            f"/_sandbox/mirakl/{instance}/messages",
            json={"body": "Toujours rien ?", "sender": "CUSTOMER", "thread_id": thread_id},
        )
        assert again.status_code == 201, again.text
    return thread_id


@pytest.fixture(scope="module")
async def inbox(
    system: ServiceGroup, sandbox: httpx.AsyncClient, secret_ledger: SecretLedger
) -> AsyncIterator[dict[str, Any]]:
    """An account with two stores, each on a sandbox Mirakl instance of its own: the
    first with one buyer thread per entry of THREADS (those of WAITED with a buyer
    waiting that long) and its invoice settings, the second with one thread (the store
    switcher's); once the gateway lists them all, what the scenarios need to find them:
    the context run.mjs reads."""
    suffix = uuid.uuid4().hex[:8]
    store_id, instance = f"browser-{suffix}", f"brw{suffix}"
    other_store, other_instance = f"browser-{suffix}-b", f"brwb{suffix}"
    since = datetime.now(UTC) - timedelta(minutes=1)
    for store, inst in ((store_id, instance), (other_store, other_instance)):
        system.activate_family(
            "mirakl", f"{store}-{inst}", store, inst, since=since, interval_seconds=1
        )
    threads = {
        name: await buyer_thread(
            sandbox, instance, topic, f"ORDER-{suffix}-{name}", name, WAITED.get(name)
        )
        for name, topic in THREADS.items()
    }
    await buyer_thread(sandbox, other_instance, OTHER_SUBJECT, f"ORDER-{suffix}-b", "other")
    key = create_api_key(system, f"browser-{suffix}", [store_id, other_store])
    secret_ledger.add("API key", key)
    base_url = f"http://127.0.0.1:{system.ports.gateway}"
    async with httpx.AsyncClient(
        base_url=base_url, timeout=10, headers={"Authorization": f"Bearer {key}"}
    ) as gateway:

        async def all_listed() -> bool:
            page = await gateway.get("/discussions", params={"limit": 50})
            return page.status_code == 200 and len(page.json()["items"]) == len(THREADS) + 1

        await eventually(all_listed, timeout=SEED_TIMEOUT)
        settings = await gateway.put(f"/stores/{store_id}/invoice-settings", json=INVOICE_SETTINGS)
        assert settings.status_code == 200, settings.text
    yield {
        "base_url": base_url,
        "api_key": key,
        "sandbox_url": f"http://127.0.0.1:{system.ports.sandbox}",
        "store_id": store_id,
        "instance": instance,
        "marketplace": instance,
        "subjects": THREADS,
        "threads": threads,
        "other_store": {"store_id": other_store, "subject": OTHER_SUBJECT},
        "out_dir": str(OUT_DIR),
        "timeout_ms": WAIT_MS,
    }


# The inbox's scenarios (tests/browser/scenarios.mjs), each against the seeded store.
SCENARIOS = [
    "sign_in",
    "filter",
    "open_read",
    "reply_with_file",
    "live",
    "keyboard_reply",
    "bulk_status",
    "autoresponder",
    "connections",
    "reply_drop_solve",
    "delivery_retry",
    "keyboard",
    "stores",
    "languages",
    "tags",
    "ticket",
    "resync",
    "invoice",
    "at_risk",
]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_inbox_scenario(
    browser_tools: None, inbox: dict[str, Any], secret_ledger: SecretLedger, scenario: str
) -> None:
    report = run_scenario(scenario, inbox, secret_ledger)
    assert report["ok"], verdict(report)
    assert report["screenshots"], f"{scenario} checked no page"
