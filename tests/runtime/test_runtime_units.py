"""Small pure functions: URL mapping, channel names, token patterns."""

from __future__ import annotations

import pytest

from runtime.auth import AuthError, issue, valid_channel, verify
from runtime.config import async_database_url

SECRET = "unit-test-secret-of-at-least-32-bytes!"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u:p@db:5432/stars", "postgresql+asyncpg://u:p@db:5432/stars"),
        ("postgres://u:p@db/stars", "postgresql+asyncpg://u:p@db/stars"),
        ("postgresql+asyncpg://u@db/stars", "postgresql+asyncpg://u@db/stars"),
        ("sqlite:///var/x.db", "sqlite+aiosqlite:///var/x.db"),
        ("sqlite:////abs/x.db", "sqlite+aiosqlite:////abs/x.db"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite:///x.db"),
    ],
)
def test_database_urls_map_to_async_drivers(given: str, expected: str) -> None:
    assert async_database_url(given) == expected


@pytest.mark.parametrize("name", ["room:1", "a", "team-a/general", "user@host.x", "x" * 128])
def test_valid_channels(name: str) -> None:
    assert valid_channel(name)


@pytest.mark.parametrize("name", ["", "room:*", "room?", "a[b]", "with space", "x" * 129, 5, None, "é"])
def test_invalid_channels(name: object) -> None:
    assert not valid_channel(name)


def test_token_patterns_limit_channels() -> None:
    claims = verify(SECRET, issue(SECRET, "alice", ["room:*", "dm:alice:?"], ["room:public"]))
    assert claims.may_subscribe("room:42") and claims.may_subscribe("dm:alice:x")
    assert not claims.may_subscribe("dm:bob:x") and not claims.may_subscribe("Room:42")
    assert claims.may_publish("room:public") and not claims.may_publish("room:42")


def test_token_claims_must_be_well_formed() -> None:
    import jwt

    for payload in ({"sub": "", "exp": 2**40}, {"sub": "a", "exp": 2**40, "publish": "room:*"}):
        with pytest.raises(AuthError):
            verify(SECRET, jwt.encode(payload, SECRET, algorithm="HS256"))


def test_a_channel_name_with_a_final_newline_is_invalid() -> None:
    assert not valid_channel("room:x\n") and not valid_channel("room:x\r\n") and valid_channel("room:x")
