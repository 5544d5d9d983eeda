"""Shared test helpers: fakes, the handler driver, event builders, the WebSocket client, local-stack
helpers, hypothesis strategies and fault helpers. No tests here."""
