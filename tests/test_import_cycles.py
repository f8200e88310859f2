"""No import circle between the project's modules (issue: "one shape for each concept").

Every ``import x`` / ``from x import y`` in the project's packages counts: at module level, inside a
function, and under ``if TYPE_CHECKING:`` too (a circle of types is still two modules that cannot be
understood, tested or changed one without the other).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("budget", "components", "runtime", "policy", "bench")


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    package = _module(path) if path.name == "__init__.py" else _module(path).rpartition(".")[0]
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    [*package.split(".")[: len(package.split(".")) - node.level + 1], base]
                ).strip(".")
            names = [base, *(f"{base}.{a.name}" for a in node.names)]
        for name in names:
            # the deepest project module the name refers to
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name and name != _module(path):
                found.add(name)
    return found


def graph() -> dict[str, set[str]]:
    files = [p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")]
    modules = {_module(p) for p in files}
    return {_module(p): _imports(p, modules) for p in files}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def _package_edges(edges: dict[str, set[str]]) -> dict[str, set[str]]:
    """A package's __init__ importing its own submodules is how packages work, not a circle."""
    return {
        m: {t for t in targets if not (t.startswith(f"{m}.") or m.startswith(f"{t}."))}
        for m, targets in edges.items()
    }


def test_no_import_circle() -> None:
    assert cycles(_package_edges(graph())) == []


def test_the_check_finds_a_circle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_catalog_does_not_reach_up_into_the_reports() -> None:
    """The catalog is below the reports: it may share the plain-text table, not report formatting."""
    edges = graph()
    upward = {
        (m, t)
        for m, targets in edges.items()
        if m.startswith("budget.catalog")
        for t in targets
        if t.startswith(("budget.report", "budget.fit", "budget.cli"))
    }
    assert upward == set()


def test_no_command_of_the_budget_cli_imports_another() -> None:
    """Each command calls the library; what two commands share lives there or in budget.cli's option
    modules, never in one command imported by another (``report`` once took ``check``'s and ``fit``'s)."""
    from budget.cli.parser import COMMANDS

    commands = {c.module for c in COMMANDS}
    edges = graph()
    assert commands <= set(edges)
    sideways = {(m, t) for m in commands for t in edges[m] if t in commands}
    assert sideways == set()
