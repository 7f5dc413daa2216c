"""keyward.Client: the synchronous client, one gRPC channel to keywardd.

Every RPC of keyward.v1 is a method named by the RPC in snake_case
(Sign -> sign, GetJwks -> get_jwks, WhoAmI -> who_am_i), defined once in
the service mixins (_crypto.py, _keys.py, _access.py, _system.py,
_jwt.py); this module supplies how a call is made: blocking, with a
deadline, the C++ client's retry rule, and KeywardError subclasses in place
of grpc.RpcError. List methods return generators that follow
next_page_token; streams return generators that cancel the call when
closed.

It holds no key material and caches nothing; thread-safe (gRPC channels
are), though login()/set_token() change the token for every thread.
"""

import contextlib
import time
from typing import Any, Callable, Iterable, Iterator, Optional

import grpc

from keyward._access import AccessMixin
from keyward._base import STUBS, DEFAULT_SYSTEM_SOCKET, select_target
from keyward._crypto import CryptoMixin
from keyward._data_plane import DataPlaneMixin
from keyward._jwt import JwtMixin
from keyward._keys import KeysMixin
from keyward._system import SystemMixin
from keyward.errors import KeywardError
from keyward.types import SignResult

__all__ = ["Client", "KeywardError", "SignResult", "DEFAULT_SYSTEM_SOCKET",
           "select_target"]


class Client(CryptoMixin, KeysMixin, AccessMixin, SystemMixin, JwtMixin,
             DataPlaneMixin):
    """A blocking client of keywardd; see ClientBase for the arguments:

        with Client("unix:///run/keyward/keyward.sock") as client:
            sig = client.sign("release", b"artifact")
            assert client.verify("release", b"artifact", sig.signature)
    """

    def __init__(self, target: Optional[str] = None, **options: Any) -> None:
        super().__init__(target, **options)
        if self._credentials is not None:
            self._channel = grpc.secure_channel(
                self._grpc_target, self._credentials, self._channel_options)
        else:
            self._channel = grpc.insecure_channel(self._grpc_target,
                                                  self._channel_options)
        self._stubs = {name: stub(self._channel)
                       for name, stub in STUBS.items()}
        # The raw KeyService stub, kept for tests written against 0.1.
        self._keys = self._stubs["KeyService"]

    def close(self) -> None:
        """Closes the channel; calls in flight are cancelled."""
        self._channel.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # --- transport hooks (see _base.py) ---

    def _unary(self, service: str, method: str, request: Any,
               convert: Callable[[Any], Any], *, idempotent: bool,
               timeout: Optional[float] = None) -> Any:
        call = getattr(self._stubs[service], method)
        deadline = self._deadline(timeout)
        attempt = 1
        while True:
            try:
                response = call(request, metadata=self._metadata(),
                                timeout=max(deadline - time.monotonic(), 0.001))
            except grpc.RpcError as e:
                error = self._error(e, service, method)
            else:
                return convert(response)
            time.sleep(self._retry_pause(error, idempotent, attempt, deadline))
            attempt += 1

    def _pages(self, service: str, method: str, request: Any, field: str,
               timeout: Optional[float] = None) -> Iterator[Any]:
        seen: set = set()
        more = True
        while more:
            page = self._unary(service, method, request, lambda r: r,
                               idempotent=True, timeout=timeout)
            yield from getattr(page, field)
            more = self._next_page(request, page, seen)

    def _server_stream(self, service: str, method: str, request: Any,
                       deadline: Optional[float]) -> Iterator[Any]:
        timeout = None if deadline is None else deadline - time.monotonic()
        call = getattr(self._stubs[service], method)(
            request, metadata=self._metadata(), timeout=timeout)
        try:
            yield from call
        except grpc.RpcError as e:
            raise self._error(e, service, method) from None
        finally:
            call.cancel()

    def _client_stream(self, service: str, method: str,
                       requests: Iterable[Any], convert: Callable[[Any], Any],
                       deadline: Optional[float]) -> Any:
        timeout = None if deadline is None else deadline - time.monotonic()
        try:
            response = getattr(self._stubs[service], method)(
                iter(requests), metadata=self._metadata(), timeout=timeout)
        except grpc.RpcError as e:
            raise self._error(e, service, method) from None
        return convert(response)

    def _then(self, result: Any, fn: Callable[[Any], Any]) -> Any:
        return fn(result)

    def _flatten(self, stream: Iterator[Any], field: str) -> Iterator[Any]:
        with contextlib.closing(stream):
            for message in stream:
                yield from getattr(message, field)

    def _drain(self, stream: Iterator[Any], on_message: Callable[[Any], None],
               finish: Callable[[], Any]) -> Any:
        with contextlib.closing(stream):
            for message in stream:
                on_message(message)
        return finish()

