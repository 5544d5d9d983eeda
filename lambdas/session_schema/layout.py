"""How a session's items that take load in proportion to its size are spread, sized from its `maxListeners` at
creation and never changed: its seats over seat shards (`SEATS#<id>#<k>`), so that no single item absorbs the
joins (each shard holds its share of `maxListeners`; a join claims a seat on one shard in its transaction), and its
connection items over connection partitions (`CONNS#<id>#<p>`), so that no partition key serves a whole fan-out's
reads.

Seats, why these numbers: a join's transaction writes its seat shard (2 write units per item-KB, transactional), and one
item absorbs at most 1,000 write units a second, so a shard takes at most ~500 joins a second; API Gateway admits
500 new connections a second per account and Region by default. A session of up to SEATS_PER_SHARD listeners
keeps its seats on the session item (one write per join is well inside what that item absorbs at such sizes);
larger ones get one shard per SEATS_PER_SHARD seats, at most MAX_SEAT_SHARDS (an end closes every shard in its
one transaction, which holds at most 100 actions).

Partitions, why: every broadcast Queries every connection item of the session (DynamoDB bills a Query by whole
items: about 200 bytes each, 4 KB per read unit strongly consistent), and one partition key value serves at most
3,000 read units a second. LISTENERS_PER_PARTITION keeps a partition's share of a broadcast around 250 read units
(est.), so a captions stream of several broadcasts a second stays under that ceiling at any session size.
"""

from __future__ import annotations

import hashlib
import math

SEATS_PER_SHARD = 1000
MAX_SEAT_SHARDS = 32
LISTENERS_PER_PARTITION = 5000
MAX_CONNECTION_PARTITIONS = 64


def connection_partitions_for(max_listeners: int) -> int:
    """How many partition keys a session of `max_listeners` spreads its connection items over."""
    return max(1, min(MAX_CONNECTION_PARTITIONS, math.ceil(max_listeners / LISTENERS_PER_PARTITION)))


def seat_shards_for(max_listeners: int) -> int:
    """How many seat shards a session of `max_listeners` gets (0: its seats stay on the session item)."""
    if max_listeners <= SEATS_PER_SHARD:
        return 0
    return min(MAX_SEAT_SHARDS, math.ceil(max_listeners / SEATS_PER_SHARD))


def capacities(max_listeners: int, shards: int) -> list[int]:
    """Each shard's share of the seats: they add up to `max_listeners` exactly (so `maxListeners` stays exact)."""
    if shards < 1:
        raise ValueError("at least one shard")
    share, extra = divmod(max_listeners, shards)
    return [share + (1 if k < extra else 0) for k in range(shards)]


def try_order(connection_id: str, shards: int) -> list[int]:
    """The shards a join tries, in order: its hashed shard first (joins spread evenly), then the next ones."""
    first = int.from_bytes(hashlib.sha256(b"seat:" + connection_id.encode()).digest()[:4], "big") % shards
    return [(first + step) % shards for step in range(shards)]
