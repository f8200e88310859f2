"""``python -m budget``: one module per command (``check``, ``diff``, ``comment``, ``report``, ``prices``,
``fit``, ``capacity``), each calling the library in this process; :func:`main` is the entry point.

Exit codes, shared by every command (``budget.exit_codes``): 0 fine, 1 over budget (or no fit, or a
failed policy), 2 bad input, anything unpriced, or a service that cannot be reached.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from budget.cli.options import UsageError
from budget.cli.parser import build_parser, command_named


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; its exit code. Contradicting options print the usage and exit 2, as argparse's
    own errors do."""
    args_in = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(command_named(args_in))
    args = parser.parse_args(args_in)
    try:
        return int(args.run(args))
    except UsageError as exc:
        parser.error(str(exc))
