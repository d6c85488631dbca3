"""Request latency labelled by route template, never by path: ids and the download
link's token stay out of the series, unknown paths share one label, and GET /metrics
answers on the ASGI services (here the gateway and the invoicer, on fakes)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from starlette.routing import Mount, Route
from unit.gateway.fakes import (
    PEPPER,
    InMemoryAccounts,
    InMemoryDiscussions,
    RecordingPublisher,
    discussion,
    fake_bootstrap,
)

from parley_gateway.accounts import AccessService
from parley_gateway.app import create_app as gateway_app
from parley_gateway.config import GatewaySettings
from parley_gateway.service import DiscussionService
from parley_invoicer.main import create_app as invoicer_app
from parley_platform.http_metrics import UNMATCHED, flat_routes, install_metrics, match_template
from parley_platform.metrics import REGISTRY

SECRET_TOKEN = "tok3n-that-must-never-be-a-label"


def routes_seen() -> set[tuple[str, str, str]]:
    """(method, route, status class) of every latency series, parsed as scraped."""
    seen = set()
    for family in text_string_to_metric_families(generate_latest(REGISTRY).decode()):
        if family.name != "parley_http_request_duration_seconds":
            continue
        for sample in family.samples:
            if sample.name.endswith("_count"):
                labels = sample.labels
                seen.add((labels["method"], labels["route"], labels["status_class"]))
    return seen


def count(method: str, route: str, status_class: str) -> float:
    value = REGISTRY.get_sample_value(
        "parley_http_request_duration_seconds_count",
        {"method": method, "route": route, "status_class": status_class},
    )
    return value or 0.0


@pytest.fixture
def app() -> FastAPI:
    app = FastAPI()
    items = APIRouter(prefix="/things")

    @items.get("/{thing_id}")
    async def thing(thing_id: str) -> dict[str, str]:
        return {"id": thing_id}

    @items.post("/{thing_id}/boom")
    async def boom(thing_id: str) -> None:
        raise RuntimeError("a bug")

    @app.get("/links/{token}")
    async def link(token: str) -> dict[str, str]:
        return {"ok": "yes"}

    async def mounted(scope: object, receive: object, send: object) -> None:
        raise AssertionError("not called by the matcher tests")

    app.include_router(items, prefix="/v1")  # FastAPI keeps the prefix off the route
    app.router.routes.append(Mount("/static", routes=[Route("/files/{name}", endpoint=mounted)]))
    install_metrics(app, "unit")
    return app


async def client_for(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        yield client


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async for c in client_for(app):
        yield c


async def test_requests_are_labelled_by_template_method_and_status_class(
    client: httpx.AsyncClient,
) -> None:
    before = count("GET", "/v1/things/{thing_id}", "2xx")
    for thing in ("a", "b", "c"):
        assert (await client.get(f"/v1/things/{thing}")).status_code == 200
    assert count("GET", "/v1/things/{thing_id}", "2xx") == before + 3, "one series for every id"

    before = count("POST", "/v1/things/{thing_id}/boom", "5xx")
    assert (await client.post("/v1/things/x/boom")).status_code == 500
    assert count("POST", "/v1/things/{thing_id}/boom", "5xx") == before + 1

    before = count("DELETE", "/v1/things/{thing_id}", "4xx")
    assert (await client.delete("/v1/things/x")).status_code == 405  # the route, wrong method
    assert count("DELETE", "/v1/things/{thing_id}", "4xx") == before + 1


async def test_a_link_token_and_unknown_paths_never_become_labels(
    client: httpx.AsyncClient,
) -> None:
    assert (await client.get(f"/links/{SECRET_TOKEN}")).status_code == 200
    before = count("GET", UNMATCHED, "4xx")
    for probe in ("/wp-admin.php", f"/nothing/{SECRET_TOKEN}", "/.env"):
        assert (await client.get(probe)).status_code == 404
    assert count("GET", UNMATCHED, "4xx") == before + 3
    scraped = (await client.get("/metrics")).text
    assert SECRET_TOKEN not in scraped
    assert ("GET", "/links/{token}", "2xx") in routes_seen()
    assert not {route for _, route, _ in routes_seen() if "wp-admin" in route or ".env" in route}


async def test_metrics_answers_in_prometheus_text_format(client: httpx.AsyncClient) -> None:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    names = {f.name for f in text_string_to_metric_families(response.text)}
    assert {"parley_http_request_duration_seconds", "parley_service_info"} <= names


def test_the_matcher_names_mounted_routes_and_falls_back_to_unmatched(app: FastAPI) -> None:
    def scope(path: str, method: str = "GET") -> dict[str, object]:
        return {"type": "http", "path": path, "method": method, "root_path": ""}

    routes = flat_routes(app)
    assert match_template(routes, scope("/static/files/a.png")) == "/static/files/{name}"
    assert match_template(routes, scope("/static/other")) == "/static/{path}"
    assert match_template(routes, scope("/v1/things/42")) == "/v1/things/{thing_id}"
    assert match_template(routes, scope("/v1/things/42", "PUT")) == "/v1/things/{thing_id}"
    assert match_template(routes, scope("/nope")) == UNMATCHED


async def test_the_gateway_labels_its_routes_by_template_without_an_api_key() -> None:
    repo = InMemoryDiscussions(discussion("t1", minutes=1))
    access = AccessService(InMemoryAccounts(), PEPPER)
    app = gateway_app(
        GatewaySettings(),
        bootstrap=fake_bootstrap(DiscussionService(repo, RecordingPublisher()), access),
    )
    assert "/metrics" not in app.openapi()["paths"], "the scrape is not part of the API"
    async with app.router.lifespan_context(app):
        async for client in client_for(app):
            await client.get(f"/links/{SECRET_TOKEN}")
            await client.get("/discussions/some-discussion-id")  # 401: no key
            scrape = await client.get("/metrics")  # no key needed
    assert scrape.status_code == 200
    assert SECRET_TOKEN not in scrape.text and "some-discussion-id" not in scrape.text
    routes = {route for _, route, _ in routes_seen()}
    assert {"/links/{token}", "/discussions/{discussion_id}"} <= routes


async def test_the_invoicer_answers_metrics() -> None:
    async for client in client_for(invoicer_app()):
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert "parley_invoices_rendered" in response.text
