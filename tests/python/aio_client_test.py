"""keyward.aio.Client against the real keywardd: a representative set of
RPCs, paging as async iterators, the three streams (CreateBackup,
RestoreBackup, ReadAuditLog with follow), error classes and login.

Run by //tests/python:aio_client_test:
    aio_client_test.py --keywardd=PATH [unittest args]
"""

import asyncio
import io
import os
import unittest

import grpc

import keyward
import keyward.aio
import keyward.jwt
from keyward.v1 import crypto_service_pb2 as crypto_pb2
from keyward.v1 import data_plane_service_pb2 as dpb

import kwtest


def run(coro, timeout=60):
    """Runs `coro` on a fresh event loop, bounded by `timeout` seconds."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


class AioClientTest(unittest.TestCase):
    daemon = None

    @classmethod
    def setUpClass(cls):
        cls.daemon = kwtest.Daemon(tcp=True)

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop()

    def test_data_plane(self):
        async def body():
            async with keyward.aio.Client(self.daemon.target) as c:
                key = await c.create_key("aio-ed", "ED25519")
                self.assertEqual(key.name, "keys/aio-ed")
                sig = await c.sign("aio-ed", b"m")
                self.assertIs(await c.verify("aio-ed", b"m", sig.signature),
                              True)
                self.assertTrue((await c.public_key("aio-ed")).startswith(
                    b"-----BEGIN PUBLIC KEY"))
                await c.create_key("aio-aes", "AES256_GCM")
                ct = await c.encrypt("aio-aes", b"secret", b"ad")
                self.assertEqual(await c.decrypt("aio-aes", ct, b"ad"),
                                 b"secret")
                with self.assertRaises(keyward.InvalidArgumentError) as cm:
                    await c.decrypt("aio-aes", ct, b"other")
                self.assertEqual(cm.exception.code,
                                 grpc.StatusCode.INVALID_ARGUMENT)
                results = await c.batch_encrypt([("aio-aes", b"1"),
                                                 ("aio-nope", b"2")])
                self.assertTrue(results[0].ok)
                self.assertEqual(results[1].error.code,
                                 grpc.StatusCode.NOT_FOUND)
                self.assertEqual(await c.rotate("aio-ed"),
                                 "keys/aio-ed/versions/2")
                await c.create_key("aio-jwt", "ED25519", "JWT")
                signed = await c.sign_jwt("aio-jwt", {"sub": "a"}, ttl=60)
                self.assertTrue(await c.verify_jwt(signed.token))
                jwks = await c.get_jwks(["aio-jwt"])
                self.assertEqual(jwks["keys"][0]["kid"], "aio-jwt:v1")
                self.assertEqual((await c.who_am_i()).principal,
                                 "unix:uid:%d" % os.getuid())
                self.assertTrue((await c.verify_audit_log()).ok)
                item = dpb.StreamItem(id=7, sign=crypto_pb2.SignRequest(
                    name="keys/aio-ed", data=b"m"))
                results = [r async for r in c.stream(
                    [dpb.StreamRequest(items=[item])])]
                self.assertEqual([(r.id, r.status.code) for r in results],
                                 [(7, 0)])
        run(body())

    def test_nacl_box(self):
        """box / box_open between two X25519 keys, awaited; a box from
        another sender is INVALID_ARGUMENT."""
        async def body():
            async with keyward.aio.Client(self.daemon.target) as c:
                await c.create_key("aio-x1", "X25519")
                await c.create_key("aio-x2", "X25519")
                second = await c.box("aio-x2", b"\x09" * 32, b"probe")
                first = await c.box("aio-x1", second.sender_public_key, b"hi")
                self.assertEqual(first.key_version, "keys/aio-x1/versions/1")
                self.assertEqual(await c.box_open(
                    "aio-x2", first.sender_public_key, first.ciphertext), b"hi")
                with self.assertRaises(keyward.InvalidArgumentError):
                    await c.box_open("aio-x2", second.sender_public_key,
                                     first.ciphertext)
                raw = await c.encrypt("aio-x1", b"sealed", raw=True)
                self.assertEqual(len(raw), 48 + 6)
                self.assertEqual(await c.decrypt(
                    "keys/aio-x1/versions/1", raw_ciphertext=raw), b"sealed")
        run(body())

    def test_errors(self):
        async def body():
            async with keyward.aio.Client(self.daemon.target) as c:
                with self.assertRaises(keyward.NotFoundError) as cm:
                    await c.sign("aio-missing", b"x")
                self.assertEqual(cm.exception.code, grpc.StatusCode.NOT_FOUND)
                self.assertEqual(cm.exception.method, "CryptoService/Sign")
                await c.create_key("aio-dup", "AES256_GCM")
                with self.assertRaises(keyward.AlreadyExistsError):
                    await c.create_key("aio-dup", "AES256_GCM")
                with self.assertRaises(keyward.FailedPreconditionError):
                    await c.sign("aio-dup", b"x")
                with self.assertRaises(ValueError):
                    await c.create_key("aio-x", "AES128")
            async with keyward.aio.Client("unix:///nonexistent/k.sock") as n:
                with self.assertRaises(keyward.UnavailableError):
                    await n.get_status()
        run(body())

    def test_coalescing(self):
        """Concurrent data-plane calls of one client share a
        DataPlaneService.Stream (on by default): 64 tasks sign, verify and
        encode/decode tokens; each gets its own result or its own error
        (the unary call's class and method); the audit log names the
        streamed kinds. With coalesce=False the same calls are unary."""
        async def body():
            async with keyward.aio.Client(self.daemon.target) as c:
                await c.create_key("co-ed", "ED25519")
                await c.create_key("co-jwt", "ECDSA_P256", "JWT")
                start = (await c.get_status()).audit_last_sequence + 1

                async def one(i):
                    if i % 8 == 7:  # a missing key among the others
                        with self.assertRaises(keyward.NotFoundError) as cm:
                            await c.sign("co-missing", b"%d" % i)
                        self.assertEqual(cm.exception.method,
                                         "CryptoService/Sign")
                        return "missing"
                    data = b"message %d" % i
                    sig = await c.sign("co-ed", data)
                    self.assertIs(await c.verify("co-ed", data,
                                                 sig.signature), True)
                    self.assertIs(await c.verify("co-ed", data + b"!",
                                                 sig.signature), False)
                    token = await keyward.jwt.encode(
                        {"sub": "u%d" % i, "aud": "api"}, key="co-jwt",
                        client=c)
                    claims = await keyward.jwt.decode(token, audience="api",
                                                      client=c)
                    self.assertEqual(claims["sub"], "u%d" % i)
                    return "ok"

                outcomes = await asyncio.gather(*(one(i) for i in range(64)))
                self.assertEqual(outcomes.count("ok"), 56)
                self.assertEqual(outcomes.count("missing"), 8)
                records = [(r.method.split("keyward.v1.")[-1], r.code)
                           async for r in c.read_audit_log(
                               start_sequence=start,
                               resource_prefix="keys/co-")]
                self.assertEqual(records.count(
                    ("DataPlaneService/Stream/Sign", 0)), 56)
                self.assertEqual(records.count(
                    ("DataPlaneService/Stream/SignJwt", 0)), 56)
                self.assertEqual(records.count(
                    ("DataPlaneService/Stream/VerifyJwt", 0)), 56)
                self.assertEqual(
                    [m for m, _ in records if m.startswith("CryptoService")
                     or m.startswith("JwtService")], [])

            async with keyward.aio.Client(self.daemon.target,
                                          coalesce=False) as u:
                start = (await u.get_status()).audit_last_sequence + 1
                await u.sign("co-ed", b"unary")
                records = [r.method.split("keyward.v1.")[-1]
                           async for r in u.read_audit_log(
                               start_sequence=start,
                               resource_prefix="keys/co-")]
                self.assertEqual(records, ["CryptoService/Sign"])
        run(body())

    def test_coalescing_stream_down(self):
        """A coalesced call to a daemon that is not there fails as the
        unary call would (UnavailableError, after the retry rule), and the
        client keeps working for the next call."""
        async def body():
            async with keyward.aio.Client("unix:///nonexistent/k.sock",
                                          timeout=2) as n:
                for _ in range(2):
                    with self.assertRaises(keyward.UnavailableError) as cm:
                        await n.sign("k", b"x")
                    self.assertEqual(cm.exception.method,
                                     "CryptoService/Sign")
        run(body())

    def test_paging(self):
        async def body():
            async with keyward.aio.Client(self.daemon.target) as c:
                for i in range(5):
                    await c.create_key("apage-%d" % i, "HMAC_SHA256")
                names = [k.name async for k in c.list_keys(prefix="apage-",
                                                           page_size=2)]
                self.assertEqual(names, ["keys/apage-%d" % i
                                         for i in range(5)])
                for _ in range(3):
                    await c.rotate_key("apage-0")
                numbers = [v.number async for v in
                           c.list_key_versions("apage-0", page_size=3)]
                self.assertEqual(numbers, [1, 2, 3, 4])
                policies = [p async for p in c.list_policies(page_size=1)]
                self.assertTrue(all(p.name for p in policies))
        run(body())

    def test_audit_follow(self):
        async def body():
            async with keyward.aio.Client(self.daemon.target) as c:
                await c.create_key("aio-follow", "AES256_GCM")
                last = (await c.get_status()).audit_last_sequence
                stream = c.read_audit_log(start_sequence=last + 1,
                                          follow=True, timeout=30)
                await c.get_key("aio-follow")

                async def until_get_key():
                    async for record in stream:
                        if record.method.endswith("/GetKey"):
                            return record
                record = await asyncio.wait_for(until_get_key(), 10)
                self.assertGreater(record.sequence, last)
                await stream.aclose()  # cancels the stream
                first = [r.sequence async for r in
                         c.read_audit_log(max_records=2)]
                self.assertEqual(first, [1, 2])
        run(body())

    def test_login_over_tcp(self):
        async def body():
            async with keyward.aio.Client(self.daemon.target) as admin:
                secret = (await admin.create_api_key("aio-ci")).secret
                await admin.create_key("aio-tcp", "ED25519")
                await admin.create_policy("apikey:aio-ci", ["SIGN"], "aio-tcp")
            async with keyward.aio.Client(self.daemon.tcp_target) as c:
                with self.assertRaises(keyward.UnauthenticatedError):
                    await c.sign("aio-tcp", b"x")
                session = await c.login(api_key=secret.encode())
                self.assertEqual(session.principal, "apikey:aio-ci")
                self.assertTrue((await c.sign("aio-tcp", b"x")).signature)
                with self.assertRaises(keyward.PermissionDeniedError) as cm:
                    await c.rotate("aio-tcp")
                self.assertEqual(cm.exception.code,
                                 grpc.StatusCode.PERMISSION_DENIED)
        run(body())


class AioBackupRestoreTest(unittest.TestCase):
    """Streams on a daemon of its own (restore seals it)."""

    def setUp(self):
        self.daemon = kwtest.Daemon()

    def tearDown(self):
        self.daemon.stop()

    def test_backup_restore(self):
        async def body():
            async with keyward.aio.Client(self.daemon.target,
                                          timeout=60) as c:
                await c.create_key("aio-keep", "AES256_GCM")
                ct = await c.encrypt("aio-keep", b"kept")
                out = io.BytesIO()
                info = await c.create_backup(out)
                self.assertGreaterEqual(info.key_count, 1)
                await c.create_key("aio-later", "AES256_GCM")
                data = out.getvalue()
                # An iterable of small chunks works as well as a file.
                chunks = [data[i:i + 4096] for i in range(0, len(data), 4096)]
                await c.restore_backup(
                    chunks, passphrase_file=self.daemon.passphrase_file,
                    replace_existing=True)
                self.assertTrue((await c.get_status()).sealed)
                with self.assertRaises(keyward.UnavailableError):
                    await c.encrypt("aio-keep", b"x")
                await c.unseal(passphrase_file=self.daemon.passphrase_file)
                self.assertEqual(await c.decrypt("aio-keep", ct), b"kept")
                with self.assertRaises(keyward.NotFoundError):
                    await c.get_key("aio-later")
                await c.seal()
                await c.unseal(passphrase=kwtest.PASSPHRASE)
        run(body(), timeout=120)


if __name__ == "__main__":
    kwtest.main()
