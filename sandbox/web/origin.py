"""Which pages may open the app's WebSockets: the Origin allow-list checked at the handshake.

Browsers send cookies with a WebSocket handshake whatever page opens it, and the same-origin
policy does not apply to sockets, so without this check any site a trainee visits could talk
to the chat in their name (cross-site WebSocket hijacking). Browsers always send `Origin` on a
handshake; a request without one is not from a page of ours and is refused too.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import Headers

DEFAULT_PORTS = {"http": 80, "https": 443}
# The scheme of the page that may open a socket over each scheme.
PAGE_SCHEMES = {"ws": "http", "wss": "https", "http": "http", "https": "https"}


def normalise_origin(value: str) -> str | None:
    """`scheme://host[:port]` in lower case with a default port dropped, or None if not one."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        return None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    if port is not None and port != DEFAULT_PORTS[parts.scheme]:
        return f"{parts.scheme}://{host}:{port}"
    return f"{parts.scheme}://{host}"


def parse_allowed_origins(setting: str) -> frozenset[str]:
    """The origins of SANDBOX_ALLOWED_ORIGINS (comma-separated); raises ValueError on a bad one."""
    origins: set[str] = set()
    for part in setting.split(","):
        if not part.strip():
            continue
        origin = normalise_origin(part)
        if origin is None:
            raise ValueError(
                f"SANDBOX_ALLOWED_ORIGINS: {part.strip()!r} is not an origin "
                "like https://sandbox.example.com"
            )
        origins.add(origin)
    return frozenset(origins)


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
