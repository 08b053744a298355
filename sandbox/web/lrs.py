"""Pushing xAPI statements to a learning record store (`SANDBOX_LRS_URL` and credentials).

Statements go in batches to `<SANDBOX_LRS_URL>/statements` with HTTP Basic authentication and
the `X-Experience-API-Version` header (xAPI 1.0.3 part 3, 6.2 and 6.4). Their ids are stable
(`sandbox.exams.xapi`), so pushing again does not duplicate: an LRS answers 409 Conflict or
ignores a statement it already has, which is counted as delivered here.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any

from sandbox.config import Settings
from sandbox.exams.xapi import XAPI_VERSION

BATCH = 100


class LrsError(Exception):
    """The store refused or could not be reached; the message says what happened."""


def lrs_configured(settings: Settings) -> bool:
    return bool(settings.lrs_url)


def push_statements(settings: Settings, statements: Sequence[dict[str, Any]]) -> int:
    """Send every statement; the number sent. Raises `LrsError` at the first refused batch."""
    if not settings.lrs_url:
        raise LrsError("no learning record store is configured (SANDBOX_LRS_URL)")
    url = settings.lrs_url.rstrip("/") + "/statements"
    password = settings.lrs_password.get_secret_value() if settings.lrs_password else ""
    token = base64.b64encode(f"{settings.lrs_username}:{password}".encode()).decode("ascii")
    sent = 0
    for start in range(0, len(statements), BATCH):
        batch = list(statements[start : start + BATCH])
        request = urllib.request.Request(
            url,
            data=json.dumps(batch).encode("utf-8"),
            method="POST",
            headers={
                "Content-Type": "application/json",
                "X-Experience-API-Version": XAPI_VERSION,
                "Authorization": f"Basic {token}",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=settings.lrs_timeout_s) as response:
                response.read()
        except urllib.error.HTTPError as error:
            if error.code != 409:  # 409: the store already holds these ids
                raise LrsError(f"the store at {url} answered HTTP {error.code}") from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise LrsError(f"the store at {url} could not be reached: {reason}") from None
        sent += len(batch)
    return sent
