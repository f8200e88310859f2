"""The suite's xdist scheduling (tests/scheduling.py): a file's tests share a worker, the whole searches
spread, the longest files go first."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

from tests.scheduling import FIRST, SPREAD, first_rank, scope_of

ROOT = Path(__file__).resolve().parents[1]


def test_a_file_is_one_scope_and_a_spread_file_one_per_test() -> None:
    assert scope_of("tests/boot/test_boot.py::test_a_bad_boot[corrupt artifact]") == "tests/boot/test_boot.py"
    assert scope_of("tests/runtime/test_runtime_fanout.py::test_x") == "tests/runtime/test_runtime_fanout.py"
    spread = "tests/budget/test_fit_cli.py::test_write_puts_a_fitting_plan_into_the_stack_file"
    assert scope_of(spread) == spread
    assert (
        scope_of("tests/bench/test_bench_smoke.py::test_floor")
        == "tests/bench/test_bench_smoke.py::test_floor"
    )
    assert all(Path(ROOT, p.rstrip("/")).exists() for p in SPREAD + FIRST)


def test_the_longest_files_rank_first_in_their_order() -> None:
    ranks = [first_rank(f"{path}::test") for path in FIRST]
    assert ranks == sorted(ranks) == list(range(len(FIRST)))
    assert first_rank("tests/infra/test_config.py::test_x") == len(FIRST)


def test_make_tests_dist_keeps_a_files_tests_on_one_worker(tmp_path: Path) -> None:
    """Under pytest 9, xdist's own ``--dist loadgroup`` scheduled every test on its own (its group suffix
    is written where pytest no longer reads it); with the project's scheduler each file stays whole."""
    (tmp_path / "conftest.py").write_text(
        "from tests.scheduling import FilesTogether\n\n"
        "def pytest_xdist_make_scheduler(config, log):\n"
        "    return FilesTogether(config, log)\n"
    )
    for name in ("a", "b", "c"):
        tests = "".join(f"def test_{i}():\n    pass\n\n" for i in range(6))
        (tmp_path / f"test_{name}.py").write_text(tests)
    ran = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "3", "--dist", "loadgroup", "-v", "-p", "no:cacheprovider"],
        cwd=tmp_path,
        # the run's own options (PYTEST_ADDOPTS: a --basetemp, say) are not the small project's
        env={**{k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    workers: dict[str, set[str]] = defaultdict(set)
    for worker, name in re.findall(r"\[(gw\d+)\] \[\s*\d+%\] PASSED (test_\w+)\.py::", ran.stdout):
        workers[name].add(worker)
    assert sorted(workers) == ["test_a", "test_b", "test_c"]
    assert all(len(w) == 1 for w in workers.values()), dict(workers)
