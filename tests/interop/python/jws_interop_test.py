"""Interop, JWS, every algorithm Keyward signs (RFC 7518 and RFC 8037 less
"none"): HS256/384/512, RS256/384/512, PS256/384/512, ES256/384/512 and
EdDSA, each both ways with PyJWT, jwcrypto and python-jose (where it has the
algorithm):

- Keyward signs (SignJwt with a key made for that algorithm); each library
  verifies from the JWK Set alone (GetJwks). An HMAC key has no JWKS: its
  secret is made in Python and imported, and the libraries verify with it.
- Each library signs with a key made in Python; the key is imported into
  Keyward (ImportKey: private PEM with the key's algorithm set, or the
  secret), and VerifyJwt accepts the token by kid and pinned, refuses it
  tampered or naming another alg. The public JWK with its "alg" imports as
  a public-only key that verifies the same tokens.

Libraries are Debian's python3-jwt (PyJWT 2.6), python3-jwcrypto (1.1) and
python3-jose (3.3; no PS* and no EdDSA: asserted below, not skipped).

Run by //tests/interop:python_jws_interop_test:
    jws_interop_test.py --keywardd=PATH [unittest args]
"""

import collections
import json
import os
import sys
import time

import jwt as pyjwt  # python3-jwt (PyJWT)
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jose import exceptions as jose_exceptions
from jose import jwt as jose_jwt
from jwcrypto import jwk as jwc_jwk
from jwcrypto import jws as jwc_jws
from jwcrypto import jwt as jwc_jwt

from keyward import FailedPreconditionError

# The fixtures and helpers of the main Python interop test (same directory).
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from interop_test import (  # noqa: E402
    ClientTestCase, as_str, b64u, keywardd_main, pkcs8_pem, unb64u)


# alg: the JWS name; key_type: Keyward's KeyType (without KEY_TYPE_);
# algorithm: the key's SignatureAlgorithm (None for HMAC, whose alg comes
# from its type); make(): a fresh Python key (bytes for HMAC).
Alg = collections.namedtuple("Alg", "alg key_type algorithm make")


def _rsa(bits):
    return lambda: rsa.generate_private_key(public_exponent=65537,
                                            key_size=bits)


def _ec(curve):
    return lambda: ec.generate_private_key(curve)


MATRIX = (
    Alg("HS256", "HMAC_SHA256", None, lambda: os.urandom(32)),
    Alg("HS384", "HMAC_SHA384", None, lambda: os.urandom(48)),
    Alg("HS512", "HMAC_SHA512", None, lambda: os.urandom(64)),
    Alg("RS256", "RSA_2048", "RSA_PKCS1_SHA256", _rsa(2048)),
    Alg("RS384", "RSA_3072", "RSA_PKCS1_SHA384", _rsa(3072)),
    Alg("RS512", "RSA_2048", "RSA_PKCS1_SHA512", _rsa(2048)),
    Alg("PS256", "RSA_2048", "RSA_PSS_SHA256", _rsa(2048)),
    Alg("PS384", "RSA_2048", "RSA_PSS_SHA384", _rsa(2048)),
    Alg("PS512", "RSA_4096", "RSA_PSS_SHA512", _rsa(4096)),
    Alg("ES256", "ECDSA_P256", "ECDSA_SHA256_P1363", _ec(ec.SECP256R1())),
    Alg("ES384", "ECDSA_P384", "ECDSA_SHA384_P1363", _ec(ec.SECP384R1())),
    Alg("ES512", "ECDSA_P521", "ECDSA_SHA512_P1363", _ec(ec.SECP521R1())),
    Alg("EdDSA", "ED25519", "ED25519", ed25519.Ed25519PrivateKey.generate),
)
ALL_ALGS = {a.alg for a in MATRIX}
# What python-jose 3.3 can sign and verify of the matrix.
PYTHON_JOSE_ALGS = ALL_ALGS & set(jose_jwt.ALGORITHMS.SUPPORTED)


def header_of(token):
    return json.loads(unb64u(token.split(".")[0]))


