"""The status vocabularies and their transitions, exactly as the contract states them."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from session_schema.errors import InvalidTransition
from session_schema.status import ArtifactStatus, SessionStatus, is_joinable, is_legal_transition, require_transition

# Written out from the contract on purpose: the module must agree with the document, not with itself.
CONTRACT_SESSION_MOVES = {("active", "paused"), ("paused", "active"), ("active", "ended"), ("paused", "ended")}
CONTRACT_ARTIFACT_MOVES = {
    ("pending", "processing"),
    ("pending", "completed"),  # a kind with no processor: the upload confirmed (issue 33)
    ("processing", "completed"),
    ("processing", "failed"),
    ("pending", "failed"),
}


def test_vocabularies_are_exactly_the_contracts():
    assert {s.value for s in SessionStatus} == {"active", "paused", "ended"}
    assert {s.value for s in ArtifactStatus} == {"pending", "processing", "completed", "failed"}


@pytest.mark.parametrize(
    "enum, allowed", [(SessionStatus, CONTRACT_SESSION_MOVES), (ArtifactStatus, CONTRACT_ARTIFACT_MOVES)]
)
def test_only_the_contracts_moves_are_legal(enum, allowed):
    for a, b in itertools.product(enum, enum):
        assert is_legal_transition(a, b) == ((a.value, b.value) in allowed), (a, b)


@given(st.sampled_from(SessionStatus), st.sampled_from(SessionStatus))
def test_an_illegal_move_is_refused_naming_both_states(a, b):
    if (a.value, b.value) in CONTRACT_SESSION_MOVES:
        require_transition(a, b)
    else:
        with pytest.raises(InvalidTransition) as refused:
            require_transition(a, b)
        assert (refused.value.current, refused.value.target) == (a.value, b.value)
        assert a.value in refused.value.message and b.value in refused.value.message


def test_ended_is_final_and_completed_failed_are_final():
    assert not any(is_legal_transition(SessionStatus.ENDED, s) for s in SessionStatus)
    for final in (ArtifactStatus.COMPLETED, ArtifactStatus.FAILED):
        assert not any(is_legal_transition(final, s) for s in ArtifactStatus)


def test_kinds_do_not_mix_and_joinable_is_active_or_paused():
    assert not is_legal_transition(SessionStatus.ACTIVE, ArtifactStatus.FAILED)
    assert {s for s in SessionStatus if is_joinable(s)} == {SessionStatus.ACTIVE, SessionStatus.PAUSED}
