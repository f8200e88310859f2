"""No function in the project's packages is longer than 80 lines (the developers' guide: "functions under
~80 lines"; issue: split where a name would explain a part).

A function's length is its ``def`` line to its last line, docstring and nested functions included, read
from the syntax tree (so a long string or a formatter's line breaks count as they stand).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("budget", "components", "runtime", "policy", "bench")
MAX_LINES = 80

#: Functions allowed over the limit (``path::qualified name``), each with its reason: none today.
#: An entry that is no longer too long fails the second test below.
ALLOWED: frozenset[str] = frozenset()


Function = ast.FunctionDef | ast.AsyncFunctionDef


def long_functions(source: str, limit: int = MAX_LINES) -> list[tuple[str, int, int]]:
    """``(qualified name, first line, length)`` of every function in ``source`` longer than ``limit``."""
    found: list[tuple[str, int, int]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, Function):
                name = f"{prefix}{child.name}"
                length = (child.end_lineno or child.lineno) - child.lineno + 1
                if length > limit:
                    found.append((name, child.lineno, length))
                visit(child, f"{name}.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            else:
                visit(child, prefix)

    visit(ast.parse(source), "")
    return found


def project_long_functions() -> dict[str, str]:
    """``path::name`` -> ``path:line name (N lines)`` for every too-long function of the packages."""
    out: dict[str, str] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            for name, line, length in long_functions(path.read_text(encoding="utf-8")):
                out[f"{rel}::{name}"] = f"{rel}:{line} {name} ({length} lines)"
    return out


def test_no_function_is_longer_than_80_lines() -> None:
    offenders = sorted(where for key, where in project_long_functions().items() if key not in ALLOWED)
    assert not offenders, f"functions over {MAX_LINES} lines (split them where a name explains a part):\n" + (
        "\n".join(offenders)
    )


def test_the_allow_list_names_only_functions_still_too_long() -> None:
    stale = sorted(ALLOWED - set(project_long_functions()))
    assert not stale, "no longer over the limit (or gone): remove from ALLOWED:\n" + "\n".join(stale)


def _lines(indent: int, n: int) -> str:
    return "".join(f"{' ' * indent}x{i} = {i}\n" for i in range(n))


def test_the_length_is_counted_from_def_to_last_line_nested_ones_apart() -> None:
    assert long_functions("def f():\n" + _lines(4, 79)) == []  # 80 lines: at the limit
    assert long_functions("def f():\n" + _lines(4, 80)) == [("f", 1, 81)]
    method = "class C:\n    async def g(self):\n        def inner():\n            pass\n" + _lines(8, 78)
    assert long_functions(method) == [("C.g", 2, 81)]  # the short nested function is not listed
    nested = "def outer():\n    def inner():\n" + _lines(8, 80)
    assert long_functions(nested) == [("outer", 1, 82), ("outer.inner", 2, 81)]
