"""keyward.aio's coalescing: the data-plane calls of one keyward.aio.Client
(sign, verify, encrypt, decrypt, mac, verify_mac, sign_jwt, verify_jwt and
so keyward.jwt.encode/decode) made concurrently from many coroutines share
one DataPlaneService.Stream, so that they do not each pay a unary call.

How: a call becomes an item (StreamItem with a fresh id) on a queue and
waits for its result. One writer task sends everything queued as one
StreamRequest (at most 1000 items), then everything queued meanwhile as
the next: no timer, so an item waits at most for the write before it, and
a lone call goes out at once. One reader task hands each StreamResult to
its caller. At most 256 items are outstanding per stream (the daemon's
bound, data_plane_service.proto): a call beyond waits for room, so the
daemon never refuses an item for it.

Each item is authorized, rate-limited, executed and audited by the daemon
exactly as its unary call (audit method "DataPlaneService/Stream/<Kind>");
its status maps to the same KeywardError subclass, with the unary method's
name ("CryptoService/Sign"). Differences from a unary call, by design:
  - the call's timeout bounds the wait for the result; an item already
    sent is still run by the daemon if the caller stops waiting;
  - if the stream fails (daemon restarted, connection lost) every item
    outstanding on it fails with the stream's error (UNAVAILABLE), which the
    client's retry rule then treats as for a unary call; the next call
    opens a new stream;
  - the stream carries the session token in force when it opened; a new
    token (set_token, login) opens a new stream for later calls.
A daemon without DataPlaneService (UNIMPLEMENTED) turns coalescing off for
the client; its calls then go unary.
"""

import asyncio
import itertools
from typing import Any, Callable, Dict, List, Optional, Tuple

import grpc

from keyward.errors import KeywardError, error_for, error_from_item
from keyward.v1 import data_plane_service_pb2 as pb

# (service, method) of a unary RPC -> its StreamItem/StreamResult field.
KINDS: Dict[Tuple[str, str], str] = {
    ("CryptoService", "Sign"): "sign",
    ("CryptoService", "Verify"): "verify",
    ("CryptoService", "Encrypt"): "encrypt",
    ("CryptoService", "Decrypt"): "decrypt",
    ("CryptoService", "Mac"): "mac",
    ("CryptoService", "VerifyMac"): "verify_mac",
    ("JwtService", "SignJwt"): "sign_jwt",
    ("JwtService", "VerifyJwt"): "verify_jwt",
}

MAX_OUTSTANDING = 256    # per stream, as the daemon enforces
MAX_ITEMS_PER_MESSAGE = 1000


class StreamUnsupported(Exception):
    """The daemon has no DataPlaneService: use unary calls."""


class _Link:
    """One open Stream call with its writer and reader tasks."""

    def __init__(self, open_call: Callable[[Any], Any], metadata: Any,
                 on_end: Callable[["_Link"], None]) -> None:
        self.metadata = metadata
        self.queue: List[Tuple[int, str, Any]] = []
        self.waiters: Dict[int, "asyncio.Future[Any]"] = {}
        self.room = asyncio.Semaphore(MAX_OUTSTANDING)
        self.wake = asyncio.Event()
        self.error: Optional[BaseException] = None
        self.closing = False
        self._on_end = on_end
        self.call = open_call(metadata)
        self.writer = asyncio.ensure_future(self._write())
        self.reader = asyncio.ensure_future(self._read())

    @property
    def alive(self) -> bool:
        return self.error is None and not self.closing

    async def _write(self) -> None:
        try:
            while True:
                await self.wake.wait()
                self.wake.clear()
                while self.queue:
                    batch = self.queue[:MAX_ITEMS_PER_MESSAGE]
                    del self.queue[:MAX_ITEMS_PER_MESSAGE]
                    items = [pb.StreamItem(id=i, **{field: request})
                             for i, field, request in batch]
                    await self.call.write(pb.StreamRequest(items=items))
                if self.closing and not self.queue:
                    await self.call.done_writing()
                    return
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001: the reader reports the end
            self._fail(e)

    async def _read(self) -> None:
        try:
            async for response in self.call:
                for result in response.results:
                    waiter = self.waiters.pop(result.id, None)
                    if waiter is None:
                        continue  # not ours (the daemon echoes our ids)
                    self.room.release()
                    if not waiter.done():
                        waiter.set_result(result)
            self._fail(None)
        except asyncio.CancelledError:
            self._fail(None)
            raise
        except Exception as e:  # noqa: BLE001: grpc.RpcError and the like
            self._fail(e)

    def _fail(self, error: Optional[BaseException]) -> None:
        """Ends the link: every item still waiting gets `error` (the
        stream's), or UNAVAILABLE if the stream ended without one."""
        if self.error is None:
            self.error = error or error_for(
                grpc.StatusCode.UNAVAILABLE,
                "the data-plane stream ended before answering", "")
        waiters, self.waiters = self.waiters, {}
        for waiter in waiters.values():
            self.room.release()
            if not waiter.done():
                waiter.set_exception(_LinkDown(self.error))
        self._on_end(self)
        # Whichever side failed, the other must not outlive the link: a
        # failed write leaves the call open and the reader waiting on it, a
        # failed read leaves the writer waiting for work.
        self.call.cancel()
        current = asyncio.current_task()
        for task in (self.writer, self.reader):
            if task is not current:
                task.cancel()

    def close(self) -> None:
        """Half-closes after the queued items are written."""
        self.closing = True
        self.wake.set()

    def cancel(self) -> None:
        self.writer.cancel()
        self.reader.cancel()
        self.call.cancel()