def tamper_signature(token):
    """One bit of the signature flipped (decoded, flipped, re-encoded)."""
    head, payload, sig = token.split(".")
    raw = bytearray(unb64u(sig))
    raw[len(raw) // 2] ^= 0x01
    return ".".join([head, payload, b64u(bytes(raw))])


def with_alg(token, alg):
    """The token with its header's "alg" replaced, the rest kept."""
    header = header_of(token)
    header["alg"] = alg
    _, payload, sig = token.split(".")
    return ".".join([b64u(json.dumps(header).encode()), payload, sig])


def other_alg(alg):
    """Another algorithm of the matrix (the next one), for mismatches."""
    names = [a.alg for a in MATRIX]
    return names[(names.index(alg) + 1) % len(names)]


def jwcrypto_key(material):
    """A jwcrypto JWK for a Python key (bytes: an HMAC secret)."""
    if isinstance(material, bytes):
        return jwc_jwk.JWK(kty="oct", k=b64u(material))
    return jwc_jwk.JWK.from_pem(pkcs8_pem(material))


def signers(a, material):
    """(library, sign(claims, kid or None) -> token) of each library that
    has `a.alg`, signing with `material`."""
    pem_or_secret = (material if isinstance(material, bytes)
                     else pkcs8_pem(material).decode())
    jwc_key = jwcrypto_key(material)

    def headers(kid):
        return {"kid": kid} if kid else None

    def jwcrypto_sign(claims, kid):
        header = dict({"alg": a.alg, "typ": "JWT"}, **(headers(kid) or {}))
        token = jwc_jwt.JWT(header=header, claims=claims)
        token.make_signed_token(jwc_key)
        return token.serialize()

    out = [
        ("pyjwt", lambda c, kid: pyjwt.encode(c, material, algorithm=a.alg,
                                              headers=headers(kid))),
        ("jwcrypto", jwcrypto_sign),
    ]
    if a.alg in PYTHON_JOSE_ALGS:
        out.append(("python-jose", lambda c, kid: jose_jwt.encode(
            c, pem_or_secret, algorithm=a.alg, headers=headers(kid))))
    return out


def verifiers(a, key):
    """(library, verify(token) -> claims, error classes) of each library
    that has `a.alg`. key: the JWK Set (dict) Keyward published, or for
    HMAC the secret."""
    if isinstance(key, bytes):
        pyjwt_key, jose_key = key, key
        jwc_key = jwcrypto_key(key)
    else:
        jwc_key = jwc_jwk.JWKSet.from_json(json.dumps(key))
        jose_key = key

        def pyjwt_key_of(token):
            return pyjwt.PyJWKSet.from_dict(key)[header_of(token)["kid"]].key

    def pyjwt_verify(token):
        k = pyjwt_key if isinstance(key, bytes) else pyjwt_key_of(token)
        return pyjwt.decode(token, k, algorithms=[a.alg], audience="api")

    def jwcrypto_verify(token):
        t = jwc_jwt.JWT(jwt=token, key=jwc_key, algs=[a.alg],
                        check_claims={"aud": "api", "exp": None})
        return json.loads(t.claims)

    out = [
        ("pyjwt", pyjwt_verify, pyjwt.InvalidTokenError),
        ("jwcrypto", jwcrypto_verify, jwc_jws.InvalidJWSSignature),
    ]
    if a.alg in PYTHON_JOSE_ALGS:
        out.append(("python-jose", lambda token: jose_jwt.decode(
            token, jose_key, algorithms=[a.alg], audience="api"),
            jose_exceptions.JWTError))
    return out


class JwsInteropTest(ClientTestCase):
    def test_library_algorithms(self):
        """What each library can do, asserted so that a Debian upgrade that
        adds or drops an algorithm shows here instead of a silent skip."""
        self.assertEqual(len(MATRIX), 13)
        self.assertLessEqual(ALL_ALGS, set(
            pyjwt.algorithms.get_default_algorithms()))
        self.assertLessEqual(ALL_ALGS, set(jwc_jws.default_allowed_algs))
        self.assertEqual(PYTHON_JOSE_ALGS, {
            "HS256", "HS384", "HS512", "RS256", "RS384", "RS512",
            "ES256", "ES384", "ES512"})

    # --- Keyward signs, the libraries verify ---

    def keyward_key(self, a, key_id):
        """A JWT key for `a`: made by Keyward (asymmetric; returns its JWK
        Set) or imported from a Python secret (HMAC; returns the secret)."""
        if a.algorithm is None:
            secret = a.make()
            self.client.import_key(secret, "RAW_SECRET", key_id=key_id,
                                   key_type=a.key_type, purpose="JWT")
            # An HMAC key publishes nothing.
            with self.assertRaises(FailedPreconditionError):
                self.client.get_jwks(key_id)
            return secret
        key = self.client.create_key(key_id, a.key_type, "JWT",
                                     algorithms=[a.algorithm])
        self.assertEqual(len(key.signature_algorithms), 1)
        jwks = self.client.get_jwks(key_id)
        self.assertEqual(len(jwks["keys"]), 1)
        jwk = jwks["keys"][0]
        self.assertEqual((jwk["kid"], jwk["alg"], jwk["use"]),
                         (key_id + ":v1", a.alg, "sig"))
        for private in ("d", "p", "q", "dp", "dq", "qi", "k"):
            self.assertNotIn(private, jwk)
        return jwks

    def check_keyward_signed(self, a):
        key_id = "kw-" + a.alg.lower()
        key = self.keyward_key(a, key_id)
        signed = self.client.sign_jwt(key_id, {"sub": "alice", "aud": "api",
                                               "n": 17}, ttl=120)
        self.assertEqual(header_of(signed.token),
                         {"alg": a.alg, "kid": key_id + ":v1", "typ": "JWT"})
        for library, verify, refused in verifiers(a, key):
            with self.subTest(alg=a.alg, library=library):
                claims = verify(signed.token)
                self.assertEqual((claims["sub"], claims["n"]), ("alice", 17))
                self.assertEqual(claims["exp"] - claims["iat"], 120)
                with self.assertRaises(refused):
                    verify(tamper_signature(signed.token))

    def test_keyward_signed_verifies_in_each_library(self):
        for a in MATRIX:
            self.check_keyward_signed(a)

    # --- the libraries sign, Keyward verifies ---

    def assert_valid(self, verdict, key_id, claims, kid):
        self.assertEqual((verdict.valid, verdict.failure), (True, ""),
                         verdict.failure_detail)
        self.assertEqual(verdict.claims, claims)
        self.assertEqual(verdict.header.get("kid"), kid)
        self.assertEqual(verdict.key_version, "keys/%s/versions/1" % key_id)

    def assert_invalid(self, verdict, failure):
        self.assertEqual((verdict.valid, verdict.failure), (False, failure),
                         verdict.failure_detail)
        self.assertIsNone(verdict.claims)

    @staticmethod
    def claims(library):
        now = int(time.time())
        return {"sub": "alice", "aud": "api", "iss": "https://login.example",
                "iat": now, "nbf": now, "exp": now + 300, "lib": library}

    def import_library_key(self, a, key_id):
        """Imports a fresh Python key for `a` (the secret, or the private
        PEM with the key's algorithm set); returns the Python key."""
        material = a.make()
        if a.algorithm is None:
            imported = self.client.import_key(
                material, "RAW_SECRET", key_id=key_id, key_type=a.key_type,
                purpose="JWT")
            self.assertEqual(list(imported.key.signature_algorithms), [])
        else:
            imported = self.client.import_key(
                pkcs8_pem(material), "PRIVATE_KEY_PEM", key_id=key_id,
                key_type=a.key_type, purpose="JWT", algorithms=[a.algorithm])
            self.assertEqual(len(imported.key.signature_algorithms), 1)
        self.assertEqual(imported.version.kid, key_id + ":v1")
        return material

    def check_library_signed(self, a):
        key_id = "lib-" + a.alg.lower()
        name = "keys/" + key_id
        kid = key_id + ":v1"
        material = self.import_library_key(a, key_id)
        verify = self.client.verify_jwt
        for library, sign in signers(a, material):
            with self.subTest(alg=a.alg, library=library):
                claims = self.claims(library)
                token = as_str(sign(claims, kid))
                self.assertEqual(header_of(token)["alg"], a.alg)
                # Found by kid among the daemon's JWT keys, and pinned.
                self.assert_valid(verify(token, audience="api"), key_id,
                                  claims, kid)
                self.assert_valid(verify(token, key=name, audience="api"),
                                  key_id, claims, kid)
                self.assert_invalid(verify(tamper_signature(token),
                                           audience="api"), "BAD_SIGNATURE")
                self.assert_invalid(verify(token, audience="web"),
                                    "AUDIENCE_MISMATCH")
                # Another alg in the header: refused before the signature.
                self.assert_invalid(
                    verify(with_alg(token, other_alg(a.alg)), audience="api"),
                    "ALGORITHM_MISMATCH")
                # A token minted before the key moved into Keyward: no kid;
                # it verifies only with the key pinned.
                bare = as_str(sign(claims, None))
                self.assertNotIn("kid", header_of(bare))
                self.assert_valid(verify(bare, key=name, audience="api"),
                                  key_id, claims, None)
                self.assert_invalid(verify(bare, audience="api"),
                                    "KEY_NOT_FOUND")
        if a.algorithm is not None:
            self.check_public_jwk(a, material)

    def check_public_jwk(self, a, private_key):
        """The public JWK with "alg" and a partner's kid imports as a
        public-only key of that algorithm, which verifies PyJWT's token."""
        key_id = "jwk-" + a.alg.lower()
        kid = "partner-" + a.alg
        jwk = jwcrypto_key(private_key).export_public(as_dict=True)
        jwk.update(alg=a.alg, kid=kid)
        imported = self.client.import_key(
            json.dumps(jwk).encode(), "PUBLIC_KEY_JWK", key_id=key_id,
            purpose="JWT")
        self.assertTrue(imported.key.public_only)
        self.assertEqual(imported.version.kid, kid)
        self.assertEqual(self.client.get_jwks(key_id)["keys"][0]["alg"], a.alg)
        claims = self.claims("pyjwt")
        token = pyjwt.encode(claims, private_key, algorithm=a.alg,
                             headers={"kid": kid})
        self.assert_valid(self.client.verify_jwt(token, audience="api"),
                          key_id, claims, kid)

    def test_library_signed_verifies_in_keyward(self):
        for a in MATRIX:
            self.check_library_signed(a)


if __name__ == "__main__":
    keywardd_main()
