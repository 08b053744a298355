"""Security headers on every HTTP response: pages, redirects, JSON, static files and errors.

Templated pages already carry them (templating.SECURITY_HEADERS); this middleware makes sure
nothing else goes out without them, and adds HSTS to responses served over HTTPS.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sandbox.web.templating import SECURITY_HEADERS

# A year, without preload: an operator opts in to preload lists on purpose, not by default.
HSTS = "max-age=31536000; includeSubDomains"


class SecurityHeadersMiddleware:
    """Add the security headers a response lacks; HSTS when the request came over HTTPS."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    if name not in headers:
                        headers[name] = value
                if https and "strict-transport-security" not in headers:
                    headers["Strict-Transport-Security"] = HSTS
            await send(message)

        await self.app(scope, receive, send_with_headers)
