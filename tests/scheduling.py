"""How ``make test`` spreads the suite over its pytest-xdist workers.

A file's tests run on one worker together, so a module's servers and fixtures (a booted machine, a
Redis, a runtime) start once; the files whose tests are independent whole searches or benchmarks are
spread test by test, since one worker running them one after another would be the run's long pole.
The longest files are handed out first, so none starts last on an otherwise idle machine.

This is xdist's ``loadscope`` scheduling with the scope chosen here from the node id. xdist's own
``--dist loadgroup`` reads groups from an ``@group`` suffix it writes into ``item._nodeid``, which pytest
9 no longer reads (``Node.nodeid`` is built from ``_id``): the marks were there and every test was
scheduled on its own, a booted machine set up on three workers at once.
"""

from __future__ import annotations

from typing import Any

from xdist.scheduler import LoadScopeScheduling

#: Files whose tests are whole fit searches (conftest.py marks them slow too).
WHOLE_SEARCHES = (
    "tests/budget/test_fit_cli.py",
    "tests/budget/test_fit_search.py",
    "tests/budget/test_fit_aurora.py",
    "tests/budget/test_fit_domain.py",
    "tests/budget/test_fit_report.py",
    "tests/budget/test_fit_tls.py",
)
#: Files (or folders) whose tests are spread one by one: whole fit searches and benchmarks, each
#: independent of its neighbours (what they share is computed once per run by ``once_per_run``).
SPREAD = ("tests/bench/", *WHOLE_SEARCHES)

#: Handed out first, longest first (minutes from a cold machine: the boot test builds its root).
FIRST = ("tests/boot/test_boot.py", "tests/bench/test_bench_faults.py", "tests/budget/test_fit_domain.py")


def scope_of(nodeid: str) -> str:
    """The unit a worker takes whole: the test itself in a ``SPREAD`` file, else its file."""
    path = nodeid.split("::", 1)[0]
    return nodeid if path.startswith(SPREAD) else path


def first_rank(nodeid: str) -> int:
    """Where a test's file stands in ``FIRST`` (``len(FIRST)`` when it is not there)."""
    path = nodeid.split("::", 1)[0]
    return FIRST.index(path) if path in FIRST else len(FIRST)


class FilesTogether(LoadScopeScheduling):
    """``loadscope`` with :func:`scope_of` as the scope and the collection's order kept."""

    def __init__(self, config: Any, log: Any = None) -> None:
        super().__init__(config, log)
        # the collection is already ordered (conftest puts FIRST first); xdist would reorder by count
        config.option.loadscopereorder = False

    def _split_scope(self, nodeid: str) -> str:
        return scope_of(nodeid)
