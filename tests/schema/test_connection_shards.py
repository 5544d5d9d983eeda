"""A session's connections split into shards by SK range: every connection ID, API Gateway's or not,
is in exactly one shard of n, and API Gateway's (uniform first character) spread evenly."""

from __future__ import annotations

import base64
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from session_schema import keys

ids = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=20) | st.builds(
    lambda raw: base64.b64encode(raw).decode(), st.binary(min_size=11, max_size=11)
)


@given(ids, st.integers(min_value=1, max_value=keys.MAX_CONNECTION_SHARDS), st.sampled_from([None, "es", "pt-br"]))
def test_every_connection_is_in_exactly_one_shard(connection_id, shards, channel):
    for sk, prefix in (
        (keys.legacy_connection_key("quiet-river-482", connection_id)[keys.SK], keys.CONN_PREFIX),
        (keys.connection_key("quiet-river-482", connection_id, channel, 0)[keys.SK], keys.channel_prefix(channel)),
    ):
        owners = []
        for shard in range(shards):
            low, high = keys.shard_range(prefix, shard, shards)
            if low <= sk < high:
                owners.append(shard)
        assert len(owners) == 1


def test_api_gateway_ids_spread_evenly():
    shards = 8
    counts = [0] * shards
    for _ in range(8000):
        sk = keys.connection_key("s", base64.b64encode(os.urandom(11)).decode(), "es", 0)[keys.SK]
        counts[next(k for k in range(shards) if sk < keys.shard_range(keys.channel_prefix("es"), k, shards)[1])] += 1
    assert max(counts) < 1.25 * min(counts)


def test_shard_numbers_are_checked():
    for shard, shards in ((0, 0), (2, 2), (-1, 3), (0, keys.MAX_CONNECTION_SHARDS + 1)):
        with pytest.raises(ValueError):
            keys.connection_shard_range("s", shard, shards)
