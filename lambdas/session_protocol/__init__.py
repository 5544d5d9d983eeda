"""The WebSocket protocol, one package that both functions import: the client frames (`frames`, each action
declared once on its frame model), the server's events (`events`), how several events share a frame
(`batch`), the protocol versions (`versions`) and the AsyncAPI document built from them (`asyncapi`).

It imports no handler code: the HTTP function serves `/asyncapi.json` from here without loading the
WebSocket handler's package (tests/ws/test_protocol_registry.py).
"""
