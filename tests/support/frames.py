"""Hypothesis strategies for WebSocket frames a client might send: valid, odd and malformed."""

from __future__ import annotations

import json

from hypothesis import strategies as st

from session_protocol.frames import ACTIONS
from session_schema.routes import WS_ACTIONS


def _answer_types(*, speaker: bool) -> frozenset[str]:
    """What a frame may be answered with: `error`, or a declared answer of an action the role may send (the
    registry's, so a new action's answer is known here the day it is declared)."""
    declared = (answer for spec in ACTIONS if speaker or not spec.speaker_only for answer in spec.answers)
    return frozenset({"error", *(model.model_fields["type"].default for model in declared)})


ANSWERS = _answer_types(speaker=False)  # what a listener may be answered
SPEAKER_ANSWERS = _answer_types(speaker=True)
LISTENER_ERRORS = {"INVALID_ACTION", "VALIDATION_ERROR", "FORBIDDEN"}  # ... and the refusals among them

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=10,
)
actions = st.sampled_from(WS_ACTIONS) | st.text(max_size=12)
action_frames = st.fixed_dictionaries(
    {"action": actions | json_values},
    optional={name: json_values for name in ("data", "text", "since", "limit", "cursor", "sessionId", "seq")},
)
text_frames = st.one_of(
    action_frames.map(json.dumps),
    json_values.map(json.dumps),
    st.text(max_size=200),
    st.sampled_from(
        ['{"action": "join"', '{"action": NaN}', '{"action": Infinity}', "[" * 5000, '{"action":"\\ud800"}', ""]
    ),
)
frames = text_frames | st.binary(max_size=200)
