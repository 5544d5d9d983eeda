"""What the contract (shared/contract.md) lists, written out here on purpose rather than read from the models:
a model change that drops or adds a field of a view fails the tests that compare with these."""

import re

PUBLIC_FIELDS = frozenset(
    {"sessionId", "title", "status", "listenerCount", "muted", "createdAt", "maxListeners", "seq", "epoch", "channels"}
)
# `presence` and `reactions`: who hears them (POST/PATCH settings, contract "Presence and reactions"), the owner's.
OWNER_FIELDS = PUBLIC_FIELDS | {
    "ownerId", "sourceLanguage", "speakerConnected", "updatedAt", "endedAt", "presence", "reactions"
}  # fmt: skip

# The `requestId` of an error body and the apigw-requestid header: API Gateway's shape (the local gateways' too).
REQUEST_ID = re.compile(r"^[A-Za-z0-9+/]{15}=$")  # e.g. JKJaXmPLvHcESHA=
