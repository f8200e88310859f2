"""The PostgreSQL connections one process may open are a bounded setting (STARS_DB_POOL_SIZE +
STARS_DB_MAX_OVERFLOW), and the Store never opens more: every worker of every server opens its own pool,
so a deployment sizes it to what its database accepts (budget/fit/dbpool.py)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.config import DB_OVERFLOW_BOUNDS, DB_POOL_BOUNDS, Settings, async_database_url
from runtime.migrate import upgrade
from runtime.store import Store, make_engine
from tests.runtime.helpers import ROOT


def test_the_pool_defaults_suit_a_local_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STARS_DB_POOL_SIZE", raising=False)
    monkeypatch.delenv("STARS_DB_MAX_OVERFLOW", raising=False)
    s = Settings.from_env()
    assert (s.db_pool_size, s.db_max_overflow) == (10, 10)
    monkeypatch.setenv("STARS_DB_POOL_SIZE", "4")
    monkeypatch.setenv("STARS_DB_MAX_OVERFLOW", "0")
    s = Settings.from_env()
    assert (s.db_pool_size, s.db_max_overflow) == (4, 0)


@settings(max_examples=60, deadline=None)
@given(
    name=st.sampled_from(["STARS_DB_POOL_SIZE", "STARS_DB_MAX_OVERFLOW"]),
    raw=st.one_of(
        st.integers(-1000, 1000).map(str),
        st.text(st.characters(codec="utf-8", exclude_characters="\0"), max_size=12),
    ),
)
def test_a_pool_setting_is_an_integer_inside_its_bounds_or_refused_naming_it(name: str, raw: str) -> None:
    low, high = DB_POOL_BOUNDS if name == "STARS_DB_POOL_SIZE" else DB_OVERFLOW_BOUNDS
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(name, raw)
        try:
            value = int(raw) if raw else None
        except ValueError:
            value = None
        if not raw or (value is not None and low <= value <= high):
            s = Settings.from_env()
            got = s.db_pool_size if name == "STARS_DB_POOL_SIZE" else s.db_max_overflow
            assert low <= got <= high
        else:
            with pytest.raises(ValueError, match=f"^{name} must be an integer from {low} to {high}"):
                Settings.from_env()


def test_a_pool_size_out_of_bounds_stops_the_start_up_in_one_line(tmp_path: Path) -> None:
    env = {"STARS_DB_POOL_SIZE": "0", "PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    cmd = [sys.executable, "-m", "runtime", "serve", "--port", "1"]
    out = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=30, check=False)
    assert out.returncode != 0 and "Traceback" not in out.stderr, out.stderr
    assert out.stderr.strip().splitlines() == ["STARS_DB_POOL_SIZE must be an integer from 1 to 100, not 0"]


@pytest.mark.services
@pytest.mark.asyncio
async def test_the_store_opens_at_most_pool_size_plus_overflow_connections(database_url: str) -> None:
    """Pool 3, overflow 0 (what a deployment sets): 40 concurrent reads share 3 connections."""
    url = async_database_url(database_url)
    await asyncio.to_thread(upgrade, url)
    store = Store(make_engine(url, pool_size=3, max_overflow=0), timeout=10.0)
    database = database_url.rsplit("/", 1)[1]
    watcher = await asyncpg.connect(database_url)
    try:
        await store.publish("room:1", '"x"')
        seen = 0

        async def count() -> None:
            nonlocal seen
            for _ in range(50):
                n = await watcher.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
                    database,
                )
                seen = max(seen, int(n))
                await asyncio.sleep(0.002)

        reads = [store.fetch("room:1", 0, 10) for _ in range(40)]
        await asyncio.gather(count(), *reads)
        assert 1 <= seen <= 3
    finally:
        await watcher.close()
        await store.close()
