"""keyward.Client (sync) against the real keywardd: every RPC of keyward.v1
at least once (ZzEveryRpcTest checks the recorded calls), the error classes
with their specific codes, enum refusal before any call, retries, sessions
(login, token_file) over the plaintext loopback listener, mutual TLS, seal,
passphrase change, backup and restore.

Run by //tests/python:sync_client_test:
    sync_client_test.py --keywardd=PATH [unittest args]
"""

import datetime
import hashlib
import io
import os
import unittest

import grpc
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

import keyward
from keyward import _util
from keyward.v1 import common_pb2
from keyward.v1 import crypto_service_pb2 as crypto_pb2
from keyward.v1 import data_plane_service_pb2 as dpb

import kwtest

CALLED = set()  # RPC method names made through RecordingClient


class RecordingClient(keyward.Client):
    """keyward.Client that records each RPC it makes, and retry decisions."""

    pauses = None

    def _unary(self, service, method, *args, **kwargs):
        CALLED.add(method)
        return super()._unary(service, method, *args, **kwargs)

    def _server_stream(self, service, method, *args):
        CALLED.add(method)
        return super()._server_stream(service, method, *args)

    def _client_stream(self, service, method, *args):
        CALLED.add(method)
        return super()._client_stream(service, method, *args)

    def _retry_pause(self, error, idempotent, attempt, deadline):
        if self.pauses is not None:
            self.pauses.append((idempotent, attempt))
        return super()._retry_pause(error, idempotent, attempt, deadline)


