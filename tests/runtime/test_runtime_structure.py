"""The runtime's shape, checked without services: one home for the environment, only broadcaster's public
names, and the uvicorn internals of ``runtime.uvicornseam`` present in the pinned uvicorn. (No import
cycle among the runtime's modules, nor anywhere in the project: tests/test_import_cycles.py.)"""

from __future__ import annotations

import ast
import asyncio
import inspect
import logging
import re
import sys
from pathlib import Path
from typing import TypeGuard

import pytest
from starlette.types import Receive, Scope, Send

from runtime import server, uvicornseam
from runtime.config import Settings

ROOT = Path(__file__).resolve().parents[2]
RUNTIME = ROOT / "runtime"


def _python_files() -> list[Path]:
    return [p for d in ("runtime", "tests", "bench") for p in (ROOT / d).rglob("*.py")]


def test_only_broadcasters_public_names_are_imported() -> None:
    import broadcaster

    offenders = []
    for path in _python_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("broadcaster"):
                if node.module != "broadcaster" or any(a.name not in broadcaster.__all__ for a in node.names):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
            elif isinstance(node, ast.Import) and any(a.name.startswith("broadcaster.") for a in node.names):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not offenders, offenders


def _reads_environment(node: ast.AST) -> TypeGuard[ast.Attribute]:
    """``os.environ.get(...)``, ``os.getenv(...)``, ``os.environ[...]`` read, ``"X" in os.environ``."""
    return isinstance(node, ast.Attribute) and node.attr in ("getenv", "environ")


def test_the_environment_is_read_only_in_settings() -> None:
    offenders = []
    for path in RUNTIME.rglob("*.py"):
        if path.name == "config.py" and path.parent == RUNTIME:
            continue
        if path.parent.name == "deploy":  # boot-time tools, not the server: they read the AWS SDKs' variables
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        writes = {  # `os.environ[X] = ...` hands a value to the workers; that is not a read
            id(t.value) for n in ast.walk(tree) if isinstance(n, ast.Assign) for t in n.targets
            if isinstance(t, ast.Subscript)
        }  # fmt: skip
        for node in ast.walk(tree):
            if _reads_environment(node) and id(node) not in writes:
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not offenders, f"read the environment in Settings.from_env instead: {offenders}"


