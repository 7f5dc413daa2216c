"""Unit tests of keyward.aio's coalescing (keyward/_coalesce.py) for the
paths a real daemon does not take on demand: a stream call that the test
controls stands in for DataPlaneService.Stream (write failure, a stream
error, an item that never gets an answer, the 256-item bound), and a real
in-process gRPC server without DataPlaneService checks the UNIMPLEMENTED
fallback of keyward.aio.Client end to end. The daemon's side is tested by
//tests/python:aio_client_test and //tests:stream_test.
"""

import asyncio
import os
import tempfile
import unittest
from unittest import mock

import grpc

import keyward.aio
from keyward import _coalesce
from keyward.errors import (DeadlineExceededError, InvalidArgumentError,
                            UnavailableError)
from keyward.v1 import crypto_service_pb2 as crypto_pb
from keyward.v1 import crypto_service_pb2_grpc as crypto_grpc
from keyward.v1 import data_plane_service_pb2 as pb

_END = object()


def _rpc_error(code, details):
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(),
                                grpc.aio.Metadata(), details)


class FakeStreamCall:
    """What grpc.aio returns for a stream-stream call, driven by the test.
    With answer=True every written item is answered OK at once (a
    signature equal to the item's id, in reverse order within a message)."""

    def __init__(self, answer=True):
        self.answer = answer
        self.messages = []  # the StreamRequests written, in order (parsed)
        self.write_error = None
        self.hold = None  # an asyncio.Event: writes wait for it when set
        self.cancelled = False
        self.half_closed = False
        self._responses = asyncio.Queue()

    async def write(self, serialized):
        if self.write_error is not None:
            raise self.write_error
        request = pb.StreamRequest.FromString(serialized)
        self.messages.append(request)
        if self.hold is not None:
            await self.hold.wait()
        if self.answer:
            self.respond(*[item.id for item in reversed(request.items)])

    async def done_writing(self):
        self.half_closed = True
        self._responses.put_nowait(_END)

    def cancel(self):
        self.cancelled = True
        self._responses.put_nowait(_END)
        return True

    def respond(self, *ids, code=0, message=""):
        results = []
        for item_id in ids:
            result = pb.StreamResult(id=item_id)
            result.status.code = code
            result.status.message = message
            if code == 0:
                result.sign.signature = str(item_id).encode()
            results.append(result)
        self._responses.put_nowait(pb.StreamResponse(results=results))

    def fail(self, error):
        self._responses.put_nowait(error)

    def __aiter__(self):
        return self._iterate()

    async def _iterate(self):
        while True:
            response = await self._responses.get()
            if response is _END:
                return
            if isinstance(response, BaseException):
                raise response
            yield response


