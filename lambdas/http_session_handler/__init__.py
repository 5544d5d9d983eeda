"""The HTTP API handler: sessions and messages (and artifacts, when its router module is present)."""
