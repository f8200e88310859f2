"""STARS real-time runtime: durable WebSocket fan-out across servers through Redis pub/sub."""
