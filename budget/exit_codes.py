"""The exit codes every budget command shares: ``check``, ``fit``, ``diff``, ``comment``, ``report``.

Scripts and CI steps depend on them, so they are defined once.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    #: within budget (a warning is allowed), over with the owner's override, or a command that succeeded
    OK = 0
    #: a budget policy fails: over the limit (``check``), no fitting plan (``fit``), a PR policy (``diff``)
    OVER = 1
    #: bad input (stack config, preview, report, catalog), anything unpriced, or a service unreachable
    INVALID = 2
