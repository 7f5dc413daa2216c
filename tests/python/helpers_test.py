"""keyward.jwt and keyward.envelope against the real keywardd: round trips,
each named failure mapped to its exception, interop with PyJWT (Debian
python3-jwt) through the JWKS from get_jwks, and envelope encryption with
wrong associated data refused; both with the sync and the aio client.

Run by //tests/python:helpers_test:
    helpers_test.py --keywardd=PATH [unittest args]
"""

import asyncio
import base64
import time
import unittest

import grpc
import jwt as pyjwt

import keyward
import keyward.aio
from keyward import envelope
from keyward import jwt as kjwt

import kwtest


def tamper_signature(token):
    """Flips one character in the middle of the signature segment (never
    the last one, whose low bits may be base64url padding)."""
    head, payload, sig = token.split(".")
    i = len(sig) // 2
    sig = sig[:i] + ("A" if sig[i] != "A" else "B") + sig[i + 1:]
    return ".".join([head, payload, sig])


class JwtHelperTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.daemon = kwtest.Daemon()
        cls.client = keyward.Client(cls.daemon.target)
        cls.client.create_key("h-es", "ECDSA_P256", "JWT")

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        cls.daemon.stop()

    def test_round_trip(self):
        token = kjwt.encode({"sub": "alice", "aud": "api", "role": "admin"},
                            key="h-es", ttl=300, client=self.client)
        claims = kjwt.decode(token, audience="api", client=self.client)
        self.assertEqual((claims["sub"], claims["role"]), ("alice", "admin"))
        self.assertEqual(claims["exp"] - claims["iat"], 300)
        complete = kjwt.decode_complete(token, key="h-es", audience="api",
                                        client=self.client)
        self.assertEqual(complete["header"]["alg"], "ES256")
        self.assertEqual(complete["key_version"], "keys/h-es/versions/1")

    def test_failures_map_to_exceptions(self):
        c = self.client
        token = kjwt.encode({"sub": "a", "aud": "api"}, key="h-es", ttl=60,
                            client=c)
        with self.assertRaises(kjwt.InvalidAudienceError) as cm:
            kjwt.decode(token, audience="other", client=c)
        self.assertEqual(cm.exception.failure, "AUDIENCE_MISMATCH")
        self.assertIsInstance(cm.exception, kjwt.InvalidTokenError)
        with self.assertRaises(kjwt.InvalidAudienceError):
            kjwt.decode(token, client=c)  # has "aud", none required
        with self.assertRaises(kjwt.InvalidSignatureError) as cm:
            kjwt.decode(tamper_signature(token), audience="api", client=c)
        self.assertIsInstance(cm.exception, kjwt.DecodeError)
        self.assertEqual(cm.exception.failure, "BAD_SIGNATURE")
        with self.assertRaises(kjwt.DecodeError) as cm:
            kjwt.decode("not.a-token", client=c)
        self.assertEqual(cm.exception.failure, "MALFORMED")
        issued = kjwt.encode({"sub": "a", "iss": "https://issuer.example"},
                             key="h-es", ttl=60, client=c)
        self.assertEqual(kjwt.decode(issued, issuer="https://issuer.example",
                                     client=c)["iss"],
                         "https://issuer.example")
        with self.assertRaises(kjwt.InvalidIssuerError):
            kjwt.decode(issued, issuer="https://other.example", client=c)
        now = int(time.time())
        future = kjwt.encode({"sub": "a", "nbf": now + 600}, key="h-es",
                             ttl=900, client=c)
        with self.assertRaises(kjwt.ImmatureSignatureError):
            kjwt.decode(future, client=c)
        recorded = c.sign_jwt("h-es", {"sub": "otp"}, ttl=60, record=True)
        c.revoke_token(recorded.jti)
        with self.assertRaises(kjwt.RevokedTokenError):
            kjwt.decode(recorded.token, client=c)
        with self.assertRaises(keyward.InvalidArgumentError):
            kjwt.decode(token, audience="api", leeway=3600, client=c)
        with self.assertRaises(keyward.NotFoundError):
            kjwt.encode({"sub": "a"}, key="h-missing", client=c)

    def test_expired(self):
        token = kjwt.encode({"sub": "a"}, key="h-es", ttl=1,
                            client=self.client)
        time.sleep(2.2)
        with self.assertRaises(kjwt.ExpiredSignatureError) as cm:
            kjwt.decode(token, leeway=0, client=self.client)
        self.assertEqual(cm.exception.failure, "EXPIRED")
        # Within the leeway it is still accepted.
        self.assertEqual(kjwt.decode(token, leeway=120,
                                     client=self.client)["sub"], "a")

    def test_pyjwt_verifies_from_jwks(self):
        token = kjwt.encode({"sub": "interop", "aud": "api"}, key="h-es",
                            ttl=120, client=self.client)
        jwks = pyjwt.PyJWKSet.from_dict(self.client.get_jwks("h-es"))
        kid = pyjwt.get_unverified_header(token)["kid"]
        signing_key = next(k for k in jwks.keys if k.key_id == kid)
        claims = pyjwt.decode(token, signing_key.key, algorithms=["ES256"],
                              audience="api")
        self.assertEqual(claims["sub"], "interop")
        with self.assertRaises(pyjwt.InvalidSignatureError):
            pyjwt.decode(tamper_signature(token), signing_key.key,
                         algorithms=["ES256"], audience="api")

    def test_aio(self):
        async def body():
            async with keyward.aio.Client(self.daemon.target) as c:
                token = await kjwt.encode({"sub": "async", "aud": "api"},
                                          key="h-es", ttl=60, client=c)
                claims = await kjwt.decode(token, audience="api", client=c)
                self.assertEqual(claims["sub"], "async")
                with self.assertRaises(kjwt.InvalidAudienceError):
                    await kjwt.decode(token, audience="x", client=c)
                blob = await envelope.encrypt_json(c, "h-env", {"n": 1},
                                                   associated_data=b"ad")
                self.assertEqual(await envelope.decrypt_json(
                    c, "h-env", blob, associated_data=b"ad"), {"n": 1})
        self.client.create_key("h-env", "AES256_GCM")
        asyncio.run(asyncio.wait_for(body(), 60))


class EnvelopeTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.daemon = kwtest.Daemon()
        cls.client = keyward.Client(cls.daemon.target)
        cls.client.create_key("env-aes", "AES256_GCM")
        cls.client.create_key("env-other", "AES256_GCM")

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        cls.daemon.stop()

    def test_round_trip_and_refusals(self):
        c = self.client
        value = {"pan": "4111 1111 1111 1111", "exp": "12/29",
                 "blob": "x" * 200000}  # larger than Encrypt's 64 KiB
        blob = envelope.encrypt_json(c, "env-aes", value,
                                     associated_data=b"order-17")
        self.assertTrue(blob.startswith(b"kwenv1."))
        # Neither the plaintext nor its base64 shows (checked on runs long
        # enough not to occur in random base64 by chance: a 4-character
        # string like "4111" does, about once in 60 runs of this blob).
        self.assertNotIn(b"4111 1111 1111 1111", blob)
        self.assertNotIn(b"eHh4eHh4eHh4eHh4", blob)  # base64 of "x" * 12
        self.assertEqual(envelope.decrypt_json(c, "env-aes", blob,
                                               associated_data=b"order-17"),
                         value)
        for key, b, ad in [
                ("env-aes", blob, b"order-18"),  # wrong associated data
                ("env-aes", blob, b""),
                ("env-other", blob, b"order-17"),  # another key
                ("env-aes", self.tamper_body(blob), b"order-17"),
                ("env-aes", b"kwenv1.garbage", b"order-17")]:
            with self.assertRaises(keyward.InvalidArgumentError) as cm:
                envelope.decrypt_json(c, key, b, associated_data=ad)
            self.assertEqual(cm.exception.code,
                             grpc.StatusCode.INVALID_ARGUMENT)
            self.assertNotIn("4111", str(cm.exception))
        with self.assertRaises(keyward.NotFoundError):
            envelope.encrypt_json(c, "env-missing", {})

    @staticmethod
    def tamper_body(blob):
        head, wrapped, body = blob.split(b".")
        padded = body + b"=" * (-len(body) % 4)
        raw = bytearray(base64.urlsafe_b64decode(padded))
        raw[20] ^= 1
        return b".".join([head, wrapped,
                          base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=")])


class BearerTest(unittest.TestCase):
    """keyward.fastapi / keyward.flask's shared rules (keyward._bearer): the
    header, and the HTTP answer to each failure. The dependency and the
    decorator themselves run through real HTTP in examples_test.py."""

    def test_header(self):
        from keyward import _bearer
        self.assertEqual(_bearer.bearer_token("Bearer abc.def.ghi"),
                         "abc.def.ghi")
        self.assertEqual(_bearer.bearer_token("bearer  abc"), "abc")
        for bad in (None, "", "Basic dXNlcg==", "Bearer", "Bearer a b"):
            with self.assertRaises(_bearer.BearerRefused) as cm:
                _bearer.bearer_token(bad)
            self.assertEqual(cm.exception.status, 401)
            self.assertIn('error="invalid_request"',
                          cm.exception.headers["WWW-Authenticate"])

    def test_answers(self):
        from keyward import _bearer
        expired = _bearer.refusal(kjwt.ExpiredSignatureError("EXPIRED", "x"))
        self.assertEqual((expired.status, expired.body["error_description"]),
                         (401, "EXPIRED"))
        down = _bearer.refusal(keyward.UnavailableError(
            grpc.StatusCode.UNAVAILABLE, "connect failed", "JwtService/VerifyJwt"))
        self.assertEqual((down.status, down.headers), (503, {"Retry-After": "1"}))
        denied = _bearer.refusal(keyward.PermissionDeniedError(
            grpc.StatusCode.PERMISSION_DENIED, "no VERIFY", "JwtService/VerifyJwt"))
        self.assertEqual((denied.status, denied.body["error_description"]),
                         (500, "PERMISSION_DENIED"))

    def test_daemon_unreachable_is_503_through_flask(self):
        import flask
        import keyward.flask

        app = flask.Flask(__name__)
        nowhere = keyward.Client("unix:///nonexistent/kw/k.sock", timeout=2)

        @app.get("/")
        @keyward.flask.require_bearer("k", audience="api", client=nowhere)
        def index():
            return {"ok": True}
        response = app.test_client().get(
            "/", headers={"Authorization": "Bearer a.b.c"})
        self.assertEqual(response.status_code, 503)
        self.assertNotIn(b"a.b.c", response.data)
        nowhere.close()


if __name__ == "__main__":
    kwtest.main()
