"""The STARS policy pack, as the Pulumi CLI runs it (``pulumi preview --policy-pack policy``).

The CLI runs this directory with Python: it serves the pack over gRPC until the engine stops it. The
policies import the budget and components packages, which sit one level up in the repository, or beside
this file in a bundle made for ``pulumi policy publish`` (``python -m policy.bundle``).
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE if (HERE / "budget").is_dir() else HERE.parent
sys.path.insert(0, str(ROOT))

from pulumi_policy import PolicyPack  # noqa: E402

from policy.pack import DEFAULT_ENFORCEMENT, DESCRIPTION, PACK_NAME, policies  # noqa: E402

PolicyPack(
    name=PACK_NAME,
    description=DESCRIPTION,
    enforcement_level=DEFAULT_ENFORCEMENT,
    policies=policies(),
)
