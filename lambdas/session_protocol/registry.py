"""The registry of WebSocket actions: each action declared once, on its frame model, with who may send it,
what answers it, what it costs and the protocol version that introduced it.

Built on the model of Powertools' newer WebSocket resolver (one declaration per route key; not in the pinned
Powertools). The declaration sits on the frame model rather than on the handler function so that this
package, and so `/asyncapi.json` in the HTTP function, needs no handler code. Everything that used to list
the actions by hand is derived from it: the frame parser (frames.parse_frame), the speaker-only set and the
dispatch table (connection_handler/actions.py), the read budget (connection_handler/app.py) and the AsyncAPI
operations (asyncapi.py). The deploy-time route list (session_schema/routes.py `WS_ACTIONS`, which the CDK
stack imports without any of this) is checked equal to it by tests/ws/test_protocol_registry.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar, get_args

from pydantic import BaseModel

if TYPE_CHECKING:
    from .events import Event

FrameT = TypeVar("FrameT", bound=type[BaseModel])


@dataclass(frozen=True)
class ActionSpec:
    name: str  # the route key: the frame model's `action` literal
    frame: type[BaseModel]
    answers: tuple[type[Event], ...]  # its direct answers besides `error` (which any action may get instead)
    speaker_only: bool  # a listener's frame is refused FORBIDDEN
    reads: int  # tokens from the connection's read bucket (session_runtime/budget.py), taken before it runs
    since: int  # the protocol version that introduced it (session_protocol/versions.py)

    @property
    def summary(self) -> str:
        """What it does, in one line: its frame model's docstring."""
        return " ".join((self.frame.__doc__ or "").split())


def action_name(frame: type[BaseModel]) -> str:
    """The `action` literal a frame model declares (`action: Literal["join"]`)."""
    field = frame.model_fields.get("action")
    literal = get_args(field.annotation) if field is not None else ()
    if len(literal) != 1 or not isinstance(literal[0], str):
        raise TypeError(f'{frame.__name__} must declare `action: Literal["<name>"]`')
    return literal[0]


class ActionRegistry:
    def __init__(self) -> None:
        self._specs: dict[str, ActionSpec] = {}
        self._by_frame: dict[type[BaseModel], ActionSpec] = {}

    def declare(
        self,
        frame: type[BaseModel],
        *,
        answers: tuple[type[Event], ...],
        speaker_only: bool = False,
        reads: int = 0,
        since: int = 1,
    ) -> ActionSpec:
        name = action_name(frame)
        if name in self._specs:
            raise ValueError(f"action {name!r} is declared twice")
        if not answers:
            raise ValueError(f"action {name!r} declares no answer")
        spec = ActionSpec(name, frame, answers, speaker_only, reads, since)
        self._specs[name] = spec
        self._by_frame[frame] = spec
        return spec

    def action(
        self,
        *,
        answers: tuple[type[Event], ...],
        speaker_only: bool = False,
        reads: int = 0,
        since: int = 1,
    ) -> Callable[[FrameT], FrameT]:
        """The declaration as a class decorator on the frame model."""

        def declared(frame: FrameT) -> FrameT:
            self.declare(frame, answers=answers, speaker_only=speaker_only, reads=reads, since=since)
            return frame

        return declared

    def copy(self) -> ActionRegistry:
        """A registry with the same declarations, to add to without touching this one (tests)."""
        twin = ActionRegistry()
        twin._specs = dict(self._specs)
        twin._by_frame = dict(self._by_frame)
        return twin

    def __iter__(self) -> Iterator[ActionSpec]:
        return iter(self._specs.values())

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    @property
    def names(self) -> tuple[str, ...]:
        """Every action, in declaration order."""
        return tuple(self._specs)

    @property
    def speaker_only(self) -> frozenset[str]:
        return frozenset(spec.name for spec in self if spec.speaker_only)

    def get(self, name: str) -> ActionSpec | None:
        return self._specs.get(name)

    def of_frame(self, frame: type[BaseModel]) -> ActionSpec:
        return self._by_frame[frame]

    def reads(self, route_key: str) -> int:
        """The read cost of a frame on `route_key`: 0 for one that names no action ($default)."""
        spec = self._specs.get(route_key)
        return spec.reads if spec is not None else 0
