"""P3: the discussion list, first page and page 10, per filter, at 1k and 10k
discussions in one store: the gateway over HTTP against the same query in raw PyMongo.

The discussions are the normalizer's own documents (a template it stored, cloned),
with the filtered fields spread: marketplace, status, read, type, order, participant,
subject, last message time. The baseline builds its query with the gateway adapter's
own ``list_query`` and ``LIST_ORDER`` (scope = the API key's store), so both sides ask
the same thing; the gateway adds HTTP, authentication, validation and serialisation.
On a real MongoDB (not FerretDB) each query's winning plan is printed (explain) and a
SORT stage in it is reported: the indexes should serve the order.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from bench.harness import Context, create_topics
from bench.report import figure
from bench.stats import summary

STORE = "bench-store"
MARKETPLACES = ("carrefour", "empik", "decathlon", "darty")
STATUSES = ("new", "open", "pending", "solved", "closed")
TYPES = ("order", "product", "other")
NAMES = ("Camille Martin", "Léa Moreau", "Jan Kowalski", "Anna Nowak", "Lukas Becker")
SUBJECTS = ("Où est mon colis ?", "Question produit", "Retour commande", "Facture manquante")
NOW = datetime(2026, 6, 1, tzinfo=UTC)

# name → query parameters (the gateway's) ; values chosen to match a share of the data.
FILTERS: dict[str, dict[str, str]] = {
    "none": {},
    "marketplace": {"marketplace": "empik"},
    "status": {"status": "open"},
    "read": {"read": "false"},
    "type": {"type": "product"},
    "order": {"order_id": "BENCH-ORDER-7"},
    "participant": {"participant": "martin"},
    "subject": {"subject": "colis"},
    "since": {"since": (NOW - timedelta(days=30)).isoformat().replace("+00:00", "Z")},
}


def spread(doc: Mapping[str, Any], i: int) -> dict[str, Any]:
    """Discussion ``i`` of the data set: the template's shape, the filtered fields varied."""
    rnd = random.Random(i)
    name = NAMES[i % len(NAMES)]
    out = dict(doc)
    out.update(
        {
            "_id": f"{i:08x}{rnd.getrandbits(96):024x}",
            "key": f"{STORE}:{MARKETPLACES[i % 4]}:bench-p3-{i}",
            "store_id": STORE,
            "thread_id": f"bench-p3-{i}",
            "marketplace": MARKETPLACES[i % len(MARKETPLACES)],
            "status": STATUSES[rnd.randrange(len(STATUSES))],
            "read": rnd.random() < 0.6,
            "type": TYPES[i % len(TYPES)],
            "order_id": f"BENCH-ORDER-{i}",
            "subject": SUBJECTS[i % len(SUBJECTS)],
            "last_message_at": NOW - timedelta(minutes=rnd.randrange(180 * 24 * 60)),
            "last_message_preview": f"message of discussion {i}",
        }
    )
    if isinstance(doc.get("participants"), list):
        out["participants"] = [
            {**p, "name": name, "email": f"{name.split()[0].lower()}{i}@example.com"}
            for p in doc["participants"]
        ]
    return out


async def fill(ctx: Context, template: Mapping[str, Any], count: int, existing: int) -> None:
    client = ctx.mongo()
    try:
        db = client[ctx.database]
        docs = [spread(template, i) for i in range(existing, count)]
        for i in range(0, len(docs), 1000):
            await db.discussions.insert_many(docs[i : i + 1000], ordered=False)
    finally:
        await client.close()


def baseline_query(
    params: Mapping[str, str], cursor: str | None
) -> tuple[dict[str, Any] | None, list[Any]]:
    """The gateway adapter's own filter and order for these parameters."""
    from parley_gateway.adapters.mongo_discussions import LIST_ORDER, list_query
    from parley_gateway.domain.listing import DiscussionFilters, decode_cursor
    from parley_gateway.domain.scope import Scope
    from parley_store import DiscussionStatus, DiscussionType

    since = params.get("since")
    filters = DiscussionFilters(
        marketplaces=frozenset([params["marketplace"]]) if "marketplace" in params else frozenset(),
        statuses=frozenset([DiscussionStatus(params["status"])])
        if "status" in params
        else frozenset(),
        read=(params["read"] == "true") if "read" in params else None,
        types=frozenset([DiscussionType(params["type"])]) if "type" in params else frozenset(),
        order_ids=frozenset([params["order_id"]]) if "order_id" in params else frozenset(),
        participant=params.get("participant"),
        subject=params.get("subject"),
        since=datetime.fromisoformat(since.replace("Z", "+00:00")) if since else None,
    )
    after = decode_cursor(cursor) if cursor else None
    return list_query(Scope.of([STORE]), filters, after), list(LIST_ORDER)


def explain_plan(db: Any, query: dict[str, Any], order: list[Any], limit: int) -> dict[str, Any]:
    plan = db.command(
        {
            "explain": {
                "find": "discussions",
                "filter": query,
                "sort": dict(order),
                "limit": limit,
            },
            "verbosity": "queryPlanner",
        }
    )
    return dict(plan.get("queryPlanner", {}).get("winningPlan", {}))


def stages(plan: Mapping[str, Any]) -> list[str]:
    """Stage names of a winning plan, outermost first."""
    out: list[str] = []
    node: Any = plan
    while isinstance(node, Mapping):
        if "stage" in node:
            out.append(str(node["stage"]))
        node = (
            node.get("inputStage")
            or (node.get("inputStages") or [None])[0]
            or node.get("queryPlan")
        )
    return out


SLOW_S = 2.0  # slower than this per request: fewer samples, so the phase still ends


