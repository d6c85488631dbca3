"""The web inbox (F22): ``GET /`` serves its page, ``/web/…`` its modules and styles.

Plain ES modules, HTML and CSS with no build step: what is in the folder is what the
browser runs, so nothing built is kept out of git and no Node is needed at run time.
The folder is ``services/gateway/web`` in the source tree and ``parley_gateway/web``
in the wheel (hatch force-include), found here in that order of preference.

Every answer of the inbox carries a strict Content-Security-Policy: scripts, styles
and connections from this origin only, no inline script, no framing, so a message
body that slipped past escaping could still not run code.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.responses import FileResponse
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

WEB_PREFIX = "/web"
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    # Revalidate each time: a new gateway version's modules are picked up at once.
    (b"cache-control", b"no-cache"),
)


def web_root() -> Path | None:
    """The inbox's folder: in the installed package, else in the source tree."""
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "web", package.parent.parent / "web"):
        if (candidate / "index.html").is_file():
            return candidate
    return None


class _WithSecurityHeaders:
    """Adds the inbox's security headers to every answer of the wrapped app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in SECURITY_HEADERS}
                headers = [h for h in message.get("headers", []) if h[0].lower() not in names]
                message["headers"] = headers + list(SECURITY_HEADERS)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install_web_inbox(app: FastAPI) -> None:
    """``GET /`` and ``/web``; nothing (``GET /`` stays 404) when the folder is missing."""
    root = web_root()
    if root is None:
        return
    index = root / "index.html"

    async def inbox_page(request: Request) -> Response:
        """The inbox's one page; its hash routes (#/inbox, …) run in the browser."""
        return FileResponse(
            index,
            media_type="text/html; charset=utf-8",
            headers={name.decode(): value.decode() for name, value in SECURITY_HEADERS},
        )

    # Exactly "/": a mount there would shadow /docs, /graphql and the API.
    app.router.add_route("/", inbox_page, methods=["GET", "HEAD"], include_in_schema=False)
    app.mount(
        WEB_PREFIX,
        _WithSecurityHeaders(StaticFiles(directory=root, follow_symlink=False)),
        name="web",
    )
