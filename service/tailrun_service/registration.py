"""Registers the Tracker on a grpc.aio server with handlers that answer a request that does not
parse INVALID_ARGUMENT naming the message type.

Use `add_to_server`, not the generated `add_TrackerServicer_to_server`: the generated handlers
answer a message that does not parse (random bytes, a string field that is not valid UTF-8) with
grpc's INTERNAL "Exception deserializing request!".
"""
from __future__ import annotations

from typing import Any, AsyncIterator

import grpc
from google.protobuf.message import DecodeError

from tailrun.v1 import tailrun_pb2 as pb
from tailrun.v1 import tailrun_pb2_grpc as pb_grpc

from .errors import InvalidArgument

SERVICE = pb.DESCRIPTOR.services_by_name["Tracker"]


class _Malformed:
    """What the lenient deserializer returns for bytes that are not a valid message."""
    __slots__ = ("message",)

    def __init__(self, type_name: str) -> None:
        self.message = (f"malformed {type_name}: not a valid protobuf message (bad wire format, "
                        f"or a string field that is not valid UTF-8)")


def _lenient_parser(cls: Any) -> Any:
    type_name = cls.DESCRIPTOR.full_name

    def parse(data: bytes) -> Any:
        try:
            return cls.FromString(data)
        except DecodeError:
            return _Malformed(type_name)
    return parse


async def _checked(requests: AsyncIterator[Any]) -> AsyncIterator[Any]:
    """A request stream that raises InvalidArgument (inside the servicer's guard) at a malformed message."""
    async for request in requests:
        if isinstance(request, _Malformed):
            raise InvalidArgument(request.message)
        yield request


def _handler(behavior: Any, client_streaming: bool, server_streaming: bool, request_cls: Any,
             response_cls: Any) -> grpc.RpcMethodHandler:
    """An asyncio handler of the right shape. They must be `async def` functions (or async
    generators): grpc.aio would run anything else on a thread pool."""
    kwargs = {"request_deserializer": _lenient_parser(request_cls),
              "response_serializer": response_cls.SerializeToString}
    if client_streaming and server_streaming:
        async def stream_stream(requests: AsyncIterator[Any], context: grpc.aio.ServicerContext):
            async for response in behavior(_checked(requests), context):
                yield response
        return grpc.stream_stream_rpc_method_handler(stream_stream, **kwargs)
    if client_streaming:
        async def stream_unary(requests: AsyncIterator[Any], context: grpc.aio.ServicerContext) -> Any:
            return await behavior(_checked(requests), context)
        return grpc.stream_unary_rpc_method_handler(stream_unary, **kwargs)
    if server_streaming:
        async def unary_stream(request: Any, context: grpc.aio.ServicerContext):
            if isinstance(request, _Malformed):
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, request.message)
            async for response in behavior(request, context):
                yield response
        return grpc.unary_stream_rpc_method_handler(unary_stream, **kwargs)

    async def unary_unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
        if isinstance(request, _Malformed):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, request.message)
        return await behavior(request, context)
    return grpc.unary_unary_rpc_method_handler(unary_unary, **kwargs)


def add_to_server(tracker: pb_grpc.TrackerServicer, server: grpc.aio.Server) -> None:
    """Register `tracker` on `server` with handlers that answer unparsable requests INVALID_ARGUMENT."""
    handlers = {
        method.name: _handler(getattr(tracker, method.name), method.client_streaming,
                              method.server_streaming, getattr(pb, method.input_type.name),
                              getattr(pb, method.output_type.name))
        for method in SERVICE.methods
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE.full_name, handlers),))