async def measure_page(
    http: httpx.AsyncClient,
    db: Any,
    label: str,
    name: str,
    page: str,
    params: Mapping[str, str],
    query_params: Mapping[str, str],
    cursor: str | None,
    samples: int,
    limit: int,
    notes: list[str],
) -> list[dict[str, Any]]:
    extra = {"cursor": cursor} if cursor else {}
    api: list[float] = []
    raw: list[float] = []
    query, order = baseline_query(params, cursor)
    for n in range(samples):
        t = time.perf_counter()
        answer = await http.get("/discussions", params={**query_params, **extra})
        api.append(time.perf_counter() - t)
        answer.raise_for_status()
        t = time.perf_counter()
        if query is not None:
            list(db.discussions.find(query).sort(order).limit(limit + 1))
        raw.append(time.perf_counter() - t)
        if n >= 2 and sum(api) / len(api) > SLOW_S:
            notes.append(f"{label} {name}, {page}: {len(api)} samples only (slow)")
            break
    a, b = summary(api), summary(raw)
    first_p99 = page == "first page"
    return [
        figure(
            f"{name}, {page} {stat}",
            a[stat],
            b[stat],
            "s",
            group=label,
            samples=len(api),
            target_max=0.3 if first_p99 and stat == "p99" else None,
            target_of="value",
        )
        for stat in ("p50", "p99")
    ]


async def measure_filter(
    http: httpx.AsyncClient,
    db: Any,
    label: str,
    name: str,
    params: Mapping[str, str],
    samples: int,
    limit: int,
    notes: list[str],
) -> list[dict[str, Any]]:
    """p50/p99 of the first page and of page 10, gateway vs raw query, for one filter."""
    query_params = {**params, "limit": str(limit)}
    figures = await measure_page(
        http, db, label, name, "first page", params, query_params, None, samples, limit, notes
    )
    try:
        # Walk to page 10 once: its cursor is then asked for repeatedly.
        cursor = None
        for _ in range(9):
            answer = await http.get(
                "/discussions", params=query_params | ({"cursor": cursor} if cursor else {})
            )
            answer.raise_for_status()
            cursor = answer.json().get("next_cursor")
            if not cursor:
                notes.append(f"{label} {name}: fewer than 10 pages of {limit}")
                return figures
        figures += await measure_page(
            http, db, label, name, "page 10", params, query_params, cursor, samples, limit, notes
        )
    except (httpx.HTTPError, OSError) as exc:
        notes.append(f"{label} {name}, page 10: the gateway failed ({failure(exc)})")
    return figures


def failure(exc: BaseException) -> str:
    """What went wrong, without the request's URL (it may hold a cursor)."""
    if isinstance(exc, httpx.HTTPStatusError):
        return f"HTTP {exc.response.status_code}"
    return type(exc).__name__


async def run(
    ctx: Context,
    sizes: list[int],
    samples: int,
    limit: int,
    template: Mapping[str, Any],
    explain: bool,
    progress: Callable[[str], None],
) -> dict[str, Any]:
    from devstack import create_api_key  # type: ignore[import-not-found]
    from pymongo import MongoClient

    await ctx.fresh_database()
    prefix = ctx.prefix("p3")
    await create_topics(ctx, prefix)
    group = ctx.group(prefix)
    figures: list[dict[str, Any]] = []
    notes: list[str] = []
    plans: dict[str, Any] = {}
    sync: MongoClient[Any] = MongoClient(ctx.mongo_uri, tz_aware=True)
    db = sync[ctx.database]
    try:
        progress("P3: starting the gateway")
        await fill(ctx, template, 1, 0)  # the collections and indexes exist before it starts
        group.start("gateway", "parley_gateway")
        group.wait_healthy(["gateway"])
        key = create_api_key(group, f"bench-{ctx.run_id}", [STORE])
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{group.ports.gateway}",
            headers={"Authorization": f"Bearer {key}"},
            timeout=120,
        ) as http:
            existing = 1
            for size in sorted(sizes):
                label = f"{size // 1000}k" if size >= 1000 else str(size)
                progress(f"P3 {label}: storing {size} discussions")
                await fill(ctx, template, size, existing)
                existing = size
                for name, params in FILTERS.items():
                    progress(f"P3 {label}: {name}")
                    try:
                        figures += await measure_filter(
                            http, db, label, name, params, samples, limit, notes
                        )
                    except (httpx.HTTPError, OSError) as exc:
                        # One filter the gateway cannot serve (its maxTimeMS, say) is a
                        # finding, not the end of the phase. No URL: it holds a cursor.
                        notes.append(f"{label} {name}: the gateway failed ({failure(exc)})")
                        continue
                    if explain and size == max(sizes):
                        for page, cursor in (("first page", None),):
                            query, order = baseline_query(params, cursor)
                            if query is None:
                                continue
                            names = stages(explain_plan(db, query, order, limit + 1))
                            plans[f"{name}, {page}"] = names
                            print(f"P3 plan {name}, {page}: {' <- '.join(names)}")
                            if "SORT" in names:
                                notes.append(f"{name}, {page}: the winning plan sorts in memory")
    finally:
        sync.close()
        group.stop_all()
        await ctx.fresh_database()
    if not explain:
        notes.append("winning plans not printed: the server is FerretDB (explain is MongoDB's)")
    return {
        "title": "discussion list: gateway vs the same raw query",
        "measures": f"GET /discussions?limit={limit} latency (first page, and page 10 by cursor) "
        f"per filter, {samples} samples each, all discussions in one store; "
        "target: first page p99 ≤ 0.3 s",
        "baseline": "the same filter, sort and limit sent with PyMongo (the gateway adapter's "
        "list_query), no HTTP, no model",
        "figures": figures,
        "notes": notes,
        "plans": plans,
    }
