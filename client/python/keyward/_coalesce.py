"""keyward.aio's coalescing: the data-plane calls of one keyward.aio.Client
(sign, verify, encrypt, decrypt, mac, verify_mac, sign_jwt, verify_jwt and
so keyward.jwt.encode/decode) made concurrently from many coroutines share
one DataPlaneService.Stream, so that they do not each pay a unary call.

How: a call becomes an item (StreamItem with a fresh id) on a queue and
waits for its result. One writer task sends what is queued as one
StreamRequest, then what was queued meanwhile as the next: no timer, so an
item waits at most for the write before it, and a lone call goes out at
once. A message carries at most half of the items admitted (written or
queued; from 32 on, at most 1000): the daemon answers the items of one
message together, once all of them have run, so two messages in flight let
it run one while this process handles the other's answers, where one
message of everything would leave each side idle while the other works
(measured in BENCHMARKS.md, "Python client: ES256 JWTs"). One exception to
"no timer": while the daemon holds more than a message's worth of items,
fewer queued items than a message's size wait for an answer (whose callers'
next items join them), at most HOLD_SECONDS (0.5 ms). Answers come back
grouped as their items were sent, and their callers' next calls group the
same way, so without it a message once cut short (say 32 in flight as 16 +
16) stays short, and every message costs both processes a read and a write
(about 200 us of CPU each side, measured). One reader task hands each
StreamResult to its caller. At most 256 items are outstanding per stream
(the daemon's bound, data_plane_service.proto): a call beyond waits for
room, so the daemon never refuses an item for it.

Each item is authorized, rate-limited, executed and audited by the daemon
exactly as its unary call (audit method "DataPlaneService/Stream/<Kind>");
its status maps to the same KeywardError subclass, with the unary method's
name ("CryptoService/Sign"). Differences from a unary call, by design:
  - the call's timeout bounds the wait for the result; an item already
    sent is still run by the daemon if the caller stops waiting (an item
    whose caller stopped waiting before it was written is not sent);
  - if the stream fails (daemon restarted, connection lost) every item
    outstanding on it fails with the stream's error (UNAVAILABLE), which the
    client's retry rule then treats as for a unary call; the next call
    opens a new stream;
  - the stream carries the session token in force when it opened; a new
    token (set_token, login) opens a new stream for later calls.
A daemon without DataPlaneService (UNIMPLEMENTED) turns coalescing off for
the client; its calls then go unary.

Cost per call (it is the point of this module, so it is kept low): no task
and no timer per call. A call's timeout is kept by one timer per client,
armed at the earliest deadline of the calls waiting (calls usually share
one timeout, so a new call seldom moves it); the room under the bound is a
counter, with a queue only for calls that find none; an item is built in
its StreamRequest's wire form (frame_item), the message written as bytes.
"""

import asyncio
import collections
import math
from typing import Any, Callable, Deque, Dict, List, Optional, Tuple

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
# Field -> the unary method's name, for errors ("CryptoService/Sign").
_NAMES: Dict[str, str] = {field: service + "/" + method
                          for (service, method), field in KINDS.items()}

MAX_OUTSTANDING = 256    # per stream, as the daemon enforces
MAX_ITEMS_PER_MESSAGE = 1000
# From this many items admitted, a message carries half of them (see the
# module comment); below, everything queued goes in one message.
SPLIT_FROM = 32
# The longest a short message is held back for more items (_Link._hold).
HOLD_SECONDS = 0.0005

# StreamItem's tag (field number, length-delimited) of each request field.
_ITEM_TAGS: Dict[str, bytes] = {
    field: bytes(((pb.StreamItem.DESCRIPTOR.fields_by_name[field].number << 3)
                  | 2,))
    for field in KINDS.values()}
_ONE_BYTE = [bytes((n,)) for n in range(0x80)]


def _varint(n: int) -> bytes:
    """The protobuf varint of n >= 0."""
    if n < 0x80:
        return _ONE_BYTE[n]
    if n < 0x4000:
        return bytes((n & 0x7F | 0x80, n >> 7))
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def frame_item(item_id: int, field: str, request: Any) -> bytes:
    """StreamRequest.items entry (field 1) of StreamItem{id: item_id,
    <field>: request}, serialized: StreamRequests are written as the
    concatenation of their items' entries, which costs this process about a
    third of building a StreamRequest message and serializing it."""
    body = request.SerializeToString()
    size = len(body)
    head = (b"\x08" + _varint(item_id) + _ITEM_TAGS[field]
            + (_ONE_BYTE[size] if size < 0x80 else _varint(size)))
    size += len(head)
    return (b"\x0a" + (_ONE_BYTE[size] if size < 0x80 else _varint(size))
            + head + body)


