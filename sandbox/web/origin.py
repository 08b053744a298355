"""Which pages may open the app's WebSockets: the Origin allow-list checked at the handshake.

Browsers send cookies with a WebSocket handshake whatever page opens it, and the same-origin
policy does not apply to sockets, so without this check any site a trainee visits could talk
to the chat in their name (cross-site WebSocket hijacking). Browsers always send `Origin` on a
handshake; a request without one is not from a page of ours and is refused too.
"""

from __future__ import annotations

from starlette.datastructures import Headers

from sandbox.origins import normalise_origin

# The scheme of the page that may open a socket over each scheme.
PAGE_SCHEMES = {"ws": "http", "wss": "https", "http": "http", "https": "https"}


def origin_allowed(headers: Headers, allowed: frozenset[str], scheme: str) -> bool:
    """True when the handshake comes from an allowed page: listed, or the app's own origin.

    `scheme` is the handshake's own (`ws` or `wss`; `http` or `https` also read). Behind a
    TLS proxy it is `wss` only when `sandbox serve` trusts the proxy's X-Forwarded-Proto
    (SANDBOX_FORWARDED_ALLOW_IPS), as for `Secure` cookies.
    """
    raw = headers.get("origin")
    origin = normalise_origin(raw) if raw else None
    if origin is None:
        return False
    if allowed:
        return origin in allowed
    # No list: the page must have been served by the host the socket was opened on, over
    # the same scheme (an https page of this host:port is not the plain-http app's page).
    host = headers.get("host", "").strip().lower()
    page_scheme = PAGE_SCHEMES.get(scheme.lower())
    if not host or page_scheme is None:
        return False
    return normalise_origin(f"{page_scheme}://{host}") == origin
