"""Web origins as `SANDBOX_ALLOWED_ORIGINS` names them: read and normalised.

Pure, so that the settings can check the variable without importing the web layer; the
handshake check that uses them is `sandbox.web.origin`.
"""

from __future__ import annotations

from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}


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
