"""The rate limits' rules and the Origin allow-list as plain functions, on a clock the test moves.

(The login counts in the database, under real concurrent requests: tests/test_login_throttle.py.)"""

from __future__ import annotations

import pytest
from starlette.datastructures import Headers

from sandbox.origins import normalise_origin, parse_allowed_origins
from sandbox.storage.throttle import Rule
from sandbox.web.limits import TokenBucket
from sandbox.web.origin import origin_allowed


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_wait_after_the_free_tries_doubles_up_to_the_window() -> None:
    rule = Rule(free=5, window_s=900)
    assert [rule.delay_s(n) for n in range(5)] == [0.0] * 5
    assert [rule.delay_s(n) for n in range(5, 11)] == [60.0, 120.0, 240.0, 480.0, 900.0, 900.0]
    assert rule.delay_s(10**6) == 900.0  # no overflow, however long the siege
    assert Rule(free=1, window_s=30).delay_s(1) == 30.0  # never longer than the window


def test_a_bucket_allows_a_burst_then_its_rate() -> None:
    clock = Clock()
    bucket = TokenBucket(burst=3, per_minute=60, clock=clock)
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    clock.now += 1  # one frame a second
    assert bucket.take() and not bucket.take()
    clock.now += 3600  # never more than the burst, however long the pause
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://Sandbox.Example.com", "https://sandbox.example.com"),
        ("https://sandbox.example.com:443/", "https://sandbox.example.com"),
        ("http://localhost:8000", "http://localhost:8000"),
        ("http://[::1]:8000", "http://[::1]:8000"),
        ("null", None),
        ("file://", None),
        ("https://evil.example/path", None),
        ("https://user@sandbox.example.com", None),
        ("https://host:notaport", None),
    ],
)
def test_origins_are_normalised(raw: str, expected: str | None) -> None:
    assert normalise_origin(raw) == expected


def test_the_allow_list_setting_refuses_what_is_not_an_origin() -> None:
    assert parse_allowed_origins(" https://a.example , http://b.example:8080,") == {
        "https://a.example",
        "http://b.example:8080",
    }
    with pytest.raises(ValueError, match="not an origin"):
        parse_allowed_origins("a.example")


@pytest.mark.parametrize(
    ("headers", "allowed", "verdict"),
    [
        ({"host": "localhost:8000", "origin": "http://localhost:8000"}, "", True),
        # The page's scheme must be the socket's own: https pages open wss sockets.
        ({"host": "localhost:8000", "origin": "https://localhost:8000"}, "", False),
        ({"host": "localhost:8000", "origin": "http://localhost:8001"}, "", False),
        ({"host": "localhost:8000", "origin": "http://evil.example"}, "", False),
        ({"host": "localhost:8000"}, "", False),  # no Origin: not a page of ours
        ({"host": "localhost:8000", "origin": "null"}, "", False),
        ({"origin": "http://localhost:8000"}, "", False),
        # Behind a proxy that rewrites Host, the list names the public origin.
        (
            {"host": "app:8000", "origin": "https://sandbox.example.com"},
            "https://sandbox.example.com",
            True,
        ),
        ({"host": "app:8000", "origin": "http://app:8000"}, "https://sandbox.example.com", False),
    ],
)
def test_origin_allowed(headers: dict[str, str], allowed: str, verdict: bool) -> None:
    assert origin_allowed(Headers(headers), parse_allowed_origins(allowed), "ws") is verdict


@pytest.mark.parametrize(
    ("scheme", "origin", "verdict"),
    [
        ("ws", "http://sandbox.example.com", True),
        ("ws", "https://sandbox.example.com", False),
        ("wss", "https://sandbox.example.com", True),
        ("wss", "http://sandbox.example.com", False),
        ("wss", "https://sandbox.example.com:443", True),
        ("https", "https://sandbox.example.com", True),
        ("ftp", "http://sandbox.example.com", False),
    ],
)
def test_the_own_origin_has_the_sockets_scheme(scheme: str, origin: str, verdict: bool) -> None:
    headers = Headers({"host": "sandbox.example.com", "origin": origin})
    assert origin_allowed(headers, frozenset(), scheme) is verdict