class _LinkDown(Exception):
    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause


def _expire(waiter: "asyncio.Future[Any]", name: str) -> None:
    if not waiter.done():
        waiter.set_exception(error_for(grpc.StatusCode.DEADLINE_EXCEEDED,
                                       "no answer within the timeout", name))


class Coalescer:
    """The coalescing of one keyward.aio.Client (see the module comment).
    `open_call(metadata)` opens a DataPlaneService.Stream call."""

    def __init__(self, open_call: Callable[[Any], Any]) -> None:
        self._open_call = open_call
        self._link: Optional[_Link] = None
        self._ids = itertools.count(1)
        self._links: List[_Link] = []

    def _current(self, metadata: Any) -> _Link:
        link = self._link
        if link is not None and link.alive and link.metadata == metadata:
            return link
        if link is not None and link.alive:
            link.close()  # another session token: new stream for new calls
        link = _Link(self._open_call, metadata, self._ended)
        self._link = link
        self._links.append(link)
        return link

    def _ended(self, link: _Link) -> None:
        if link in self._links:
            self._links.remove(link)
        if self._link is link:
            self._link = None

    async def call(self, service: str, method: str, request: Any,
                   metadata: Any, timeout: float) -> Any:
        """The response message of `request` (the unary RPC's), or raises
        the KeywardError the unary call would; StreamUnsupported if the
        daemon has no stream."""
        field = KINDS[(service, method)]
        name = service + "/" + method
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        link = self._current(metadata)
        if link.room.locked():  # 256 outstanding: wait for room
            try:
                await asyncio.wait_for(link.room.acquire(), timeout)
            except asyncio.TimeoutError:
                raise error_for(grpc.StatusCode.DEADLINE_EXCEEDED,
                                "no room on the data-plane stream within "
                                "the timeout", name) from None
        else:
            await link.room.acquire()
        if not link.alive:  # ended while this call waited for room
            link.room.release()
            return await self.call(service, method, request, metadata,
                                   max(deadline - loop.time(), 0.001))
        item_id = next(self._ids)
        waiter: "asyncio.Future[Any]" = loop.create_future()
        link.waiters[item_id] = waiter
        link.queue.append((item_id, field, request))
        link.wake.set()
        # A timer rather than asyncio.wait_for (a task per call): past the
        # deadline the waiter fails; a late result is then dropped.
        timer = loop.call_at(deadline, _expire, waiter, name)
        try:
            result = await waiter
        except _LinkDown as down:
            raise self._stream_error(down.cause, name) from None
        finally:
            timer.cancel()
        if result.status.code != 0:
            raise error_from_item(result.status.code, result.status.message,
                                  name)
        return getattr(result, field)

    @staticmethod
    def _stream_error(cause: BaseException, name: str) -> BaseException:
        if isinstance(cause, KeywardError):
            return error_for(cause.code, cause.message, name)
        if isinstance(cause, grpc.RpcError):
            code = cause.code() if hasattr(cause, "code") else None
            if code == grpc.StatusCode.UNIMPLEMENTED:
                return StreamUnsupported()
            return error_for(code or grpc.StatusCode.UNKNOWN,
                             cause.details() if hasattr(cause, "details")
                             else "", name)
        return error_for(grpc.StatusCode.UNAVAILABLE,
                         "the data-plane stream failed: %s" % cause, name)

    async def close(self) -> None:
        """Stops every stream's tasks (the channel is closed after)."""
        for link in list(self._links):
            link.cancel()
        for link in list(self._links):
            for task in (link.writer, link.reader):
                try:
                    await task
                except (asyncio.CancelledError, Exception):  # noqa: BLE001
                    pass
        self._links.clear()
        self._link = None
