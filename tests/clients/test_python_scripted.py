"""The Python client against the scripted server of tests/clients/scripted_cases.json: order, gaps, duplicates,
resets, refusals, batches, `missing`, CONNECTION_NOT_FOUND, API Gateway's integration-error frame. The
TypeScript client's suite runs the same table, so the two clients keep one behaviour (clients/PROTOCOL_NOTES.md)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.clients.scripted_server import TABLE, run_case


@pytest.mark.parametrize("case", TABLE["cases"], ids=[case["name"] for case in TABLE["cases"]])
def test_scripted_case(case: dict[str, Any]) -> None:
    server, saw = asyncio.run(run_case(case))
    expect = case["expect"]
    assert server.problems == []
    if "delivered" in expect:
        assert saw.delivered == expect["delivered"]
    assert saw.resets == expect.get("resets", 0)
    if "closed" in expect:
        assert saw.closed == expect["closed"]
    else:
        assert not saw.closed_by_itself, f"the client closed: {saw.closed} ({saw.states[-1]})"
    if "handshakes" in expect:
        assert len(server.queries) == expect["handshakes"]
    for name, value in expect.get("query", {}).items():
        assert server.queries[0].get(name) == value, name
    if "tokens" in expect:
        assert [query.get("token") for query in server.queries] == expect["tokens"]
    if "minRetryDelay" in expect:
        first_retry = next(change.retry_in for change in saw.states if change.retry_in is not None)
        assert first_retry >= expect["minRetryDelay"]
    for action, count in expect.get("sent", {}).items():
        assert server.sent[action] == count, action
    for spec, outcome, value in saw.call_results:
        if "raises" in spec:
            assert (outcome, value) == ("raised", spec["raises"]), spec["call"]
        elif isinstance(spec["returns"], dict):
            assert outcome == "returned" and spec["returns"].items() <= value.items(), (spec["call"], value)
        else:
            assert (outcome, value) == ("returned", spec["returns"]), spec["call"]
    assert len(saw.call_results) == len(case.get("app", {}).get("calls", []))
    if "stateErrors" in expect:
        assert saw.state_errors == expect["stateErrors"], saw.states
    if "pushed" in expect:
        assert len(saw.pushed) == len(expect["pushed"]), saw.pushed
        for fields, frame in zip(expect["pushed"], saw.pushed, strict=True):
            assert fields.items() <= frame.items(), frame
