"""asyncio client for the STARS real-time runtime (runtime/README.md, "Client behaviour")."""

from stars_client.client import EVENTS, Client
from stars_client.errors import StarsError

__all__ = ["EVENTS", "Client", "StarsError"]
__version__ = "0.1.0"
