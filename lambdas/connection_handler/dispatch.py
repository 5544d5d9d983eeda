"""The dispatch table of WebSocket actions: one decorated function per declared action (Powertools' WebSocket
resolver's model), keyed by the frame model the action is declared on (session_protocol/registry.py).

Which actions exist, who may send them and what answers them is the registry's; this only binds each to the
function that performs it, and says which declared action has none (`check_complete`, at import).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from session_protocol.registry import ActionRegistry, ActionSpec, action_name
from session_runtime.runtime import Runtime

Answer = dict[str, Any]
CallerT = TypeVar("CallerT")
FrameT = TypeVar("FrameT", bound=BaseModel)
# An action run for a caller (its connection record, read first); None: it answered on the connection itself.
Handler = Callable[[Runtime, CallerT, Any], Answer | None]
# An action that needs no connection record (no table read: `ping`).
Connectionless = Callable[[Runtime, Any], Answer]
# The same two, typed by their frame (what the decorators take).
Performs = Callable[[Runtime, CallerT, FrameT], Answer | None]
Answers = Callable[[Runtime, FrameT], Answer]


class Dispatch(Generic[CallerT]):
    def __init__(self, actions: ActionRegistry) -> None:
        self.actions = actions
        self._handlers: dict[str, Handler[CallerT]] = {}
        self._connectionless: dict[str, Connectionless] = {}

    def _bind(self, frame: type[BaseModel]) -> str:
        name = action_name(frame)
        if self.actions.get(name) is None:
            raise ValueError(f"action {name!r} is not declared (session_protocol/frames.py `@ws_action`)")
        if name in self._handlers or name in self._connectionless:
            raise ValueError(f"action {name!r} has two handlers")
        return name

    def action(self, frame: type[FrameT]) -> Callable[[Performs[CallerT, FrameT]], Performs[CallerT, FrameT]]:
        """Decorate the function that performs the action declared on `frame`, for its caller."""

        def bound(function: Performs[CallerT, FrameT]) -> Performs[CallerT, FrameT]:
            self._handlers[self._bind(frame)] = function
            return function

        return bound

    def without_connection(self, frame: type[FrameT]) -> Callable[[Answers[FrameT]], Answers[FrameT]]:
        """Decorate the function of an action that reads no connection record (answered at no table cost)."""

        def bound(function: Answers[FrameT]) -> Answers[FrameT]:
            self._connectionless[self._bind(frame)] = function
            return function

        return bound

    def copy(self, actions: ActionRegistry) -> Dispatch[CallerT]:
        """This table for a registry that extends this one's (tests add an action so)."""
        twin: Dispatch[CallerT] = Dispatch(actions)
        twin._handlers = dict(self._handlers)
        twin._connectionless = dict(self._connectionless)
        return twin

    def spec(self, frame: BaseModel) -> ActionSpec:
        return self.actions.of_frame(type(frame))

    def connectionless(self, name: str) -> Connectionless | None:
        return self._connectionless.get(name)

    def handler(self, name: str) -> Handler[CallerT]:
        return self._handlers[name]

    def missing(self) -> list[str]:
        """Declared actions with no function to perform them."""
        return [name for name in self.actions.names if name not in self._handlers and name not in self._connectionless]

    def check_complete(self) -> None:
        missing = self.missing()
        if missing:
            raise RuntimeError(f"declared actions without a handler: {', '.join(missing)}")
