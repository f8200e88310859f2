"""No import circle between the project's modules (issue: "one shape for each concept").

Every ``import x`` / ``from x import y`` in the project's packages counts: at module level, inside a
function, and under ``if TYPE_CHECKING:`` too (a circle of types is still two modules that cannot be
understood, tested or changed one without the other).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("budget", "components", "runtime", "policy", "bench")


def _module(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, root: Path, modules: set[str]) -> set[str]:
    """The project modules ``path`` imports. ``from pkg import sub`` of a submodule is an edge to
    ``pkg.sub`` alone (Python loads the submodule, not a name of ``pkg``'s ``__init__``); ``from pkg
    import name`` of anything else is an edge to ``pkg``, whose ``__init__`` must have defined it."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    this = _module(path, root)
    package = this if path.name == "__init__.py" else this.rpartition(".")[0]
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
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        for name in names:
            # the deepest project module the name refers to
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name and name != this:
                found.add(name)
    return found


def graph(root: Path = ROOT, packages: tuple[str, ...] = PACKAGES) -> dict[str, set[str]]:
    """Every module of ``packages`` under ``root`` and the project modules it imports. Every edge
    counts, a package's ``__init__`` importing its own submodules too: that alone is no circle, but with
    a submodule that imports a name from that ``__init__`` it is one (importing either first finds the
    other half-initialised)."""
    files = [p for pkg in packages for p in (root / pkg).rglob("*.py")]
    modules = {_module(p, root) for p in files}
    return {_module(p, root): _imports(p, root, modules) for p in files}


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


def test_no_import_circle() -> None:
    assert cycles(graph()) == []


def test_the_check_finds_a_circle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def _package(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")


def test_the_check_finds_a_submodule_importing_its_own_init(tmp_path: Path) -> None:
    """A submodule that imports a name of its package's ``__init__``, which imports that submodule, is a
    circle; an ``__init__`` importing its submodules, and submodules importing each other (also as
    ``from pkg import sub`` or ``from . import sub``), are not."""
    _package(
        tmp_path,
        {
            "pkg/__init__.py": "from pkg.a import A\nfrom pkg.b import B\nLIMIT = 1\n",
            "pkg/a.py": "from pkg import b\nfrom . import c\nA = 1\n",
            "pkg/b.py": "from pkg.c import C\nB = 2\n",
            "pkg/c.py": "C = 3\n",
        },
    )
    assert graph(tmp_path, ("pkg",))["pkg.a"] == {"pkg.b", "pkg.c"}
    assert cycles(graph(tmp_path, ("pkg",))) == []
    assert _import_error(tmp_path) == ""
    _package(tmp_path, {"pkg/b.py": "from pkg import LIMIT\nfrom pkg.c import C\nB = LIMIT\n"})
    assert cycles(graph(tmp_path, ("pkg",))) == [["pkg", "pkg.a", "pkg.b"]]  # b -> pkg -> a -> b, pkg -> b
    assert "partially initialized module 'pkg'" in _import_error(tmp_path)  # the circle is real


def _import_error(root: Path) -> str:
    """What importing ``pkg`` from ``root`` in a fresh interpreter writes to stderr."""
    proc = subprocess.run(
        [sys.executable, "-c", "import pkg"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return proc.stderr


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


def _test_tree_imports(path: Path) -> list[int]:
    """Lines of ``path`` that import the test tree (``tests`` or ``tests.*``)."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            names = [node.module or ""]
        else:
            continue
        if any(n == "tests" or n.startswith("tests.") for n in names):
            lines.append(node.lineno)
    return sorted(lines)


def test_no_package_imports_the_test_tree() -> None:
    """Tests import the project, never the other way: what benchmarks share with tests (the Redis,
    PostgreSQL and runtime server processes) lives in bench.servers."""
    files = [p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")]
    offenders = [f"{p.relative_to(ROOT)}:{n}" for p in files for n in _test_tree_imports(p)]
    assert offenders == []


def test_the_check_finds_an_import_of_the_test_tree(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text("import testsuite\ndef f():\n    from tests.servers import free_port\nimport tests\n")
    assert _test_tree_imports(source) == [3, 4]
