"""Results several test files read, computed once per test run however many pytest-xdist workers ask.

Each xdist worker is its own process, so a session fixture runs once per worker: a whole ``fit`` search
(tens of seconds of CPU on this project's 2-core machines) would run in every worker whose tests read it.
The pattern pytest-xdist documents for this: the first worker computes the result under a file lock in
the run's shared temporary folder and writes it as JSON; the others wait on the lock and read the file.
Only deterministic results belong here (commands that read the committed stack files and catalog).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest
from filelock import FileLock


def once_per_run(
    tmp_path_factory: pytest.TempPathFactory, worker_id: str, key: str, compute: Callable[[], Any]
) -> Any:
    """``compute()`` (a JSON value) for ``key``, computed by one worker of this run and read by the rest."""
    if worker_id == "master":  # no xdist: the session fixture's own memo is enough
        return compute()
    shared = tmp_path_factory.getbasetemp().parent  # the run's folder, common to its workers
    name = hashlib.sha256(key.encode()).hexdigest()[:16]
    path = shared / f"once-{name}.json"
    with FileLock(str(path) + ".lock"):
        if path.is_file():
            return json.loads(path.read_text(encoding="utf-8"))
        value = compute()
        path.write_text(json.dumps(value), encoding="utf-8")
        return value
