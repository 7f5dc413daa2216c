"""keyward.aio.Client: the asyncio client (grpc.aio), for FastAPI and other
asyncio code. The same methods, arguments, results and errors as
keyward.Client (they are defined once, in the service mixins); here

  - unary methods return awaitables:    sig = await client.sign("k", b"x")
  - list methods return async iterators: async for key in client.list_keys()
  - read_audit_log returns an async iterator (aclose() or break cancels it)
  - create_backup/restore_backup return awaitables.

Coalescing (on by default; coalesce=False turns it off): sign, verify,
encrypt, decrypt, mac, verify_mac, sign_jwt and verify_jwt calls made
concurrently (and keyward.jwt.encode/decode over them) share one
DataPlaneService.Stream instead of one unary call each; results, errors
and retries are those of the unary calls (see _coalesce.py for the few
differences: a timeout stops the wait, not an item already sent).

Create the client inside the running event loop (e.g. in a FastAPI
lifespan handler) and close it with `await client.close()` or
`async with keyward.aio.Client(...) as client:`.
"""

import asyncio
import time
from typing import Any, AsyncIterator, Awaitable, Callable, Iterable, Optional

import grpc
import grpc.aio

from keyward._access import AccessMixin
from keyward._base import STUBS
from keyward._coalesce import KINDS, Coalescer, StreamUnsupported
from keyward._crypto import CryptoMixin
from keyward._data_plane import DataPlaneMixin
from keyward._jwt import JwtMixin
from keyward._keys import KeysMixin
from keyward._system import SystemMixin
from keyward.errors import KeywardError
from keyward.v1 import data_plane_service_pb2 as data_plane_pb

__all__ = ["Client"]


class Client(CryptoMixin, KeysMixin, AccessMixin, SystemMixin, JwtMixin,
             DataPlaneMixin):
    """An asyncio client of keywardd; arguments as keyward.Client, and
    coalesce (default True): concurrent data-plane calls share a stream.

        async with keyward.aio.Client("unix:///run/keyward/kw.sock") as c:
            sig = await c.sign("release", b"artifact")
    """

    def __init__(self, target: Optional[str] = None, *,
                 coalesce: bool = True, **options: Any) -> None:
        super().__init__(target, **options)
        if self._credentials is not None:
            self._channel = grpc.aio.secure_channel(
                self._grpc_target, self._credentials, self._channel_options)
        else:
            self._channel = grpc.aio.insecure_channel(self._grpc_target,
                                                      self._channel_options)
        self._stubs = {name: stub(self._channel)
                       for name, stub in STUBS.items()}
        # The coalescer writes StreamRequests it serialized itself (bytes).
        stream = self._channel.stream_stream(
            "/keyward.v1.DataPlaneService/Stream",
            request_serializer=None,
            response_deserializer=data_plane_pb.StreamResponse.FromString)
        self._coalescer: Optional[Coalescer] = Coalescer(
            lambda metadata: stream(metadata=metadata)) if coalesce else None

    async def close(self) -> None:
        """Closes the channel; calls in flight are cancelled."""
        if self._coalescer is not None:
            await self._coalescer.close()
        await self._channel.close()

    async def __aenter__(self) -> "Client":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    # --- transport hooks (see _base.py) ---

    async def _unary(self, service: str, method: str, request: Any,
                     convert: Callable[[Any], Any], *, idempotent: bool,
                     timeout: Optional[float] = None) -> Any:
        deadline = self._deadline(timeout)
        for attempt in range(1, self.retry.max_attempts + 1):
            remaining = max(deadline - time.monotonic(), 0.001)
            coalescer = self._coalescer
            try:
                if coalescer is not None and (service, method) in KINDS:
                    response = await coalescer.call(
                        service, method, request, self._metadata(),
                        remaining)
                else:
                    response = await getattr(self._stubs[service], method)(
                        request, metadata=self._metadata(), timeout=remaining)
            except grpc.RpcError as e:
                failure = self._error(e, service, method)
            except StreamUnsupported:
                self._coalescer = None  # an older daemon: unary from now on
                return await self._unary(
                    service, method, request, convert, idempotent=idempotent,
                    timeout=max(deadline - time.monotonic(), 0.001))
            except KeywardError as e:  # an item's or the stream's status
                failure = e
            else:
                return convert(response)
            await asyncio.sleep(
                self._retry_pause(failure, idempotent, attempt, deadline))
        raise AssertionError("unreachable: _retry_pause raises at the end")

    async def _pages(self, service: str, method: str, request: Any,
                     field: str, timeout: Optional[float] = None
                     ) -> AsyncIterator[Any]:
        seen: set = set()
        page = await self._unary(service, method, request, lambda r: r,
                                 idempotent=True, timeout=timeout)
        for item in getattr(page, field):
            yield item
        while self._next_page(request, page, seen):
            page = await self._unary(service, method, request, lambda r: r,
                                     idempotent=True, timeout=timeout)
            for item in getattr(page, field):
                yield item

    async def _server_stream(self, service: str, method: str, request: Any,
                             deadline: Optional[float]) -> AsyncIterator[Any]:
        call = getattr(self._stubs[service], method)(
            request, metadata=self._metadata(),
            timeout=None if deadline is None else deadline - time.monotonic())
        try:
            async for message in call:
                yield message
        except grpc.RpcError as e:
            raise self._error(e, service, method) from None
        finally:
            call.cancel()

    async def _client_stream(self, service: str, method: str,
                             requests: Iterable[Any],
                             convert: Callable[[Any], Any],
                             deadline: Optional[float]) -> Any:
        remaining = None if deadline is None else deadline - time.monotonic()
        call = getattr(self._stubs[service], method)(
            iter(requests), metadata=self._metadata(), timeout=remaining)
        try:
            return convert(await call)
        except grpc.RpcError as e:
            raise self._error(e, service, method) from None

    async def _then(self, result: Awaitable[Any],
                    fn: Callable[[Any], Any]) -> Any:
        return fn(await result)

    async def _flatten(self, stream: AsyncIterator[Any], field: str
                       ) -> AsyncIterator[Any]:
        try:
            async for message in stream:
                for item in getattr(message, field):
                    yield item
        finally:
            await stream.aclose()  # type: ignore[attr-defined]

    async def _drain(self, stream: AsyncIterator[Any],
                     on_message: Callable[[Any], None],
                     finish: Callable[[], Any]) -> Any:
        try:
            async for message in stream:
                on_message(message)
        finally:
            await stream.aclose()  # type: ignore[attr-defined]
        return finish()