class DataPlaneTest(unittest.TestCase):
    daemon = None
    client = None

    @classmethod
    def setUpClass(cls):
        cls.daemon = kwtest.Daemon()
        cls.client = RecordingClient(cls.daemon.target, timeout=30)

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        cls.daemon.stop()

    def assertCode(self, cls, code, fn, *args, **kwargs):
        with self.assertRaises(cls) as cm:
            fn(*args, **kwargs)
        self.assertIsInstance(cm.exception, keyward.KeywardError)
        self.assertEqual(cm.exception.code, code)
        self.assertTrue(cm.exception.message)
        return cm.exception

    # --- CryptoService ---

    def test_sign_verify(self):
        c = self.client
        c.create_key("sig-ed", "ED25519")
        sig = c.sign("sig-ed", b"hello")
        self.assertEqual(sig.key_version, "keys/sig-ed/versions/1")
        self.assertEqual(sig.algorithm, "ED25519")
        self.assertIs(c.verify("sig-ed", b"hello", sig.signature), True)
        self.assertIs(c.verify("sig-ed", b"hellO", sig.signature), False)
        self.assertIs(c.verify(sig.key_version, b"hello",
                               raw_signature=sig.raw_signature), True)
        c.create_key("sig-p256", "ECDSA_P256")
        digest = hashlib.sha256(b"big file").digest()
        dsig = c.sign("sig-p256", digest=digest, algorithm="ECDSA_SHA256_DER")
        self.assertEqual(dsig.algorithm, "ECDSA_SHA256_DER")
        self.assertTrue(c.verify("sig-p256", b"big file", dsig.signature))
        self.assertTrue(c.verify("sig-p256", digest=digest,
                                 signature=dsig.signature))
        self.assertCode(keyward.InvalidArgumentError,
                        grpc.StatusCode.INVALID_ARGUMENT,
                        c.sign, "sig-ed", digest=digest)
        with self.assertRaises(ValueError):
            c.sign("sig-ed", b"x", digest=digest)

    def test_encrypt_decrypt_mac(self):
        c = self.client
        c.create_key("enc-aes", "AES256_GCM")
        ct = c.encrypt("enc-aes", b"card 4111", b"order-17")
        self.assertEqual(c.decrypt("enc-aes", ct, b"order-17"), b"card 4111")
        err = self.assertCode(keyward.InvalidArgumentError,
                              grpc.StatusCode.INVALID_ARGUMENT,
                              c.decrypt, "enc-aes", ct, b"order-18")
        self.assertEqual(err.method, "CryptoService/Decrypt")
        self.assertNotIn("4111", str(err))
        c.create_key("mac-h", "HMAC_SHA256")
        m = c.mac("mac-h", b"webhook body")
        self.assertEqual(len(m.raw_mac), 32)
        self.assertIs(c.verify_mac("mac-h", b"webhook body", m.mac), True)
        self.assertIs(c.verify_mac("mac-h", b"webhook bodY", m.mac), False)
        self.assertIs(c.verify_mac(m.key_version, b"webhook body",
                                   raw_mac=m.raw_mac), True)
        self.assertCode(keyward.FailedPreconditionError,
                        grpc.StatusCode.FAILED_PRECONDITION,
                        c.sign, "enc-aes", b"x")

    def test_data_key_and_re_encrypt(self):
        c = self.client
        c.create_key("dk-aes", "AES256_GCM")
        dk = c.generate_data_key("dk-aes", associated_data=b"file-9")
        self.assertEqual(len(dk.plaintext), 32)
        self.assertNotIn(repr(dk.plaintext), repr(dk))
        self.assertEqual(c.decrypt("dk-aes", dk.ciphertext, b"file-9"),
                         dk.plaintext)
        wrapped = c.generate_data_key("dk-aes", length=16, wrapped_only=True)
        self.assertEqual(wrapped.plaintext, b"")
        c.create_key("dk-hmac", "HMAC_SHA256")
        self.assertCode(keyward.FailedPreconditionError,
                        grpc.StatusCode.FAILED_PRECONDITION,
                        c.generate_data_key, "dk-hmac")
        ct = c.encrypt("dk-aes", b"old data")
        c.rotate_key("dk-aes")
        moved = c.re_encrypt("dk-aes", ct)
        self.assertEqual(moved.source_key_version, "keys/dk-aes/versions/1")
        self.assertEqual(moved.key_version, "keys/dk-aes/versions/2")
        self.assertEqual(c.decrypt("dk-aes", moved.ciphertext), b"old data")

    def test_nacl_box_and_raw_ciphertexts(self):
        c = self.client
        c.create_key("box-a", "X25519")
        c.create_key("box-b", "X25519")
        b = c.box("box-b", b"\x09" * 32, b"probe")
        a = c.box("box-a", b.sender_public_key, b"to b")
        self.assertEqual(a.key_version, "keys/box-a/versions/1")
        self.assertEqual(c.box_open("box-b", a.sender_public_key,
                                    a.ciphertext), b"to b")
        self.assertEqual(c.box_open("box-b", a.sender_public_key,
                                    a.ciphertext[24:],
                                    nonce=a.ciphertext[:24]), b"to b")
        self.assertCode(keyward.InvalidArgumentError,
                        grpc.StatusCode.INVALID_ARGUMENT,
                        c.box_open, "box-b", b.sender_public_key,
                        a.ciphertext)
        self.assertCode(keyward.InvalidArgumentError,
                        grpc.StatusCode.INVALID_ARGUMENT,
                        c.box_open, "box-b", a.sender_public_key,
                        a.ciphertext[24:], nonce=b"n" * 12)
        c.create_key("box-s", "XSALSA20_POLY1305")
        raw = c.encrypt("box-s", b"secret", raw=True)
        self.assertEqual(len(raw), 24 + 16 + 6)
        self.assertEqual(c.decrypt("keys/box-s/versions/1",
                                   raw_ciphertext=raw), b"secret")

    def test_public_key(self):
        c = self.client
        c.create_key("pub-ed", "ED25519")
        jwk = c.get_public_key("pub-ed", "jwk")
        self.assertEqual((jwk.format, jwk.key_type, jwk.kid),
                         ("JWK", "ED25519", "pub-ed:v1"))
        self.assertIn(b'"kty"', jwk.public_key)
        self.assertTrue(c.public_key("pub-ed").startswith(b"-----BEGIN"))
        with self.assertRaises(ValueError):
            c.get_public_key("pub-ed", "ssh")

    def test_batches(self):
        c = self.client
        c.create_key("b-ed", "ED25519")
        c.create_key("b-aes", "AES256_GCM")
        signed = c.batch_sign([("b-ed", b"one"), ("b-missing", b"two")])
        self.assertTrue(signed[0].ok)
        self.assertIsInstance(signed[1].error, keyward.NotFoundError)
        self.assertEqual(signed[1].error.code, grpc.StatusCode.NOT_FOUND)
        with self.assertRaises(keyward.NotFoundError):
            signed[1].unwrap()
        verdicts = c.batch_verify([
            ("b-ed", b"one", signed[0].value.signature),
            ("b-ed", b"One", signed[0].value.signature)])
        self.assertEqual([v.unwrap() for v in verdicts], [True, False])
        cts = c.batch_encrypt([("b-aes", b"p1"), ("b-aes", b"p2", b"ad")])
        pts = c.batch_decrypt([("b-aes", cts[0].unwrap()),
                               ("b-aes", cts[1].unwrap(), b"ad"),
                               ("b-aes", cts[1].unwrap(), b"other")])
        self.assertEqual([p.value for p in pts[:2]], [b"p1", b"p2"])
        self.assertEqual(pts[2].error.code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertCode(keyward.InvalidArgumentError,
                        grpc.StatusCode.INVALID_ARGUMENT, c.batch_sign, [])

    def test_stream(self):
        c = self.client
        c.create_key("st-ed", "ED25519")
        items = [dpb.StreamItem(id=i, sign=crypto_pb2.SignRequest(
            name="keys/st-ed" if i != 3 else "keys/st-missing", data=b"m"))
            for i in range(5)]
        results = {r.id: r for r in c.stream(
            [dpb.StreamRequest(items=items[:2]),
             dpb.StreamRequest(items=items[2:])])}
        self.assertEqual(sorted(results), [0, 1, 2, 3, 4])
        self.assertEqual(results[3].status.code,
                         grpc.StatusCode.NOT_FOUND.value[0])
        self.assertEqual(results[0].status.code, 0)
        self.assertTrue(c.verify("st-ed", b"m", results[0].sign.signature))
        with self.assertRaises(keyward.InvalidArgumentError):
            list(c.stream([dpb.StreamRequest()]))

    # --- KeyService ---

    def test_key_lifecycle(self):
        c = self.client
        key = c.create_key("life-ed", "ED25519", description="d1",
                           labels={"team": "pay"})
        self.assertEqual((key.name, key.description), ("keys/life-ed", "d1"))
        self.assertEqual(c.get_key("life-ed").labels["team"], "pay")
        updated = c.update_key("life-ed", description="d2",
                               rotation_period=datetime.timedelta(hours=2))
        self.assertEqual(updated.description, "d2")
        self.assertEqual(updated.rotation_period.seconds, 7200)
        with self.assertRaises(ValueError):
            c.update_key("life-ed")
        v2 = c.rotate_key("life-ed")
        self.assertEqual((v2.number, v2.primary), (2, True))
        self.assertEqual(c.rotate("life-ed"), "keys/life-ed/versions/3")
        numbers = [v.number for v in c.list_key_versions("life-ed",
                                                         page_size=1)]
        self.assertEqual(numbers, [1, 2, 3])
        self.assertEqual(c.get_key_version("life-ed", 1).state,
                         common_pb2.VERSION_STATE_ENABLED)
        self.assertEqual(c.disable_key_version("life-ed", 1).state,
                         common_pb2.VERSION_STATE_DISABLED)
        self.assertEqual(
            [v.number for v in c.list_key_versions("life-ed",
                                                   state="DISABLED")], [1])
        self.assertEqual(c.enable_key_version("keys/life-ed/versions/1").state,
                         common_pb2.VERSION_STATE_ENABLED)
        self.assertCode(keyward.FailedPreconditionError,
                        grpc.StatusCode.FAILED_PRECONDITION,
                        c.destroy_key_version, "life-ed", 1)
        c.disable_key_version("life-ed", 1)
        self.assertEqual(c.destroy_key_version("life-ed", 1).state,
                         common_pb2.VERSION_STATE_DESTROYED)
        self.assertCode(keyward.FailedPreconditionError,
                        grpc.StatusCode.FAILED_PRECONDITION,
                        c.disable_key_version, "life-ed", 3)
        self.assertCode(keyward.NotFoundError, grpc.StatusCode.NOT_FOUND,
                        c.get_key_version, "life-ed", 9)

    def test_list_keys_pages(self):
        c = self.client
        for i in range(5):
            c.create_key("page-%d" % i, "AES256_GCM", labels={"set": "paged"})
        names = [k.name for k in c.list_keys(prefix="page-", page_size=2)]
        self.assertEqual(names, ["keys/page-%d" % i for i in range(5)])
        labelled = list(c.list_keys(labels={"set": "paged"}, page_size=3))
        self.assertEqual(len(labelled), 5)
        self.assertEqual(list(c.list_keys(prefix="page-", purpose="MAC")), [])

    def test_import_export(self):
        c = self.client
        private = ed25519.Ed25519PrivateKey.generate()
        pem = private.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        imported = c.import_key(pem, "PRIVATE_KEY_PEM", key_id="imp-ed",
                                purpose="SIGN_VERIFY")
        self.assertEqual(imported.version.origin,
                         common_pb2.VERSION_ORIGIN_IMPORTED)
        sig = c.sign("imp-ed", b"m")
        private.public_key().verify(sig.raw_signature, b"m")
        pem_file = kwtest.write_secret(os.path.join(self.daemon.dir, "k.pem"),
                                       ed25519.Ed25519PrivateKey.generate()
                                       .private_bytes(
                                           serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
        again = c.import_key(material_file=pem_file, format="PRIVATE_KEY_PEM",
                             into="imp-ed")
        self.assertEqual(again.version.number, 2)
        self.assertCode(keyward.InvalidArgumentError,
                        grpc.StatusCode.INVALID_ARGUMENT, c.import_key,
                        b"not a key", "PRIVATE_KEY_PEM", key_id="imp-bad",
                        purpose="SIGN_VERIFY")
        c.create_key("exp-ed", "ED25519", exportable=True)
        exported = c.export_key("exp-ed")
        self.assertEqual(exported.format, "PRIVATE_KEY_PEM")
        self.assertNotIn("BEGIN", repr(exported))
        serialization.load_pem_private_key(exported.material, None)
        encrypted = c.export_key("exp-ed", passphrase=b"export passphrase 1")
        serialization.load_pem_private_key(encrypted.material,
                                           b"export passphrase 1")
        self.assertCode(keyward.FailedPreconditionError,
                        grpc.StatusCode.FAILED_PRECONDITION,
                        c.export_key, "imp-ed")

    def test_import_jwt_key_settings(self):
        """import_key passes a JWT key's JWS algorithm, its JWT settings and
        allow_short_secret through; a 19-byte HS256 secret needs the flag."""
        c = self.client
        short = b"nineteen-byte-sec!!"
        self.assertCode(keyward.InvalidArgumentError,
                        grpc.StatusCode.INVALID_ARGUMENT, c.import_key, short,
                        "RAW_SECRET", key_id="imp-short", key_type="HMAC_SHA256",
                        purpose="JWT")
        legacy = c.import_key(short, "RAW_SECRET", key_id="imp-short",
                              key_type="HMAC_SHA256", purpose="JWT",
                              allow_short_secret=True,
                              jwt_issuer="https://legacy.example")
        self.assertTrue(legacy.key.legacy_short_secret)
        self.assertEqual(legacy.key.jwt.issuer, "https://legacy.example")
        pem = ed25519.Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption())
        ed = c.import_key(pem, "PRIVATE_KEY_PEM", key_id="imp-eddsa",
                          purpose="JWT", algorithms=["ED25519"])
        self.assertEqual(list(ed.key.signature_algorithms),
                         [common_pb2.SIGNATURE_ALGORITHM_ED25519])
        self.assertFalse(ed.key.legacy_short_secret)
        # An algorithm the material cannot have is refused, not dropped.
        self.assertCode(keyward.InvalidArgumentError,
                        grpc.StatusCode.INVALID_ARGUMENT, c.import_key, pem,
                        "PRIVATE_KEY_PEM", key_id="imp-eddsa-rs",
                        purpose="JWT", algorithms=["RSA_PKCS1_SHA512"])

    # --- JwtService ---

    def test_jwt(self):
        c = self.client
        c.create_key("jwt-es", "ECDSA_P256", "JWT")
        signed = c.sign_jwt("jwt-es", {"sub": "alice", "aud": "api"}, ttl=60)
        self.assertNotIn(signed.token, repr(signed))
        verdict = c.verify_jwt(signed.token, audience="api")
        self.assertTrue(verdict)
        self.assertEqual(verdict.claims["sub"], "alice")
        self.assertEqual(verdict.header["kid"], "jwt-es:v1")
        wrong = c.verify_jwt(signed.token, audience="other")
        self.assertFalse(wrong)
        self.assertEqual(wrong.failure, "AUDIENCE_MISMATCH")
        self.assertIsNone(wrong.claims)
        jwks = c.get_jwks("jwt-es")
        self.assertEqual([k["kid"] for k in jwks["keys"]], ["jwt-es:v1"])

    def test_jwt_without_exp(self):
        """A legacy token without exp (PyJWT, an imported HS256 secret)
        verifies only when the call allows it, and within the max age."""
        import time
        import jwt as pyjwt
        c = self.client
        secret = b"s" * 32
        c.import_key(secret, "RAW_SECRET", key_id="legacy-hs",
                     key_type="HMAC_SHA256", purpose="JWT")
        token = pyjwt.encode({"sub": "bob", "iat": int(time.time()) - 120},
                             secret, algorithm="HS256",
                             headers={"kid": "legacy-hs:v1"})
        self.assertEqual(c.verify_jwt(token, key="legacy-hs").failure,
                         "MISSING_EXPIRY")
        self.assertTrue(c.verify_jwt(token, key="legacy-hs",
                                     allow_missing_exp=True))
        too_old = c.verify_jwt(token, key="legacy-hs", allow_missing_exp=True,
                               max_age_without_exp=60)
        self.assertFalse(too_old)
        self.assertTrue(c.verify_jwt(token, key="legacy-hs",
                                     allow_missing_exp=True,
                                     max_age_without_exp=600))
        self.assertCode(keyward.InvalidArgumentError,
                        grpc.StatusCode.INVALID_ARGUMENT, c.sign_jwt,
                        "jwt-es", {"sub": "x"}, ttl=datetime.timedelta(days=2))
        rec = c.sign_jwt("jwt-es", {"sub": "bob"}, ttl=90, external_id="txn-42",
                         metadata={"phone": "555"})
        self.assertEqual(rec.record_name, "tokens/" + rec.jti)
        found = c.get_token_record(external_id="txn-42")
        self.assertEqual((found.jti, found.metadata["phone"]), (rec.jti, "555"))
        self.assertEqual(c.get_token_record(rec.jti).subject, "bob")
        listed = list(c.list_token_records(key="jwt-es", external_id="txn-42"))
        self.assertEqual([r.jti for r in listed], [rec.jti])
        revoked = c.revoke_token(rec.jti, "lost phone")
        self.assertEqual(revoked.state, 3)  # TOKEN_STATE_REVOKED
        self.assertEqual(c.verify_jwt(rec.token).failure, "REVOKED")
        self.assertEqual(
            [r.jti for r in c.list_token_records(state="REVOKED")], [rec.jti])
        self.assertCode(keyward.NotFoundError, grpc.StatusCode.NOT_FOUND,
                        c.get_token_record, "no-such-jti")

    def test_jwe(self):
        c = self.client
        c.create_key("jwe-rsa", "RSA_2048", "JWE")
        c.create_key("jwe-signer", "ED25519", "JWT")
        enc = c.encrypt_jwe("jwe-rsa", b"card 4111", encryption="A128CBC_HS256")
        out = c.decrypt_jwe(enc.token)
        self.assertEqual(out.payload, b"card 4111")
        self.assertEqual(out.header["enc"], "A128CBC-HS256")
        nested = c.encrypt_jwe("jwe-rsa", sign_with="jwe-signer",
                               claims={"sub": "carol"}, ttl=60)
        self.assertTrue(nested.nested.jti)
        opened = c.decrypt_jwe(nested.token, key="jwe-rsa", verify_nested=True)
        self.assertTrue(opened.nested)
        self.assertEqual(opened.nested.claims["sub"], "carol")
        self.assertCode(keyward.InvalidArgumentError,
                        grpc.StatusCode.INVALID_ARGUMENT,
                        c.decrypt_jwe, enc.token[:-4] + "AAAA", key="jwe-rsa")
        with self.assertRaises(ValueError):
            c.encrypt_jwe("jwe-rsa", b"x", encryption="A999GCM")

    # --- AccessService and SystemService (as admin) ---

    def test_policies_and_api_keys(self):
        c = self.client
        policy = c.create_policy("unix:uid:4242", ["SIGN", "VERIFY"], "pay-*",
                                 policy_id="p-pay")
        self.assertEqual((policy.name, policy.resource),
                         ("policies/p-pay", "keys/pay-*"))
        mine = list(c.list_policies(principal="unix:uid:4242"))
        self.assertEqual([p.name for p in mine], ["policies/p-pay"])
        self.assertCode(keyward.AlreadyExistsError,
                        grpc.StatusCode.ALREADY_EXISTS, c.create_policy,
                        "unix:uid:4242", ["SIGN"], "pay-*", policy_id="p-pay")
        self.assertIsNone(c.delete_policy("p-pay"))
        self.assertCode(keyward.NotFoundError, grpc.StatusCode.NOT_FOUND,
                        c.delete_policy, "p-pay")
        new = c.create_api_key("svc-a", description="service a")
        self.assertTrue(new.secret.startswith("kw_ak_"))
        self.assertNotIn(new.secret, repr(new))
        self.assertIn("apiKeys/svc-a", [k.name for k in c.list_api_keys()])
        self.assertEqual(c.revoke_api_key("svc-a").state, 3)  # REVOKED
        self.assertEqual([k.name for k in c.list_api_keys(state="REVOKED")],
                         ["apiKeys/svc-a"])
        me = c.who_am_i()
        self.assertEqual(me.principal, "unix:uid:%d" % os.getuid())
        self.assertTrue(me.global_admin)

    def test_status_and_audit(self):
        c = self.client
        status = c.get_status()
        self.assertTrue(status.initialized)
        self.assertFalse(status.sealed)
        verdict = c.verify_audit_log()
        self.assertTrue(verdict.ok)
        rotated = c.rotate_audit_log()
        self.assertTrue(rotated.rotated_file.endswith("/audit.log.1"),
                        rotated.rotated_file)
        self.assertEqual(rotated.first_sequence, rotated.last_sequence + 1)
        verdict = c.verify_audit_log()
        self.assertTrue(verdict.ok, verdict.problem)
        self.assertEqual(verdict.files_checked, 2)
        records = list(c.read_audit_log(max_records=3))
        self.assertEqual([r.sequence for r in records], [1, 2, 3])
        followed = []
        for record in c.read_audit_log(follow=True, timeout=30):
            followed.append(record.sequence)
            if len(followed) == 2:
                break  # closes the generator: the stream is cancelled
        self.assertEqual(followed, [1, 2])
        # A following read waits for new records until its deadline.
        start = c.get_status().audit_last_sequence + 100
        self.assertCode(keyward.DeadlineExceededError,
                        grpc.StatusCode.DEADLINE_EXCEEDED, list,
                        c.read_audit_log(start_sequence=start, follow=True,
                                         timeout=0.5))

    # --- client-side rules ---

    def test_errors_by_code(self):
        c = self.client
        err = self.assertCode(keyward.NotFoundError, grpc.StatusCode.NOT_FOUND,
                              c.sign, "no-such-key", b"x")
        self.assertEqual(err.method, "CryptoService/Sign")
        c.create_key("dup", "ED25519")
        self.assertCode(keyward.AlreadyExistsError,
                        grpc.StatusCode.ALREADY_EXISTS,
                        c.create_key, "dup", "ED25519")
        self.assertCode(keyward.InvalidArgumentError,
                        grpc.StatusCode.INVALID_ARGUMENT,
                        c.create_key, "Bad_ID", "ED25519")

    def test_enums_refused_before_any_call(self):
        nowhere = keyward.Client("unix:///nonexistent/k.sock")
        for fn, args, kwargs, bad in [
                (nowhere.create_key, ("k", "ED2551"), {}, "ED2551"),
                (nowhere.create_key, ("k", "ED25519", "SIGNING"), {}, "SIGNING"),
                (nowhere.sign, ("k", b"x"), {"algorithm": "RS256"}, "RS256"),
                (nowhere.list_keys, (), {"purpose": "NOPE"}, "NOPE"),
                (nowhere.create_policy, ("unix:uid:1", ["SING"], "*"), {},
                 "SING"),
                (nowhere.encrypt_jwe, ("k", b"x"), {"algorithm": "RSA1_5"},
                 "RSA1_5"),
                (nowhere.list_token_records, (), {"state": "LIVE"}, "LIVE")]:
            with self.assertRaises(ValueError) as cm:
                fn(*args, **kwargs)
            self.assertIn(repr(bad), str(cm.exception))
        self.assertEqual(_util.enum_value(common_pb2.KeyType, "KEY_TYPE_",
                                          "ecdsa-p256"),
                         common_pb2.KEY_TYPE_ECDSA_P256)
        nowhere.close()

    def test_retry_rules(self):
        policy = keyward.RetryPolicy(max_attempts=3, initial_backoff=0.05)
        nowhere = RecordingClient("unix:///nonexistent/k.sock", retry=policy)
        nowhere.pauses = []
        self.assertCode(keyward.UnavailableError, grpc.StatusCode.UNAVAILABLE,
                        nowhere.get_status)
        self.assertEqual(nowhere.pauses, [(True, 1), (True, 2), (True, 3)])
        nowhere.pauses = []
        self.assertCode(keyward.UnavailableError, grpc.StatusCode.UNAVAILABLE,
                        nowhere.create_key, "k", "ED25519")
        self.assertEqual(nowhere.pauses, [(False, 1)])
        nowhere.pauses = []
        self.assertCode(keyward.UnavailableError, grpc.StatusCode.UNAVAILABLE,
                        nowhere.sign_jwt, "k", {}, record=True)
        self.assertEqual(nowhere.pauses, [(False, 1)])
        nowhere.close()
        with self.assertRaises(ValueError):
            keyward.Client("10.1.2.3:7443")  # plaintext off loopback
        with self.assertRaises(ValueError):
            keyward.Client(self.daemon.target, tls=keyward.TlsOptions())
        with self.assertRaises(ValueError):
            keyward.Client("https://example.org")


class SessionTest(unittest.TestCase):
    """login/token_file over the plaintext loopback listener; mTLS."""

    @classmethod
    def setUpClass(cls):
        cls.daemon = kwtest.Daemon(tcp=True,
                                   tls=kwtest.ARGS.flavor != "boringssl")
        cls.admin = RecordingClient(cls.daemon.target)
        cls.admin.create_key("sess-sig", "ED25519")
        cls.secret = cls.admin.create_api_key("ci").secret
        cls.secret_file = kwtest.write_secret(
            os.path.join(cls.daemon.dir, "ci.key"),
            cls.secret.encode() + b"\n")

    @classmethod
    def tearDownClass(cls):
        cls.admin.close()
        cls.daemon.stop()

    def test_login_and_token_file(self):
        with RecordingClient(self.daemon.tcp_target) as anon:
            with self.assertRaises(keyward.UnauthenticatedError) as cm:
                anon.sign("sess-sig", b"x")
            self.assertEqual(cm.exception.code,
                             grpc.StatusCode.UNAUTHENTICATED)
            with self.assertRaises(keyward.UnauthenticatedError) as cm:
                anon.login(api_key=b"kw_ak_not-the-secret-XYZ")
            self.assertNotIn("not-the-secret", str(cm.exception))
            session = anon.login(api_key_file=self.secret_file, ttl=300)
            self.assertEqual(session.principal, "apikey:ci")
            self.assertNotIn(session.token, repr(session))
            self.assertEqual(anon.who_am_i().principal, "apikey:ci")
            with self.assertRaises(keyward.PermissionDeniedError) as cm:
                anon.sign("sess-sig", b"x")
            self.assertEqual(cm.exception.code,
                             grpc.StatusCode.PERMISSION_DENIED)
            self.admin.create_policy("apikey:ci", ["SIGN"], "sess-sig")
            self.assertEqual(anon.sign("sess-sig", b"x").key_version,
                             "keys/sess-sig/versions/1")
            token_file = kwtest.write_secret(
                os.path.join(self.daemon.dir, "session.token"),
                session.token.encode() + b"\n")
        with keyward.Client(self.daemon.tcp_target,
                            token_file=token_file) as by_file:
            me = by_file.who_am_i()
            self.assertEqual(me.principal, "apikey:ci")
            self.assertTrue(by_file.sign("sess-sig", b"y").signature)
            self.admin.revoke_api_key("ci")
            with self.assertRaises(keyward.UnauthenticatedError):
                by_file.sign("sess-sig", b"y")

    def test_mutual_tls(self):
        if kwtest.ARGS.flavor == "boringssl":
            # This build's gRPC has no TLS: the daemon refuses the listener.
            with self.assertRaises(RuntimeError) as cm:
                kwtest.Daemon(tls=True)
            self.assertIn("BoringSSL build, whose gRPC has no TLS",
                          str(cm.exception))
            return
        pki = self.daemon.pki
        tls = keyward.TlsOptions(ca_file=pki["ca"], cert_file=pki["client_cert"],
                                 key_file=pki["client_key"],
                                 server_name="localhost")
        with RecordingClient(self.daemon.tls_target, tls=tls) as client:
            me = client.who_am_i()
            self.assertEqual(me.principal, "spiffe://test.example/ci")
            self.assertEqual(me.authentication, 2)  # AUTHENTICATION_METHOD_MTLS
        with self.assertRaises(ValueError):  # a certificate without its key
            keyward.Client(self.daemon.tls_target,
                           tls=keyward.TlsOptions(cert_file=pki["client_cert"]))


class SystemLifecycleTest(unittest.TestCase):
    """seal/unseal, change_passphrase, create_backup/restore_backup on a
    daemon of their own."""

    def setUp(self):
        self.daemon = kwtest.Daemon()
        self.client = RecordingClient(self.daemon.target, timeout=60)

    def tearDown(self):
        self.client.close()
        self.daemon.stop()

    def test_seal_passphrase_backup_restore(self):
        c = self.client
        c.create_key("keep", "AES256_GCM")
        ct = c.encrypt("keep", b"kept")
        backup = io.BytesIO()
        info = c.create_backup(backup)
        self.assertGreaterEqual(info.key_count, 1)
        self.assertGreater(len(backup.getvalue()), 0)
        c.create_key("after-backup", "AES256_GCM")

        new = b"a brand new passphrase"
        # A wrong old passphrase is UNAUTHENTICATED, as in Unseal.
        with self.assertRaises(keyward.UnauthenticatedError):
            c.change_passphrase(old_passphrase=b"wrong passphrase!",
                                new_passphrase=new)
        # The new one: 12 to 1024 bytes, and not the old one (nothing
        # changes: the right old passphrase still works below).
        with open(self.daemon.passphrase_file, "rb") as f:
            current = f.read().rstrip(b"\n")
        for bad in (b"short", current):
            with self.assertRaises(keyward.InvalidArgumentError):
                c.change_passphrase(
                    old_passphrase_file=self.daemon.passphrase_file,
                    new_passphrase=bad)
        c.change_passphrase(old_passphrase_file=self.daemon.passphrase_file,
                            new_passphrase=new)
        self.assertIsNone(c.seal())
        self.assertTrue(c.get_status().sealed)
        with self.assertRaises(keyward.UnavailableError) as cm:
            c.encrypt("keep", b"x")
        self.assertEqual(cm.exception.code, grpc.StatusCode.UNAVAILABLE)
        with self.assertRaises(keyward.UnauthenticatedError):
            c.unseal(passphrase_file=self.daemon.passphrase_file)  # old one
        self.assertFalse(c.unseal(passphrase=new).already_unsealed)
        self.assertEqual(c.decrypt("keep", ct), b"kept")

        with self.assertRaises(keyward.FailedPreconditionError):
            c.restore_backup(backup.getvalue(),
                             passphrase_file=self.daemon.passphrase_file)
        with self.assertRaises(keyward.InvalidArgumentError):
            c.restore_backup(b"not a backup at all", passphrase=new,
                             replace_existing=True)
        backup.seek(0)
        restored = c.restore_backup(
            backup, passphrase_file=self.daemon.passphrase_file,
            replace_existing=True)
        self.assertIsInstance(restored, type(info))
        self.assertTrue(c.get_status().sealed)
        c.unseal(passphrase_file=self.daemon.passphrase_file)
        self.assertEqual(c.decrypt("keep", ct), b"kept")
        with self.assertRaises(keyward.NotFoundError):
            c.get_key("after-backup")


class ZzEveryRpcTest(unittest.TestCase):
    """Runs last (unittest orders classes by name): every RPC of every
    service was made through the sync client by the tests above."""

    def test_every_rpc_called(self):
        from keyward import _base
        import importlib
        wanted = set()
        for service in _base.STUBS:
            module = importlib.import_module(
                "keyward.v1." + _util.snake_case(service).replace(
                    "_service", "") + "_service_pb2")
            for m in module.DESCRIPTOR.services_by_name[service].methods:
                wanted.add(m.name)
        self.assertEqual(len(wanted), 53)
        self.assertEqual(sorted(wanted - CALLED), [])


if __name__ == "__main__":
    kwtest.main()
