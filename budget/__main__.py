"""Entry point of ``python -m budget``."""

import sys

from budget.cli import main

sys.exit(main())