class StreamUnsupported(Exception):
    """The daemon has no DataPlaneService: use unary calls."""


# What a link keeps per item holding room: the caller's future, its
# deadline (loop time) and the item's field.
_Waiting = Tuple["asyncio.Future[Any]", float, str]


class _Link:
    """One open Stream call with its writer and reader tasks. The call
    writes serialized StreamRequests (bytes) and yields StreamResponses.

    Room: an item holds one of the MAX_OUTSTANDING places from its call's
    admission until its answer arrives (or the link ends), also when its
    caller stopped waiting, since the daemon still counts it. `free` is
    what is left; calls that find none wait in `room_waiters` (FIFO), and a
    released place goes to the first of them."""

    def __init__(self, open_call: Callable[[Any], Any], metadata: Any,
                 on_end: Callable[["_Link"], None]) -> None:
        self.metadata = metadata
        self.queue: List[Tuple[int, str, Any, "asyncio.Future[Any]"]] = []
        self.waiting: Dict[int, _Waiting] = {}
        self.free = MAX_OUTSTANDING
        self.sent = 0  # items written and not answered yet
        # Holding back a short message (see _hold): the timer that ends it.
        self.hold_timer: Optional[asyncio.TimerHandle] = None
        self.hold_over = False
        self.room_waiters: Deque["asyncio.Future[None]"] = collections.deque()
        self.wake = asyncio.Event()
        self.error: Optional[BaseException] = None
        self.closing = False
        self._on_end = on_end
        self.loop = asyncio.get_running_loop()
        self.call = open_call(metadata)
        self.writer = asyncio.ensure_future(self._write())
        self.reader = asyncio.ensure_future(self._read())

    @property
    def alive(self) -> bool:
        return self.error is None and not self.closing

    async def wait_for_room(self, timeout: float, name: str) -> None:
        """Waits (FIFO) until a place is handed to this call; raises
        DEADLINE_EXCEEDED after `timeout` seconds."""
        room: "asyncio.Future[None]" = self.loop.create_future()
        self.room_waiters.append(room)
        try:
            await asyncio.wait_for(room, timeout)
        except asyncio.TimeoutError:
            raise error_for(grpc.StatusCode.DEADLINE_EXCEEDED,
                            "no room on the data-plane stream within the "
                            "timeout", name) from None
        except asyncio.CancelledError:
            if room.done() and not room.cancelled():
                self.release()  # handed over as this call was cancelled
            raise

    def release(self) -> None:
        """Gives one place back: to the first call waiting for room, if
        any, else to `free`."""
        room_waiters = self.room_waiters
        while room_waiters:
            room = room_waiters.popleft()
            if not room.done():
                room.set_result(None)
                return
        self.free += 1

    def _message_size(self) -> int:
        """Items for the next message: half of those admitted (written or
        queued), at least SPLIT_FROM // 2, at most MAX_ITEMS_PER_MESSAGE."""
        admitted = MAX_OUTSTANDING - self.free
        return min(MAX_ITEMS_PER_MESSAGE,
                   max(SPLIT_FROM // 2, (admitted + 1) // 2))

    def _hold(self, size: int) -> bool:
        """Whether to hold back the queued items, fewer than `size` (the
        next message's size), for now: while the daemon has more than
        `size` items, until an answer comes (the reader wakes the writer)
        or for at most HOLD_SECONDS from the first hold (see the module
        comment)."""
        if len(self.queue) >= size or self.sent <= size or self.hold_over:
            if self.hold_timer is not None:
                self.hold_timer.cancel()
                self.hold_timer = None
            return False
        if self.hold_timer is None:
            self.hold_timer = self.loop.call_later(HOLD_SECONDS,
                                                   self._hold_ended)
        return True

    def _hold_ended(self) -> None:
        self.hold_timer = None
        self.hold_over = True
        self.wake.set()

    async def _write(self) -> None:
        queue = self.queue
        try:
            while True:
                await self.wake.wait()
                self.wake.clear()
                while queue:
                    size = self._message_size()
                    if self._hold(size):
                        break
                    batch = queue[:size]
                    del queue[:size]
                    parts = []
                    for item_id, field, request, waiter in batch:
                        if waiter.done():  # timed out or cancelled: unsent
                            del self.waiting[item_id]
                            self.release()
                            continue
                        parts.append(frame_item(item_id, field, request))
                    if parts:
                        self.sent += len(parts)
                        await self.call.write(b"".join(parts))
                    self.hold_over = False
                if self.closing and not queue:
                    await self.call.done_writing()
                    return
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001: the reader reports the end
            self._fail(e)

    async def _read(self) -> None:
        waiting = self.waiting
        try:
            async for response in self.call:
                answered = 0
                for result in response.results:
                    entry = waiting.pop(result.id, None)
                    if entry is None:
                        continue  # not ours (the daemon echoes our ids)
                    answered += 1
                    waiter = entry[0]
                    if not waiter.done():
                        waiter.set_result(result)
                self.sent -= answered
                if self.room_waiters:
                    for _ in range(answered):
                        self.release()
                else:
                    self.free += answered
                if self.queue:
                    self.wake.set()  # a held message may go now
            self._fail(None)
        except asyncio.CancelledError:
            self._fail(None)
            raise
        except Exception as e:  # noqa: BLE001: grpc.RpcError and the like
            self._fail(e)

    def _fail(self, error: Optional[BaseException]) -> None:
        """Ends the link: every item still waiting gets `error` (the
        stream's), or UNAVAILABLE if the stream ended without one; calls
        waiting for room are let through to find a new link."""
        if self.error is None:
            self.error = error or error_for(
                grpc.StatusCode.UNAVAILABLE,
                "the data-plane stream ended before answering", "")
        waiting, self.waiting = self.waiting, {}
        self.queue.clear()
        if self.hold_timer is not None:
            self.hold_timer.cancel()
            self.hold_timer = None
        for waiter, _, _ in waiting.values():
            if not waiter.done():
                waiter.set_exception(_LinkDown(self.error))
        while self.room_waiters:
            room = self.room_waiters.popleft()
            if not room.done():
                room.set_result(None)
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


class Coalescer:
    """The coalescing of one keyward.aio.Client (see the module comment).
    `open_call(metadata)` opens a DataPlaneService.Stream call whose
    write() takes a serialized StreamRequest (bytes) and whose answers
    are StreamResponse messages."""

    def __init__(self, open_call: Callable[[Any], Any]) -> None:
        self._open_call = open_call
        self._link: Optional[_Link] = None
        self._next_id = 1
        self._links: List[_Link] = []
        # The deadline timer: armed at _timer_at (loop time), the earliest
        # deadline of the calls waiting when it was armed or later.
        self._timer: Optional[asyncio.TimerHandle] = None
        self._timer_at = math.inf

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
        link = self._link
        if link is None or not link.alive or link.metadata != metadata:
            link = self._current(metadata)
        # The link's loop, not asyncio.get_running_loop(): Python 3.11's
        # makes a getpid() system call each time.
        loop = link.loop
        deadline = loop.time() + timeout
        while True:
            if link.free > 0 and not link.room_waiters:
                link.free -= 1
                break
            await link.wait_for_room(max(deadline - loop.time(), 0.001),
                                     _NAMES[field])
            if link.alive:
                break
            link.release()  # ended while this call waited: try a new one
            link = self._current(metadata)
        item_id = self._next_id
        self._next_id = item_id + 1
        waiter: "asyncio.Future[Any]" = loop.create_future()
        link.waiting[item_id] = (waiter, deadline, field)
        link.queue.append((item_id, field, request, waiter))
        link.wake.set()
        if deadline < self._timer_at:
            self._arm(loop, deadline)
        try:
            result = await waiter
        except _LinkDown as down:
            raise self._stream_error(down.cause, _NAMES[field]) from None
        if result.status.code:
            raise error_from_item(result.status.code, result.status.message,
                                  _NAMES[field])
        return getattr(result, field)

    def _arm(self, loop: asyncio.AbstractEventLoop, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = when
        self._timer = loop.call_at(when, self._expire, loop)

    def _expire(self, loop: asyncio.AbstractEventLoop) -> None:
        """Fails every call past its deadline with DEADLINE_EXCEEDED (its
        item keeps its room until answered: the daemon may still run it)
        and re-arms the timer at the earliest deadline left."""
        self._timer = None
        self._timer_at = math.inf
        now = loop.time() + 1e-6  # call_at may fire a hair early
        soonest = math.inf
        for link in self._links:
            for waiter, deadline, field in link.waiting.values():
                if waiter.done():
                    continue
                if deadline <= now:
                    waiter.set_exception(error_for(
                        grpc.StatusCode.DEADLINE_EXCEEDED,
                        "no answer within the timeout", _NAMES[field]))
                elif deadline < soonest:
                    soonest = deadline
        if soonest < math.inf:
            self._arm(loop, soonest)

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
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
            self._timer_at = math.inf
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
