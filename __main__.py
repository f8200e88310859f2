"""The STARS Pulumi program: read the stack's config, check its budget, build the tiers, export.

The budget check runs before any resource is registered: over budget (without the owner's override) or
anything unpriced, and ``pulumi preview``/``up`` fail with the report and change nothing.
"""

import pulumi

from budget.guard import enforce_budget
from components.ami import is_real_update
from components.config import load_from_pulumi
from components.stack import build_stack

cfg = load_from_pulumi()
verdict = enforce_budget(cfg)
if is_real_update() and cfg.image.looked_up is None:
    # Placeholder image ids were never looked up: refuse to launch servers from them.
    raise pulumi.RunError(
        f"stars:image.ids were never looked up (looked_up: null): run python -m components.ami"
        f" --stack {cfg.stack} --write and commit the result before pulumi up"
    )
outputs = build_stack(cfg)
for key, value in outputs.items():
    pulumi.export(key, value)
pulumi.export("budget_status", verdict.status)
pulumi.export("budget_monthly_tzs_max", verdict.total_tzs)
if verdict.override_reason is not None:
    pulumi.export("budget_override_reason", verdict.override_reason)
