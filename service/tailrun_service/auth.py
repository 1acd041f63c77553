"""Tokens: the service token, run-scoped tokens, and the interceptor that checks them.

With `tailrun server --token T`, every RPC except the grpc.health.v1 ones needs the metadata
`authorization: Bearer T`. A submitted run gets a run-scoped token `run.<run_id>.<hmac hex>`
derived from T, so the service can check it without storing anything; it may read everything,
but write only its own run and the runs it starts as children (see `RunScope`).
"""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import grpc

RUN_TOKEN_PREFIX = "run."
# Principals, as the store records them per writer (the one that first wrote it owns it).
ADMIN_PRINCIPAL = "admin"          # the service token, or no token configured: may use any writer
SERVICE_PRINCIPAL = "service"      # the service's own in-process writers (runner:..., liveness:...)
_HEALTH_PREFIX = "/grpc.health.v1."
_BEARER = "bearer "
# RPCs a run-scoped token may never call (SubmitRun/CancelRun are checked per run by the servicer).
_SERVICE_ONLY = frozenset({"/tailrun.v1.Tracker/SetExperimentArchived"})


def run_token(service_token: str, run_id: str) -> str:
    """The token a submitted run gets: it proves the service issued it for exactly this run."""
    digest = hmac.new(service_token.encode(), run_id.encode(), hashlib.sha256).hexdigest()
    return f"{RUN_TOKEN_PREFIX}{run_id}.{digest}"


def parse_run_token(service_token: str, presented: str) -> str | None:
    """The run id of a valid run-scoped token, else None (constant-time comparison)."""
    if not presented.startswith(RUN_TOKEN_PREFIX):
        return None
    run_id, _, digest = presented[len(RUN_TOKEN_PREFIX):].rpartition(".")
    if not run_id or not digest:
        return None
    expected = run_token(service_token, run_id)
    return run_id if hmac.compare_digest(expected.encode(), presented.encode()) else None


@dataclass(frozen=True)
class Caller:
    """Who is calling: `run_id` None means full access (the service token, or no token configured)."""
    run_id: str | None = None

    @property
    def is_run_scoped(self) -> bool:
        return self.run_id is not None

    @property
    def principal(self) -> str:
        """Who owns the writers this caller starts: "admin" or "run:<run_id>"."""
        return run_principal(self.run_id) if self.run_id is not None else ADMIN_PRINCIPAL


def run_principal(run_id: str) -> str:
    return f"run:{run_id}"


FULL_ACCESS = Caller()
NOBODY = Caller(run_id="")


class TokenAuth:
    """Checks presented metadata against the service token (None = no authentication)."""

    def __init__(self, token: str | None) -> None:
        self.token = token or None

    def caller(self, metadata: Iterable[tuple[str, Any]] | None) -> Caller | None:
        """The caller for this call's metadata, or None when it must be refused."""
        if self.token is None:
            return FULL_ACCESS
        presented = _bearer(metadata)
        if presented is None:
            return None
        if hmac.compare_digest(presented.encode(), self.token.encode()):
            return FULL_ACCESS
        run_id = parse_run_token(self.token, presented)
        return Caller(run_id) if run_id else None

    def caller_of(self, context: grpc.ServicerContext) -> Caller:
        """The caller of an RPC that the interceptor already let through."""
        caller = self.caller(context.invocation_metadata())
        # Only reachable without the interceptor: such a caller may read but writes nothing.
        return caller if caller is not None else NOBODY


def _bearer(metadata: Iterable[tuple[str, Any]] | None) -> str | None:
    for key, value in metadata or ():
        if key.lower() != "authorization":
            continue
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if value[:len(_BEARER)].lower() == _BEARER:
            return value[len(_BEARER):].strip()
    return None