def test_settings_read_every_documented_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    documented = set(re.findall(r"STARS_[A-Z_]+", (RUNTIME / "README.md").read_text(encoding="utf-8")))
    read = set(re.findall(r'"(STARS_[A-Z_]+)"', inspect.getsource(Settings.from_env)))
    internal = {"STARS_GENERATED_SECRET"}  # set by serve for its workers
    assert read - internal == documented
    monkeypatch.setenv("STARS_LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("STARS_SLOW_CLIENT_ABORT", "2.5")
    monkeypatch.setenv("STARS_GC_TRACE", "/tmp/gc.log")
    settings = Settings.from_env()
    assert (settings.log_level, settings.slow_abort, settings.gc_trace) == ("debug", 2.5, "/tmp/gc.log")


# -- the seam to uvicorn ------------------------------------------------------------------------------


def test_the_pinned_uvicorn_has_every_internal_the_runtime_uses(monkeypatch: pytest.MonkeyPatch) -> None:
    from uvicorn.config import Config
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
    from uvicorn.server import ServerState

    monkeypatch.setattr(
        uvicornseam, "verified_release", lambda: False
    )  # read the source, as on another release
    assert uvicornseam.missing() == {}
    loop = asyncio.new_event_loop()
    try:

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            return None

        config = Config(app, ws="websockets-sansio", ws_per_message_deflate=False, lifespan="off")
        proto = WebSocketsSansIOProtocol(config, ServerState(), {}, _loop=loop)
    finally:
        loop.close()
    handshake = ("request", "response", "scope")  # set when the handshake arrives
    set_at_init = [name for name in uvicornseam.DIRECT_WRITE_ATTRS if name not in handshake]
    assert len(set_at_init) == len(uvicornseam.DIRECT_WRITE_ATTRS) - 3
    for name in set_at_init:
        assert hasattr(proto, name), name
    source = inspect.getsource(WebSocketsSansIOProtocol.handle_connect)
    for name in handshake:
        assert f"self.{name} =" in source or f"self.{name}: " in source, name
    for name in uvicornseam.KEEPALIVE_ATTRS:
        assert callable(getattr(proto, name)), name
    for name in uvicornseam.CONN_METHODS:
        assert callable(getattr(proto.conn, name)), name
    assert proto.config.ws_per_message_deflate is False
    source = inspect.getsource(sys.modules[WebSocketsSansIOProtocol.__module__])
    assert uvicornseam.ACCESS_LINE_PREFIX in source
    assert logging.getLogger(uvicornseam.LOGGER) is logging.getLogger("uvicorn.error")
    import websockets.protocol
    import websockets.server

    websockets_source = inspect.getsource(websockets.server) + inspect.getsource(websockets.protocol)
    for message in uvicornseam.PER_CONNECTION_MESSAGES:
        assert f'"{message}"' in websockets_source, message


def test_serve_warns_loudly_when_a_feature_is_unavailable(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    assert server.startup_checks(Settings()) == []
    monkeypatch.setattr(uvicornseam, "KEEPALIVE_ATTRS", ("handle_pong", "no_such_handler"))
    with caplog.at_level(logging.WARNING, logger="runtime"):
        lines = server.startup_checks(Settings())
    assert len(lines) == 1 and lines[0].startswith("keepalive pings unavailable")
    assert "no_such_handler" in caplog.text and caplog.records[-1].levelno == logging.WARNING
    assert server.startup_checks(Settings(ws_ping_interval=0)) == [], "pings off: nothing is missing"
    monkeypatch.setattr(uvicornseam, "verified_release", lambda: False)  # instance attributes: from source
    monkeypatch.setattr(uvicornseam, "DIRECT_WRITE_ATTRS", ("transport", "no_such_attribute"))
    lines = server.startup_checks(Settings())
    assert [line.split(" unavailable")[0] for line in lines] == ["direct writes", "keepalive pings"]


def test_the_verified_releases_are_the_pinned_ones() -> None:
    """Start-up trusts the source checks only on the releases these tests run them on: the pins."""
    pins = dict(
        line.split("==", 1)
        for line in (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
        if "==" in line and not line.startswith("#")
    )
    assert {name: pins[name] for name in uvicornseam.VERIFIED_RELEASES} == uvicornseam.VERIFIED_RELEASES
    assert uvicornseam.verified_release(), "the installed uvicorn and websockets are the pinned ones"


def test_unreadable_uvicorn_source_turns_features_off_instead_of_crashing(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def no_source(obj: object) -> str:
        raise OSError("could not get source code")  # what inspect says for a byte-compiled-only install

    monkeypatch.setattr(inspect, "getsource", no_source)
    assert server.startup_checks(Settings(ws_deflate=True)) == [], "a verified release reads no source"
    monkeypatch.setattr(uvicornseam, "verified_release", lambda: False)
    with caplog.at_level(logging.WARNING, logger="runtime"):
        lines = server.startup_checks(Settings(ws_deflate=True))
    features = [line.split(" unavailable")[0] for line in lines]
    assert features == [
        "HTTP limits",
        "direct writes",
        "keepalive pings",
        "lean connection state",
        "permessage-deflate",
    ]
    assert all("source" in line for line in lines) and caplog.text.count("WARNING") == len(lines)


# -- runtime/README.md's protocol tables are runtime/protocol.py's ----------------------------------------


def _table_after(heading: str) -> list[list[str]]:
    """The rows (cells, without the header) of the first Markdown table after ``heading``."""
    lines = (RUNTIME / "README.md").read_text(encoding="utf-8").splitlines()
    start = lines.index(heading)
    rows: list[list[str]] = []
    for line in lines[start + 1 :]:
        if line.startswith("|"):
            rows.append([cell.strip() for cell in line.strip().strip("|").split(" | ")])
        elif rows:
            break
    return rows[2:]


def test_readme_frames_are_the_protocols() -> None:
    from runtime import protocol

    for heading, specs in (
        ("Client → server", protocol.CLIENT_FRAMES),
        ("Server → client", protocol.SERVER_FRAMES),
    ):
        documented = [(shape.strip("`"), meaning) for shape, meaning in _table_after(heading)]
        assert documented == [(f.shape, f.meaning) for f in specs], heading


def test_readme_error_and_close_codes_are_the_protocols() -> None:
    from runtime import protocol

    errors = [
        (code.strip("`"), when, should)
        for code, when, should in _table_after("### Error codes (error frames)")
    ]
    assert errors == [(e.code, e.when, e.client_should) for e in protocol.ERRORS]
    closes = [
        (int(code), meaning, should, again == "yes")
        for code, meaning, should, again in _table_after("### Close codes")
    ]
    assert closes == [(c.code, c.meaning, c.client_should, c.reconnect) for c in protocol.CLOSES]
    rest = [
        (code.strip("`"), int(status), when) for code, status, when in _table_after("### REST error codes")
    ]
    assert rest == [(e.code, e.status, e.when) for e in protocol.REST_ERRORS]
    # every code the runtime sends is defined there: no close code or error code spelled out elsewhere
    close_codes = {c.code for c in protocol.CLOSES}
    error_codes = {e.code for e in protocol.ERRORS} | {e.code for e in protocol.REST_ERRORS}
    offenders = []
    for path in RUNTIME.glob("*.py"):
        if path.name == "protocol.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        in_dicts = {  # JSON bodies such as /readyz's status words
            id(n) for d in ast.walk(tree) if isinstance(d, ast.Dict) for v in d.values for n in ast.walk(v)
        }  # fmt: skip
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and id(node) not in in_dicts
                and (
                    (type(node.value) is int and node.value in close_codes)
                    or (isinstance(node.value, str) and node.value in error_codes)
                )
            ):
                offenders.append(f"{path.name}:{node.lineno} {node.value!r}")
    assert not offenders, offenders
