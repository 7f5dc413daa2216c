"""The five seed flows of client/python/examples/, each against the real
keywardd (kwtest.Daemon) and, for the web services, through real HTTP:
FastAPI under uvicorn and Flask under werkzeug's server, on loopback ports,
driven with urllib. Run one flow by its class name:

    examples_test.py --keywardd=PATH --examples=DIR FastApiLoginTest
"""

import base64
import json
import os
import subprocess
import sys
import threading
import time
import unittest
import urllib.error
import urllib.request

import kwtest

import keyward
import keyward.jwt


def examples_dir():
    for i, arg in enumerate(sys.argv):
        if arg.startswith("--examples="):
            del sys.argv[i]
            return os.path.abspath(arg.split("=", 1)[1])
    raise SystemExit("--examples=DIR is required")


EXAMPLES = examples_dir()
sys.path.insert(0, EXAMPLES)


def http(method, url, body=None, token=None):
    """(status, JSON body, headers) of one real HTTP request."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token is not None:
        request.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read()), response.headers
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null"), e.headers


def segment(token, index):
    part = token.split(".")[index]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


class DaemonCase(unittest.TestCase):
    """One keywardd for the class; self.client is an admin sync client."""
    daemon_options = {}

    @classmethod
    def setUpClass(cls):
        cls.daemon = kwtest.Daemon(**cls.daemon_options)
        cls.client = keyward.Client(cls.daemon.target)

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        cls.daemon.stop()

    def assertRefused(self, status, body, headers, reason):
        self.assertEqual(status, 401)
        self.assertEqual(body["detail"]["error"] if "detail" in body
                         else body["error"], "invalid_token")
        self.assertIn('error="invalid_token"', headers["WWW-Authenticate"])
        self.assertIn(reason, headers["WWW-Authenticate"])


class FastApiLoginTest(DaemonCase):
    """(a) FastAPI /login signing HS256, keyward.fastapi.BearerClaims."""

    def test_login_and_bearer(self):
        import uvicorn
        import fastapi_login as app_module

        app_module.ensure_key(self.client)
        users = {"alice": app_module.hash_password("correct horse")}
        port = kwtest.free_port()
        server = uvicorn.Server(uvicorn.Config(
            app_module.create_app(self.daemon.target, users),
            host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        try:
            deadline = time.monotonic() + 30
            while not server.started and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertTrue(server.started, "uvicorn did not start")
            base = "http://127.0.0.1:%d" % port
            status, body, _ = http("POST", base + "/login",
                                   {"username": "alice", "password": "nope"})
            self.assertEqual(status, 401)
            status, body, _ = http("POST", base + "/login",
                                   {"username": "alice",
                                    "password": "correct horse"})
            self.assertEqual(status, 200, body)
            token = body["access_token"]
            self.assertEqual(segment(token, 0)["alg"], "HS256")
            self.assertEqual(segment(token, 1)["sub"], "alice")
            status, body, _ = http("GET", base + "/me", token=token)
            self.assertEqual((status, body), (200, {"user": "alice"}))
            # No header; a tampered token; a token for another audience.
            status, body, headers = http("GET", base + "/me")
            self.assertEqual(status, 401)
            self.assertIn('error="invalid_request"',
                          headers["WWW-Authenticate"])
            self.assertRefused(*http("GET", base + "/me",
                                     token=token[:-4] + "AAAA"),
                               reason="BAD_SIGNATURE")
            other = keyward.jwt.encode({"sub": "alice", "aud": "admin"},
                                       key=app_module.KEY, client=self.client)
            self.assertRefused(*http("GET", base + "/me", token=other),
                               reason="AUDIENCE_MISMATCH")
        finally:
            server.should_exit = True
            thread.join(30)


class FlaskTokensTest(DaemonCase):
    """(b) Flask: 90-second tokens by transaction id, keyward.flask."""

    def test_mint_lookup_checkout_revoke(self):
        from werkzeug.serving import make_server
        import flask_tokens as app_module

        app_module.ensure_key(self.client)
        port = kwtest.free_port()
        server = make_server("127.0.0.1", port,
                             app_module.create_app(self.client), threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            base = "http://127.0.0.1:%d" % port
            status, body, _ = http("POST", base + "/transactions/txn-77/token")
            self.assertEqual(status, 201, body)
            token = body["token"]
            claims = segment(token, 1)
            self.assertEqual(claims["exp"] - claims["iat"], 90)
            self.assertEqual(claims["sub"], "txn-77")
            self.assertEqual(segment(token, 0)["alg"], "ES256")
            status, found, _ = http("GET", base + "/transactions/txn-77/token")
            self.assertEqual((status, found["jti"], found["revoked"]),
                             (200, body["jti"], False))
            self.assertEqual(http("GET", base + "/transactions/none/token")[:2],
                             (404, {"error": "no token for this transaction"}))
            status, paid, _ = http("POST", base + "/checkout", token=token)
            self.assertEqual((status, paid),
                             (200, {"transaction": "txn-77", "status": "paid"}))
            self.assertEqual(http("POST", base + "/checkout")[0], 401)
            status, _, _ = http("DELETE", base + "/transactions/txn-77/token")
            self.assertEqual(status, 200)
            self.assertRefused(*http("POST", base + "/checkout", token=token),
                               reason="REVOKED")
            self.assertTrue(http("GET", base + "/transactions/txn-77/token")
                            [1]["revoked"])
        finally:
            server.shutdown()
            thread.join(30)


class PaymentTest(DaemonCase):
    """(c) card data envelope-encrypted into an RS256 token."""

    def test_tokenize_and_settle(self):
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding
        import payment

        payment.ensure_keys(self.client)
        card = {"pan": "4111111111111111", "exp": "12/29"}
        token = payment.tokenize_card(self.client, "order-1001", card)
        self.assertEqual(segment(token, 0)["alg"], "RS256")
        self.assertNotIn("4111", json.dumps(segment(token, 1)))
        self.assertEqual(payment.settle(self.client, token, "order-1001"),
                         card)
        # The RS256 signature checks out with the public key alone.
        public = serialization.load_pem_public_key(
            self.client.public_key(payment.TOKEN_KEY))
        head, body, sig = token.split(".")
        public.verify(base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4)),
                      (head + "." + body).encode(), padding.PKCS1v15(),
                      hashes.SHA256())
        with self.assertRaises(keyward.jwt.InvalidTokenError):
            payment.settle(self.client, token, "order-2002")
        # Card data bound to another order does not open for this one.
        claims = segment(token, 1)
        forged = keyward.jwt.encode(
            {"iss": payment.ISSUER, "sub": "order-2002",
             "aud": payment.AUDIENCE, "card": claims["card"]}, key=payment.TOKEN_KEY,
            client=self.client)
        with self.assertRaises(keyward.InvalidArgumentError):
            payment.settle(self.client, forged, "order-2002")


class PartnerExchangeTest(DaemonCase):
    """(d) python-jose partner: our JWKS out, their public key in."""

    def test_both_directions(self):
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from jose import jwt as jose_jwt
        from jose.exceptions import JWTError
        import partner_exchange as pe

        pe.ensure_our_key(self.client)
        token = pe.issue(self.client, "acme", "orders:read")
        jwks = pe.published_jwks(self.client)
        claims = pe.partner_verifies(token, jwks, "acme")
        self.assertEqual((claims["scope"], claims["iss"]),
                         ("orders:read", pe.ISSUER))
        with self.assertRaises(JWTError):
            pe.partner_verifies(token, jwks, "globex")
        with self.assertRaises(JWTError):
            pe.partner_verifies(token[:-4] + "AAAA", jwks, "acme")

        partner_key = ec.generate_private_key(ec.SECP256R1())
        pe.register_partner(self.client, "acme",
                            partner_key.public_key().public_bytes(
                                serialization.Encoding.PEM,
                                serialization.PublicFormat.SubjectPublicKeyInfo))
        pem = partner_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()).decode()
        now = int(time.time())
        theirs = jose_jwt.encode({"iss": "acme", "aud": "our-service",
                                  "sub": "acme-batch", "iat": now,
                                  "exp": now + 300}, pem, algorithm="ES256")
        self.assertEqual(pe.accept(self.client, "acme", theirs)["sub"],
                         "acme-batch")
        expired = jose_jwt.encode({"iss": "acme", "aud": "our-service",
                                   "exp": now - 3600}, pem, algorithm="ES256")
        with self.assertRaises(keyward.jwt.ExpiredSignatureError):
            pe.accept(self.client, "acme", expired)
        other = ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()).decode()
        forged = jose_jwt.encode({"iss": "acme", "aud": "our-service",
                                  "exp": now + 300}, other, algorithm="ES256")
        with self.assertRaises(keyward.jwt.InvalidSignatureError):
            pe.accept(self.client, "acme", forged)


class ConsoleClientTest(DaemonCase):
    """(e) API-key console: login from a key file over loopback TCP."""
    daemon_options = {"tcp": True}

    def console(self, *args):
        return subprocess.run(
            [sys.executable, os.path.join(EXAMPLES, "console_client.py"),
             "--target", self.daemon.tcp_target] + list(args),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60,
            env=dict(os.environ), check=False)

    def test_login_and_calls(self):
        self.client.create_key("console-sig", "ED25519")
        secret = self.client.create_api_key("console").secret
        key_file = kwtest.write_secret(
            os.path.join(self.daemon.dir, "console.key"),
            secret.encode() + b"\n")
        self.client.create_policy("apikey:console", ["SIGN", "VERIFY",
                                                     "READ"], "console-*")
        whoami = self.console("--api-key-file", key_file, "whoami")
        self.assertEqual(whoami.returncode, 0, whoami.stderr)
        self.assertTrue(whoami.stdout.decode().startswith("apikey:console"))
        data = os.path.join(self.daemon.dir, "artifact")
        with open(data, "wb") as f:
            f.write(b"release 1.2.3")
        signed = self.console("--api-key-file", key_file, "sign",
                              "console-sig", data)
        self.assertEqual(signed.returncode, 0, signed.stderr)
        sig = signed.stdout.decode().strip()
        ok = self.console("--api-key-file", key_file, "verify",
                          "console-sig", data, sig)
        self.assertEqual((ok.returncode, ok.stdout.strip()), (0, b"valid"))
        with open(data, "ab") as f:
            f.write(b"!")
        bad = self.console("--api-key-file", key_file, "verify",
                           "console-sig", data, sig)
        self.assertEqual((bad.returncode, bad.stdout.strip()), (1, b"INVALID"))
        key = self.console("--api-key-file", key_file, "key", "console-sig")
        self.assertEqual(key.returncode, 0, key.stderr)
        self.assertEqual(key.stdout.decode().split()[0], "keys/console-sig")
        # No grant on another key: the daemon's PERMISSION_DENIED, exit 2.
        self.client.create_key("other-sig", "ED25519")
        denied = self.console("--api-key-file", key_file, "key", "other-sig")
        self.assertEqual(denied.returncode, 2)
        self.assertIn(b"PERMISSION_DENIED", denied.stderr)
        wrong = kwtest.write_secret(os.path.join(self.daemon.dir, "wrong.key"),
                                    b"kw_ak_wrong-secret-123\n")
        refused = self.console("--api-key-file", wrong, "whoami")
        self.assertEqual(refused.returncode, 2)
        self.assertIn(b"UNAUTHENTICATED", refused.stderr)
        self.assertNotIn(b"wrong-secret", refused.stderr)
        self.assertNotIn(secret.encode(), whoami.stdout + whoami.stderr)


if __name__ == "__main__":
    kwtest.main()