class AuthInterceptor(grpc.aio.ServerInterceptor):
    """Refuses calls without a valid token (UNAUTHENTICATED) and service-only RPCs made with a
    run-scoped token (PERMISSION_DENIED). Health checks need no token. For grpc's asyncio server."""

    def __init__(self, auth: TokenAuth) -> None:
        self.auth = auth

    async def intercept_service(self, continuation: Callable, handler_call_details: grpc.HandlerCallDetails):
        method = handler_call_details.method or ""
        handler = await continuation(handler_call_details)
        if handler is None or method.startswith(_HEALTH_PREFIX):
            return handler
        caller = self.auth.caller(handler_call_details.invocation_metadata)
        if caller is None:
            return _refusing(handler, grpc.StatusCode.UNAUTHENTICATED, "missing or wrong token")
        if caller.is_run_scoped and method in _SERVICE_ONLY:
            return _refusing(handler, grpc.StatusCode.PERMISSION_DENIED,
                             f"a run-scoped token may not call {method.rsplit('/', 1)[-1]}")
        return handler


def _refusing(handler: grpc.RpcMethodHandler, code: grpc.StatusCode, message: str) -> grpc.RpcMethodHandler:
    """A handler of the same shape as `handler` that aborts with `code` (before reading a request)."""
    async def refuse(_request: Any, context: grpc.aio.ServicerContext) -> Any:
        await context.abort(code, message)

    kwargs = {"request_deserializer": handler.request_deserializer,
              "response_serializer": handler.response_serializer}
    if handler.request_streaming and handler.response_streaming:
        return grpc.stream_stream_rpc_method_handler(refuse, **kwargs)
    if handler.request_streaming:
        return grpc.stream_unary_rpc_method_handler(refuse, **kwargs)
    if handler.response_streaming:
        return grpc.unary_stream_rpc_method_handler(refuse, **kwargs)
    return grpc.unary_unary_rpc_method_handler(refuse, **kwargs)


def event_run_id(event: Any) -> str:
    """The run an ingest event writes to ("" for an ExperimentEnsure)."""
    kind = event.WhichOneof("kind")
    return getattr(getattr(event, kind), "run_id", "") if kind else ""


@dataclass
class RunScope:
    """What a run-scoped caller may write: its own run and every run below it.

    `parent_of(run_id)` returns a run's parent id ("" for a top-level run) or None when the run
    does not exist. Call `prepare(events)` before `Store.apply_batch`, so that the `allows_event`
    callback, which runs inside the store's transaction, answers from memory.
    """
    own_run_id: str
    parent_of: Callable[[str], str | None]
    max_depth: int = 64
    _parents: dict[str, str | None] = field(default_factory=dict)
    _inside: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._inside.add(self.own_run_id)

    def _parent(self, run_id: str) -> str | None:
        if run_id not in self._parents:
            self._parents[run_id] = self.parent_of(run_id)
        return self._parents[run_id]

    def contains(self, run_id: str) -> bool:
        """True when `run_id` is the own run or one of its (existing or just started) descendants."""
        chain: list[str] = []
        current: str | None = run_id
        while current and len(chain) < self.max_depth:
            if current in self._inside:
                self._inside.update(chain)
                return True
            chain.append(current)
            current = self._parent(current)
        return False

    def prepare(self, events: Iterable[Any]) -> None:
        """Look up, outside the store's transaction, every run a batch touches."""
        for event in events:
            run_id = event_run_id(event)
            if run_id:
                self.contains(run_id)
            if event.WhichOneof("kind") == "start" and event.start.parent_run_id:
                self.contains(event.start.parent_run_id)

    def allows_event(self, run_id: str, event: Any) -> bool:
        """The `allowed` callback of Store.apply_batch."""
        kind = event.WhichOneof("kind")
        if kind == "experiment":
            return True
        run_id = run_id or event_run_id(event)
        if kind == "start" and self._parent(run_id) is None and run_id not in self._inside:
            # A new run: allowed when its declared parent is inside the scope.
            parent = event.start.parent_run_id
            if parent and self.contains(parent):
                self._inside.add(run_id)
                return True
            return False
        return self.contains(run_id)
