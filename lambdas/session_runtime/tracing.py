"""X-Ray tracing through the SDK only when it is wanted; otherwise nothing of it is imported.

Powertools' `Tracer()` imports the X-Ray SDK even when tracing is disabled: about a third of a handler's
import time (`python -m bench coldstart`). Every function runs with Lambda's active tracing
(infra/functions.py), which records each invocation and its init phase without any SDK. The SDK adds a
subsegment per AWS call and the handlers' annotations; it is built only when `sdk_tracing_enabled()`
(POWERTOOLS_TRACE_DISABLED false, inside Lambda). Management API posts get no subsegment of their own: a
fan-out to N listeners would record N of them, and their CPU grows with N.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

from session_schema.settings import sdk_tracing_enabled

Handler = TypeVar("Handler", bound=Callable[..., Any])

# botocore endpoint prefixes whose calls are not traced one by one: `execute-api` is the management API
# (post_to_connection, delete_connection); `xray` is the SDK's own sampling and segment calls.
UNTRACED_SERVICES = frozenset({"execute-api", "xray"})


class Tracing:
    """The part of Powertools' Tracer the handlers use; a no-op without a tracer."""

    def __init__(self, tracer: Any = None) -> None:
        self._tracer = tracer

    @property
    def enabled(self) -> bool:
        return self._tracer is not None

    def capture_lambda_handler(self, handler: Handler) -> Handler:
        if self._tracer is None:
            return handler
        traced: Handler = self._tracer.capture_lambda_handler(handler)
        return traced

    def put_annotation(self, key: str, value: str | int | float | bool) -> None:
        if self._tracer is not None:
            self._tracer.put_annotation(key=key, value=value)

    @contextmanager
    def subsegment(self, name: str) -> Iterator[None]:
        """An X-Ray subsegment `## <name>` around a block when tracing is on; nothing at all when it is off."""
        if self._tracer is None:
            yield
            return
        with self._tracer.provider.in_subsegment(name=f"## {name}"):
            yield


def build_tracing(environ: Mapping[str, str] | None = None) -> Tracing:
    if not sdk_tracing_enabled(environ):
        return Tracing()
    from aws_lambda_powertools import Tracer

    tracer = Tracer(auto_patch=False)  # patch_all would also trace http.client: every post, once more
    _trace_aws_calls()
    return Tracing(tracer)


def _trace_aws_calls() -> None:
    """The SDK's botocore patch (a subsegment per call, the trace header on each request), minus
    UNTRACED_SERVICES. Sets the SDK's own marker, so a later `patch(["botocore"])` does not wrap twice."""
    import botocore.client
    import wrapt
    from aws_xray_sdk.core import xray_recorder
    from aws_xray_sdk.ext.boto_utils import aws_meta_processor, inject_header

    if getattr(botocore.client, "_xray_enabled", False):
        return
    botocore.client._xray_enabled = True

    def traced_call(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        service = instance.meta.service_model.endpoint_prefix
        if service in UNTRACED_SERVICES:
            return wrapped(*args, **kwargs)
        return xray_recorder.record_subsegment(
            wrapped, instance, args, kwargs, name=service, namespace="aws", meta_processor=aws_meta_processor
        )

    wrapt.wrap_function_wrapper("botocore.client", "BaseClient._make_api_call", traced_call)
    wrapt.wrap_function_wrapper("botocore.endpoint", "Endpoint.prepare_request", inject_header)
