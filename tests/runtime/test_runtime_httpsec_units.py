"""The HTTP-side guards without a server: the per-subject limiter, the Origin and Host parsers
(outside input: property-based), log redaction, token issuer and lifetime, the bounded body reader."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator

import jwt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.auth import AuthError, issue, verify
from runtime.limits import BadLength, BodyTooLarge, SubjectLimiter, read_body
from runtime.logs import Redact, redact
from runtime.origin import OriginPolicy, loopback_host, normalize

SECRET = "unit-test-secret-of-at-least-32-bytes!"


def test_the_limiter_is_one_bucket_per_subject() -> None:
    clock = [0.0]
    limiter = SubjectLimiter(rate=2, burst=3, clock=lambda: clock[0])
    assert [limiter.allow("a") for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("b")  # another subject has its own bucket
    clock[0] = 0.5  # refills 2/s: one more
    assert limiter.allow("a") and not limiter.allow("a")


def test_the_limiter_table_stays_bounded_under_a_flood_of_subjects(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(SubjectLimiter, "MAX_SUBJECTS", 100)
    clock = [0.0]
    limiter = SubjectLimiter(rate=1, burst=2, clock=lambda: clock[0])
    for i in range(1000):
        clock[0] += 0.001
        limiter.allow(f"s{i}")
        assert len(limiter._buckets) <= 100


def test_origins_same_host_listed_none_and_null() -> None:
    own = OriginPolicy(())
    assert own.allows(None, "127.0.0.1:8000")  # not a browser
    assert own.allows("http://127.0.0.1:8000", "127.0.0.1:8000")
    assert own.allows("https://app.example.com", "app.example.com")  # TLS ends at the load balancer
    assert not own.allows("https://evil.example", "app.example.com")
    assert not own.allows("http://app.example.com:8080", "app.example.com")
    assert not own.allows("null", "app.example.com")
    assert not own.allows("https://app.example.com.evil.example", "app.example.com")
    listed = OriginPolicy(("https://app.example.com",))
    assert listed.allows("https://app.example.com:443", "api.example.com")
    assert OriginPolicy(("*",)).allows("https://anything.example", "x")
    with pytest.raises(ValueError, match="STARS_ALLOWED_ORIGINS"):
        OriginPolicy(("app.example.com",))


def test_loopback_hosts() -> None:
    host: str | None  # what loopback_host takes: a request's Host header, or none
    for host in ("localhost", "localhost:8000", "127.0.0.1:8000", "127.1.2.3", "[::1]:8000"):
        assert loopback_host(host), host
    for host in ("evil.example:8000", "localhost.evil.example", "10.0.0.1", "", None, "[::1", "a@127.0.0.1"):
        assert not loopback_host(host), host


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.none(), st.text(max_size=80)), st.one_of(st.none(), st.text(max_size=80)))
def test_origin_and_host_parsers_never_raise(origin: str | None, host: str | None) -> None:
    assert OriginPolicy(()).allows(origin, host) in (True, False)
    assert loopback_host(host) in (True, False)
    normalized = normalize(origin or "")
    assert normalized is None or normalized.startswith(("http://", "https://", "ws://", "wss://"))


def test_redaction_catches_every_spelling_of_a_credential() -> None:
    jwt_ = issue(SECRET, "alice")
    lines = [
        f'127.0.0.1:5 - "GET /ws?token={jwt_} HTTP/1.1" 403',
        f'"GET /ws?%74oken={jwt_}&x=1 HTTP/1.1" 101',
        f'"GET /ws?a=1&TOKEN={jwt_}"',
        f"< Authorization: Bearer {jwt_}",
        f"< Sec-WebSocket-Protocol: bearer, {jwt_}",
        "< authorization: Bearer opaque-not-a-jwt",
        jwt_.replace(".", "%2E"),
    ]
    for line in lines:
        clean = redact(line)
        assert jwt_.rsplit(".", 1)[1] not in clean and "opaque-not-a-jwt" not in clean, clean
        assert "[redacted]" in clean
    assert redact("subscribe room:x offset=5 since=3") == "subscribe room:x offset=5 since=3"


def test_redaction_works_on_the_formatted_line() -> None:
    """A credential split over format arguments (``"< %s: %s"``, as the WebSocket layer logs headers)."""
    record = logging.LogRecord(
        "websockets.server", logging.DEBUG, __file__, 1, "< %s: %s", ("Authorization", "Bearer x"), None
    )
    assert Redact().filter(record)
    assert record.getMessage() == "< Authorization: [redacted]"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_redaction_never_raises(text: str) -> None:
    assert isinstance(redact(text), str)


def test_tokens_need_the_issuer_and_a_bounded_lifetime() -> None:
    now = int(time.time())
    assert verify(SECRET, issue(SECRET, "a", ttl=3600)).sub == "a"
    with pytest.raises(AuthError, match="lifetime"):
        verify(SECRET, issue(SECRET, "a", ttl=2 * 86400))
    with pytest.raises(AuthError, match="lifetime"):  # exp close, but issued for longer than allowed
        verify(
            SECRET,
            jwt.encode({"sub": "a", "iss": "stars-runtime", "iat": now - 86400 * 3, "exp": now + 60}, SECRET),
        )
    with pytest.raises(AuthError, match="iss"):
        verify(SECRET, jwt.encode({"sub": "a", "exp": now + 60}, SECRET))
    with pytest.raises(AuthError, match="issuer"):
        verify(SECRET, issue(SECRET, "a", issuer="other"))
    assert verify(SECRET, issue(SECRET, "a", ttl=600, issuer="mine"), issuer="mine", max_ttl=600).sub == "a"


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


def test_the_body_reader_stops_at_the_limit() -> None:
    run = asyncio.run
    assert run(read_body("5", _chunks(b"12", b"345"), 5)) == b"12345"
    assert run(read_body(None, _chunks(b"12", b"345"), 5)) == b"12345"
    with pytest.raises(BodyTooLarge):
        run(read_body("300000000", _chunks(), 5))

    consumed = []

    async def endless() -> AsyncIterator[bytes]:
        while True:
            consumed.append(1)
            yield b"x" * 4

    with pytest.raises(BodyTooLarge):
        run(read_body(None, endless(), 10))
    assert len(consumed) == 3
    for bad in ("-1", "1e3", " 5", "abc"):
        with pytest.raises(BadLength):
            run(read_body(bad, _chunks(), 5))