class CoalescerTest(unittest.IsolatedAsyncioTestCase):

    async def asyncSetUp(self):
        self.calls = []
        self.answer = True

        def open_call(metadata):
            call = FakeStreamCall(self.answer)
            self.calls.append(call)
            return call

        self.coalescer = _coalesce.Coalescer(open_call)

    async def asyncTearDown(self):
        await self.coalescer.close()

    def sign(self, data=b"x", timeout=5.0):
        return self.coalescer.call(
            "CryptoService", "Sign",
            crypto_pb.SignRequest(name="k", data=data), (), timeout)

    async def test_concurrent_calls_share_one_stream_and_get_their_own_answer(self):
        results = await asyncio.gather(*[self.sign() for _ in range(50)])
        self.assertEqual(len(self.calls), 1)
        call = self.calls[0]
        sent = [item.id for m in call.messages for item in m.items]
        self.assertEqual(len(sent), 50)
        self.assertEqual(len(set(sent)), 50)
        # Answers come back reversed; each caller still gets its own id's.
        self.assertEqual(sorted(int(r.signature) for r in results),
                         sorted(sent))
        # Calls queued while the first write was in flight went together.
        self.assertLess(len(call.messages), 50)

    async def test_an_items_status_raises_the_unary_calls_error(self):
        self.answer = False
        task = asyncio.ensure_future(self.sign())
        while not self.calls or not self.calls[0].messages:
            await asyncio.sleep(0)
        item_id = self.calls[0].messages[0].items[0].id
        self.calls[0].respond(item_id, code=3, message="bad name")
        with self.assertRaises(InvalidArgumentError) as caught:
            await task
        self.assertEqual(caught.exception.code,
                         grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("CryptoService/Sign", str(caught.exception))

    async def test_an_item_without_an_answer_fails_at_its_timeout(self):
        self.answer = False
        loop = asyncio.get_running_loop()
        start = loop.time()
        with self.assertRaises(DeadlineExceededError) as caught:
            await self.sign(timeout=0.2)
        self.assertGreaterEqual(loop.time() - start, 0.19)
        self.assertEqual(caught.exception.code,
                         grpc.StatusCode.DEADLINE_EXCEEDED)
        # A late answer is dropped, and the stream serves the next call.
        call = self.calls[0]
        call.respond(call.messages[0].items[0].id)
        call.answer = True
        self.assertEqual((await self.sign()).signature, b"2")
        self.assertEqual(len(self.calls), 1)

    async def test_past_256_outstanding_a_call_waits_for_room(self):
        self.answer = False
        first = [asyncio.ensure_future(self.sign())
                 for _ in range(_coalesce.MAX_OUTSTANDING)]
        while sum(len(m.items) for c in self.calls for m in c.messages) < \
                _coalesce.MAX_OUTSTANDING:
            await asyncio.sleep(0)
        with self.assertRaises(DeadlineExceededError) as caught:
            await self.sign(timeout=0.1)
        self.assertIn("no room", str(caught.exception))
        # The refused call was never sent; answering one makes room.
        call = self.calls[0]
        self.assertEqual(sum(len(m.items) for m in call.messages),
                         _coalesce.MAX_OUTSTANDING)
        call.respond(1)
        await first[0]
        late = asyncio.ensure_future(self.sign())
        while sum(len(m.items) for m in call.messages) <= \
                _coalesce.MAX_OUTSTANDING:
            await asyncio.sleep(0)
        call.respond(*range(2, _coalesce.MAX_OUTSTANDING + 2))
        await asyncio.gather(late, *first[1:])

    def sent(self):
        return [item.id for c in self.calls for m in c.messages
                for item in m.items]

    async def test_a_message_carries_half_of_the_items_admitted(self):
        self.answer = False
        tasks = [asyncio.ensure_future(self.sign()) for _ in range(64)]
        while len(self.sent()) < 64:
            await asyncio.sleep(0)
        # Two messages of 32: the daemon runs one while the other's answers
        # are handled.
        self.assertEqual([len(m.items) for m in self.calls[0].messages],
                         [32, 32])
        self.calls[0].respond(*self.sent())
        await asyncio.gather(*tasks)
        # Below 32 admitted, everything queued goes in one message.
        tasks = [asyncio.ensure_future(self.sign()) for _ in range(10)]
        while len(self.sent()) < 74:
            await asyncio.sleep(0)
        self.assertEqual(len(self.calls[0].messages[-1].items), 10)
        self.calls[0].respond(*self.sent()[64:])
        await asyncio.gather(*tasks)

    async def leave_48_with_the_daemon(self):
        """64 calls sent as two messages of 32, 16 of them answered:
        returns the stream call and the 64 calls' tasks."""
        first = [asyncio.ensure_future(self.sign()) for _ in range(64)]
        while len(self.sent()) < 64:
            await asyncio.sleep(0)
        call = self.calls[0]
        call.respond(*self.sent()[:16])
        await asyncio.gather(*first[:16])
        return call, first

    async def test_a_short_message_waits_for_an_answer_to_fill_up(self):
        self.answer = False
        # Not the time bound here (its own test), whatever the load.
        hold = mock.patch.object(_coalesce, "HOLD_SECONDS", 60.0)
        hold.start()
        self.addCleanup(hold.stop)
        call, first = await self.leave_48_with_the_daemon()
        # 48 with the daemon, more than a message (32): 16 new calls wait.
        more = [asyncio.ensure_future(self.sign()) for _ in range(16)]
        for _ in range(10):
            await asyncio.sleep(0)
        self.assertEqual(len(self.sent()), 64)
        # An answer lets them go, with the next calls, as one message.
        call.respond(*self.sent()[16:32])
        more += [asyncio.ensure_future(self.sign()) for _ in range(16)]
        while len(self.sent()) < 96:
            await asyncio.sleep(0)
        self.assertEqual([len(m.items) for m in call.messages],
                         [32, 32, 32])
        call.respond(*self.sent()[32:])
        await asyncio.gather(*first, *more)

    async def test_a_short_message_waits_at_most_hold_seconds(self):
        self.answer = False
        call, first = await self.leave_48_with_the_daemon()
        loop = asyncio.get_running_loop()
        start = loop.time()
        late = asyncio.ensure_future(self.sign())
        while len(self.sent()) < 65:
            await asyncio.sleep(0)
        waited = loop.time() - start
        self.assertGreaterEqual(waited, _coalesce.HOLD_SECONDS * 0.9)
        self.assertLess(waited, 0.1)
        self.assertEqual(len(call.messages[-1].items), 1)
        call.respond(*self.sent()[16:])
        await asyncio.gather(late, *first)

    async def test_each_call_fails_at_its_own_timeout(self):
        self.answer = False
        loop = asyncio.get_running_loop()
        start = loop.time()
        ended = {}

        async def timed(timeout):
            with self.assertRaises(DeadlineExceededError):
                await self.sign(timeout=timeout)
            ended[timeout] = loop.time() - start

        # One timer serves all three: armed at 0.3, moved to 0.1, then
        # re-armed at each next deadline.
        await asyncio.gather(timed(0.3), timed(0.1), timed(0.2))
        for timeout, elapsed in ended.items():
            self.assertGreaterEqual(elapsed, timeout - 0.001)
            self.assertLess(elapsed, timeout + 0.15)
        self.assertEqual(sorted(ended, key=ended.get), [0.1, 0.2, 0.3])
        # No answer came: their items still hold room (the daemon may run
        # them) until answered; then the timer is idle.
        link = self.coalescer._link
        self.assertEqual(link.free, _coalesce.MAX_OUTSTANDING - 3)
        self.calls[0].respond(*self.sent())
        while link.free < _coalesce.MAX_OUTSTANDING:
            await asyncio.sleep(0)
        self.assertIsNone(self.coalescer._timer)

    async def test_an_item_whose_caller_stopped_waiting_is_not_sent(self):
        self.answer = False
        first = asyncio.ensure_future(self.sign())
        while not self.calls or not self.calls[0].messages:
            await asyncio.sleep(0)
        call = self.calls[0]
        call.hold = asyncio.Event()  # the next write stays in flight
        second = asyncio.ensure_future(self.sign())
        while len(call.messages) < 2:
            await asyncio.sleep(0)
        # Queued behind the write in flight: one times out, one is
        # cancelled, one waits.
        with self.assertRaises(DeadlineExceededError):
            await self.sign(timeout=0.05)
        cancelled = asyncio.ensure_future(self.sign())
        waiting = asyncio.ensure_future(self.sign())
        await asyncio.sleep(0)
        cancelled.cancel()
        call.hold.set()
        while len(call.messages) < 3:
            await asyncio.sleep(0)
        # Only the one still waiting was written; the other two gave back
        # their room.
        self.assertEqual([item.id for item in call.messages[2].items], [5])
        link = self.coalescer._link
        self.assertEqual(link.free, _coalesce.MAX_OUTSTANDING - 3)
        call.respond(1, 2, 5)
        await asyncio.gather(first, second, waiting)
        self.assertEqual(link.free, _coalesce.MAX_OUTSTANDING)

    async def test_calls_waiting_for_room_get_it_first_come_first_served(self):
        self.answer = False
        first = [asyncio.ensure_future(self.sign())
                 for _ in range(_coalesce.MAX_OUTSTANDING)]
        while len(self.sent()) < _coalesce.MAX_OUTSTANDING:
            await asyncio.sleep(0)
        late = [asyncio.ensure_future(self.sign(b"late%d" % i))
                for i in range(3)]
        await asyncio.sleep(0)
        late[1].cancel()  # gives up while waiting for room
        call = self.calls[0]
        call.respond(1)
        call.respond(2)
        while len(self.sent()) < _coalesce.MAX_OUTSTANDING + 2:
            await asyncio.sleep(0)
        await asyncio.sleep(0.01)
        written = [item.sign.data for m in call.messages for item in m.items]
        self.assertEqual(written[_coalesce.MAX_OUTSTANDING:],
                         [b"late0", b"late2"])
        with self.assertRaises(asyncio.CancelledError):
            await late[1]
        call.respond(*self.sent()[2:])
        await asyncio.gather(late[0], late[2], *first)
        self.assertEqual(self.coalescer._link.free, _coalesce.MAX_OUTSTANDING)

    async def test_a_call_waiting_for_room_goes_to_the_next_stream(self):
        self.answer = False
        first = [asyncio.ensure_future(self.sign())
                 for _ in range(_coalesce.MAX_OUTSTANDING)]
        while len(self.sent()) < _coalesce.MAX_OUTSTANDING:
            await asyncio.sleep(0)
        late = asyncio.ensure_future(self.sign(b"late"))
        await asyncio.sleep(0)
        self.answer = True
        self.calls[0].fail(_rpc_error(grpc.StatusCode.UNAVAILABLE,
                                      "daemon restarting"))
        for task in first:
            with self.assertRaises(UnavailableError):
                await task
        # The call that waited for room was never sent on the failed
        # stream; it went out on a new one and got its answer.
        self.assertEqual((await late).signature,
                         str(_coalesce.MAX_OUTSTANDING + 1).encode())
        self.assertEqual(len(self.calls), 2)
        self.assertEqual([item.sign.data for m in self.calls[1].messages
                          for item in m.items], [b"late"])

    async def test_a_failed_write_fails_the_waiting_calls_and_ends_the_stream(self):
        self.answer = False
        first = asyncio.ensure_future(self.sign())
        while not self.calls or not self.calls[0].messages:
            await asyncio.sleep(0)
        self.calls[0].write_error = RuntimeError("connection reset")
        second = asyncio.ensure_future(self.sign())
        with self.assertRaises(UnavailableError) as caught:
            await second
        self.assertIn("connection reset", str(caught.exception))
        with self.assertRaises(UnavailableError):
            await first
        # The call is cancelled, so neither task outlives the link.
        link_call = self.calls[0]
        self.assertTrue(link_call.cancelled)
        self.assertEqual(self.coalescer._links, [])
        # The next call opens a new stream.
        self.answer = True
        self.assertEqual((await self.sign()).signature, b"3")
        self.assertEqual(len(self.calls), 2)

    async def test_a_stream_error_fails_every_waiting_call_with_its_code(self):
        self.answer = False
        tasks = [asyncio.ensure_future(self.sign()) for _ in range(3)]
        while not self.calls or sum(
                len(m.items) for m in self.calls[0].messages) < 3:
            await asyncio.sleep(0)
        self.calls[0].fail(_rpc_error(grpc.StatusCode.UNAVAILABLE,
                                      "daemon restarting"))
        for task in tasks:
            with self.assertRaises(UnavailableError) as caught:
                await task
            self.assertIn("daemon restarting", str(caught.exception))
        self.assertTrue(self.calls[0].cancelled)

    async def test_a_daemon_without_the_stream_raises_stream_unsupported(self):
        self.answer = False
        task = asyncio.ensure_future(self.sign())
        while not self.calls:
            await asyncio.sleep(0)
        self.calls[0].fail(_rpc_error(grpc.StatusCode.UNIMPLEMENTED,
                                      "unknown service"))
        with self.assertRaises(_coalesce.StreamUnsupported):
            await task

    async def test_a_new_session_token_opens_a_new_stream(self):
        await self.sign()
        await self.coalescer.call(
            "CryptoService", "Sign", crypto_pb.SignRequest(name="k"),
            (("authorization", "Bearer t2"),), 5.0)
        self.assertEqual(len(self.calls), 2)
        self.assertTrue(self.calls[0].half_closed)


class UnaryOnly(crypto_grpc.CryptoServiceServicer):
    """A server with CryptoService/Sign and no DataPlaneService, as an
    older keywardd."""

    def __init__(self):
        self.signs = 0

    async def Sign(self, request, context):
        self.signs += 1
        return crypto_pb.SignResponse(signature=b"unary:" + request.data)


class FallbackTest(unittest.IsolatedAsyncioTestCase):

    async def test_without_data_plane_service_the_client_goes_unary(self):
        with tempfile.TemporaryDirectory() as tmp:
            socket = os.path.join(tmp, "old.sock")
            server = grpc.aio.server()
            servicer = UnaryOnly()
            crypto_grpc.add_CryptoServiceServicer_to_server(servicer, server)
            server.add_insecure_port("unix://" + socket)
            await server.start()
            try:
                async with keyward.aio.Client("unix://" + socket) as client:
                    self.assertIsNotNone(client._coalescer)
                    results = await asyncio.gather(
                        *[client.sign("k", b"%d" % i) for i in range(8)])
                    self.assertEqual(
                        sorted(r.signature for r in results),
                        sorted(b"unary:%d" % i for i in range(8)))
                    self.assertIsNone(client._coalescer)  # unary from now on
                    self.assertEqual(
                        (await client.sign("k", b"z")).signature, b"unary:z")
                self.assertEqual(servicer.signs, 9)
            finally:
                await server.stop(None)


class FrameItemTest(unittest.TestCase):
    """frame_item writes StreamRequest entries by hand: what it writes must
    parse as protobuf's own StreamRequest would, for every kind, ids and
    request sizes on both sides of each varint length (1, 2 and 3 bytes)."""

    def test_matches_protobuf_for_every_kind_and_size(self):
        for field in _coalesce.KINDS.values():
            request_type = type(getattr(pb.StreamItem(), field))
            for size in (0, 1, 100, 124, 125, 126, 127, 128, 200, 16_000,
                         16_384, 20_000):
                request = request_type()
                text = next(f.name for f in request_type.DESCRIPTOR.fields
                            if f.type == f.TYPE_STRING)
                setattr(request, text, "k" * size)
                for item_id in (0, 1, 127, 128, 16_383, 16_384, 2**40):
                    framed = (_coalesce.frame_item(item_id, field, request)
                              + _coalesce.frame_item(item_id + 1, field,
                                                     request))
                    expected = pb.StreamRequest()
                    for i in (item_id, item_id + 1):
                        item = expected.items.add(id=i)
                        getattr(item, field).CopyFrom(request)
                    with self.subTest(field=field, size=size, id=item_id):
                        self.assertEqual(pb.StreamRequest.FromString(framed),
                                         expected)


if __name__ == "__main__":
    unittest.main()
