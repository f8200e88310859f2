"""``python -m policy.configure --stack phase1``: the pack config for one of this project's stacks.

The limit, warning level, rate, override and usage of a STARS stack live in its stack file
(``stars:budget``, ``stars:usage``); this writes them as the pack config ``--policy-pack-config`` takes, so
the pack and ``python -m budget check`` judge a stack against the same figures and the figures have one
home. Stacks of other projects get their config from whoever applies the pack (see policy/README.md).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from budget.exit_codes import ExitCode
from components.config import ConfigError, StackConfig, parse_stack_config, read_stack_file
from policy.budget_policy import DEMAND_KEY, PLACEMENT_KEY, POLICY_NAME, USAGE_KEY, WARNING_POLICY_NAME

ROOT = Path(__file__).resolve().parents[1]


def budget_block(cfg: StackConfig) -> dict[str, Any]:
    """The budget policies' config: ``stars:budget``'s fields, ``stars:usage`` as ``usage``, and what the
    rules need to price as ``budget check`` does: ``stars:demand`` and the servers' placement."""
    budget = cfg.budget.model_dump(mode="json", exclude_none=True)
    block = {**budget, USAGE_KEY: cfg.usage.model_dump(mode="json"), PLACEMENT_KEY: cfg.network.placement}
    if cfg.demand is not None:
        block[DEMAND_KEY] = cfg.demand.model_dump(mode="json")
    return block


def pack_config(cfg: StackConfig) -> dict[str, dict[str, Any]]:
    """The whole ``--policy-pack-config`` document: both budget policies read the same block."""
    block = budget_block(cfg)
    return {POLICY_NAME: block, WARNING_POLICY_NAME: block}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m policy.configure", description=__doc__.split("\n")[0])
    parser.add_argument("--stack", required=True, help="stack name (reads Pulumi.<stack>.yaml)")
    parser.add_argument("--stack-file", type=Path, help="read the stack config from this file instead")
    parser.add_argument("--out", type=Path, help="write the JSON here (default: standard output)")
    args = parser.parse_args(argv)
    path = args.stack_file or ROOT / f"Pulumi.{args.stack}.yaml"
    try:
        cfg = parse_stack_config(args.stack, read_stack_file(path))
    except ConfigError as exc:
        print(f"policy.configure: {exc}", file=sys.stderr)
        return int(ExitCode.INVALID)
    text = json.dumps(pack_config(cfg), indent=2) + "\n"
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return int(ExitCode.OK)


if __name__ == "__main__":
    sys.exit(main())
