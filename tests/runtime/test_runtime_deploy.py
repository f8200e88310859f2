"""The runtime's own user data: identifiers only, valid shell, and the embedded installer is the source's
code (compacted for EC2's 16 KB). The installer is run for real, under systemd, in tests/boot."""

from __future__ import annotations

import ast
import subprocess
from typing import TypedDict

import pytest

from runtime.deploy import AWSGET, BOOTSTRAP, UNIT, compact_python, compact_shell, render_user_data


class UserDataArgs(TypedDict):
    """The keyword arguments of render_user_data these tests pass (its keyword names, its types)."""

    region: str
    release_uri: str
    release_sha256: str
    jwt_secret_arn: str
    db_secret_arn: str
    db_endpoint: str
    redis_endpoint: str
    redis_auth_secret_arn: str


ARGS: UserDataArgs = {
    "region": "af-south-1",
    "release_uri": "s3://bucket/releases/stars-runtime-0.1.0-" + "0" * 64 + ".tar",
    "release_sha256": "0" * 64,
    "jwt_secret_arn": "arn:jwt",
    "db_secret_arn": "arn:rds",
    "db_endpoint": "db.internal:5432",
    "redis_endpoint": "cache.internal:6379",
    "redis_auth_secret_arn": "arn:redis",
}


def test_user_data_carries_no_secret_and_is_valid_shell() -> None:
    data = render_user_data(**ARGS)
    assert data.startswith("#!/bin/sh\n") and len(data.encode()) < 16384  # EC2 user data limit
    assert "export STARS_DB_SECRET_ARN=arn:rds" in data
    assert "STARS_JWT_SECRET=" not in data and "STARS_DATABASE_URL=" not in data  # only ARNs travel
    subprocess.run(["sh", "-n"], input=data, text=True, check=True)
    unit = UNIT.read_text()
    assert "EnvironmentFile=/etc/stars/runtime.env" in unit and "KillSignal=SIGTERM" in unit
    assert "Restart=always" in unit


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"release_sha256": "z" * 64}, "64 lowercase hex"),
        ({"release_uri": "https://example.org/x.tar"}, "s3://"),
        ({"release_uri": None}, "both release_uri and release_sha256"),
        ({"db_endpoint": "db\nexport X=1"}, "single line"),
    ],
)
def test_bad_inputs_are_refused(change: dict[str, str | None], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        render_user_data(**{**ARGS, **change})  # type: ignore[arg-type]  # bad values on purpose


def _defined(tree: ast.AST) -> list[str]:
    return [n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.ClassDef)]


def test_the_embedded_installer_is_the_source_code() -> None:
    """Compaction drops comments and docstrings only (tests/boot runs the compacted copy for real)."""
    source = AWSGET.read_text()
    compact = compact_python(source)
    tree = ast.parse(compact)
    assert len(compact) < 0.9 * len(source)
    assert _defined(tree) == _defined(ast.parse(source))
    documented = [n for n in ast.walk(tree) if isinstance(n, ast.Module | ast.FunctionDef | ast.ClassDef)]
    assert documented and all(ast.get_docstring(n) is None for n in documented)
    shell = compact_shell(BOOTSTRAP.read_text())
    code = [ln for ln in BOOTSTRAP.read_text().splitlines() if not ln.lstrip().startswith("#")]
    assert shell.splitlines()[1:] == code and shell.startswith("#!/bin/sh\n")
    data = render_user_data(**ARGS)
    assert compact in data and shell in data


def test_compacting_from_many_threads_at_once_gives_one_answer() -> None:
    """Regression: planners render user data from several threads, and CPython 3.11's ``ast.parse`` in two
    threads at once failed ("AST constructor recursion depth mismatch") in a test run."""
    from concurrent.futures import ThreadPoolExecutor

    compact_python.cache_clear()
    source = AWSGET.read_text()
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: compact_python(source), range(32)))
    assert len(set(results)) == 1 and results[0] == compact_python(source)
