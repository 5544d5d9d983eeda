"""DynamoDB items as hypothesis draws them, for the tests of the local stack's moto patches: every
attribute type (strings, numbers in several spellings, binary, the three sets, lists, maps, booleans,
null), in a few partitions whose sort keys key conditions often match."""

from __future__ import annotations

from hypothesis import strategies as st

# Few enough that key conditions match.
keys = st.sampled_from(["a", "aa", "ab", "a#b", "b", "ba", "bb", "b#", "#", "#a", "CONN#x", "CONN#y"])
numbers = st.one_of(st.integers(-1000, 1000).map(str), st.sampled_from(["0.5", "-2.25", "10.0", "1e2", "007"]))
scalars = st.one_of(
    st.builds(lambda s: {"S": s}, st.text(max_size=6)),
    st.builds(lambda n: {"N": n}, numbers),
    st.builds(lambda b: {"B": b}, st.binary(max_size=6)),
    st.builds(lambda b: {"BOOL": b}, st.booleans()),
    st.just({"NULL": True}),
    st.builds(lambda s: {"SS": sorted(s)}, st.sets(st.text(min_size=1, max_size=4), min_size=1, max_size=3)),
    st.builds(lambda s: {"NS": sorted(s)}, st.sets(st.integers(-50, 50).map(str), min_size=1, max_size=3)),
    st.builds(lambda s: {"BS": sorted(s)}, st.sets(st.binary(min_size=1, max_size=3), min_size=1, max_size=3)),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.builds(lambda items: {"L": items}, st.lists(inner, max_size=3)),
        st.builds(lambda m: {"M": m}, st.dictionaries(st.sampled_from(["role", "x", "y"]), inner, max_size=3)),
    ),
    max_leaves=6,
)
# A connection's role as stored (a string), or anything: strings, booleans and numbers are projected without moto's
# round trip through plain Python (local/dynamodb/moto_query.py), everything else through it.
roles = st.one_of(
    st.sampled_from(["listener", "speaker"]).map(lambda r: {"S": r}), st.booleans().map(lambda b: {"BOOL": b}), values
)
# Any value under these names; `Data` always a map and `tags` a list (a projection into a value of another
# type makes moto raise, on both sides alike: a few such cases come from `values` nested in them).
attributes = st.fixed_dictionaries(
    {},
    optional={
        "a": values,
        "b": values,
        "role": roles,
        "Data": st.builds(
            lambda m: {"M": m}, st.fixed_dictionaries({}, optional={"role": roles, "x": values, "y": values})
        ),
        "tags": st.builds(lambda items: {"L": items}, st.lists(values, max_size=3)),
    },
)
items = st.lists(
    st.builds(
        lambda pk, sk, attrs: {"PK": {"S": pk}, "SK": {"S": sk}, **attrs},
        st.sampled_from(["p0", "p0", "p1"]),
        keys,
        attributes,
    ),
    min_size=8,
    max_size=30,
    unique_by=lambda item: (item["PK"]["S"], item["SK"]["S"]),
)
