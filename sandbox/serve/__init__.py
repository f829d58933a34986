"""The request path: ASGI shell, gates, replies, journal. Reads the snapshot, never builds it."""
