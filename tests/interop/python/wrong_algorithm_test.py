"""Every RPC that takes an algorithm, given one the key does not have (or a
number no algorithm has), against the real keywardd: INVALID_ARGUMENT, and
nothing made or changed. Sign, Verify, BatchSign, BatchVerify (the item's
code), CreateKey and ImportKey (signature_algorithms, jwe_algorithm),
SignJwt (an "alg" in the claims), EncryptJwe (algorithm, encryption),
DecryptJwe (the token's "alg"/"enc"); VerifyJwt answers a token naming
another alg with the contract's verdict, ALGORITHM_MISMATCH. Encrypt,
Decrypt, Mac and VerifyMac name no algorithm (crypto_service.proto).

Raw stubs, not keyward.Client: the client refuses unknown enum names before
any call, and these cases must reach the daemon.

Run by //tests/interop:python_wrong_algorithm_test:
    wrong_algorithm_test.py --keywardd=PATH [unittest args]
"""

import json
import os
import sys

import grpc
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import (
    Encoding, NoEncryption, PrivateFormat)
from jwcrypto import jwe as jwc_jwe
from jwcrypto import jwk as jwc_jwk

from keyward.v1 import common_pb2 as c
from keyward.v1 import crypto_service_pb2 as crypto_pb2
from keyward.v1 import crypto_service_pb2_grpc
from keyward.v1 import jwt_service_pb2 as jwt_pb2
from keyward.v1 import jwt_service_pb2_grpc
from keyward.v1 import key_service_pb2 as key_pb2
from keyward.v1 import key_service_pb2_grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from interop_test import ClientTestCase, b64u, keywardd_main  # noqa: E402

TIMEOUT = 10
NO_SUCH = 99  # a number no algorithm enum has
INVALID = grpc.StatusCode.INVALID_ARGUMENT


def rsa_pem():
    return rsa.generate_private_key(
        public_exponent=65537, key_size=2048).private_bytes(
            Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())


class WrongAlgorithmTest(ClientTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.channel = grpc.insecure_channel(cls.daemon.target)
        cls.keys = key_service_pb2_grpc.KeyServiceStub(cls.channel)
        cls.crypto = crypto_service_pb2_grpc.CryptoServiceStub(cls.channel)
        cls.jwts = jwt_service_pb2_grpc.JwtServiceStub(cls.channel)
        cls.create("rs512", c.KEY_TYPE_RSA_2048, c.KEY_PURPOSE_SIGN_VERIFY,
                   [c.SIGNATURE_ALGORITHM_RSA_PKCS1_SHA512])
        cls.create("jwt-ps384", c.KEY_TYPE_RSA_2048, c.KEY_PURPOSE_JWT,
                   [c.SIGNATURE_ALGORITHM_RSA_PSS_SHA384])
        cls.create("jwe-oaep256", c.KEY_TYPE_RSA_2048, c.KEY_PURPOSE_JWE,
                   jwe=c.JWE_ALGORITHM_RSA_OAEP_256)
        cls.create("jwe-dir", c.KEY_TYPE_AES256_GCM, c.KEY_PURPOSE_JWE,
                   jwe=c.JWE_ALGORITHM_DIR)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        super().tearDownClass()

    @classmethod
    def create(cls, key_id, key_type, purpose, algorithms=(),
               jwe=c.JWE_ALGORITHM_UNSPECIFIED):
        return cls.keys.CreateKey(key_pb2.CreateKeyRequest(
            key_id=key_id, key=c.Key(key_type=key_type, purpose=purpose,
                                     signature_algorithms=list(algorithms),
                                     jwe_algorithm=jwe)), timeout=TIMEOUT)

    def assert_refused(self, call, request, *named):
        """call(request) fails INVALID_ARGUMENT, its message naming each of
        `named` (the algorithm asked for and the key's)."""
        with self.assertRaises(grpc.RpcError) as cm:
            call(request, timeout=TIMEOUT)
        self.assertEqual(cm.exception.code(), INVALID,
                         "%s: %s" % (request, cm.exception.details()))
        for name in named:
            self.assertIn(name, cm.exception.details())

    def assert_absent(self, key_id):
        with self.assertRaises(grpc.RpcError) as cm:
            self.keys.GetKey(key_pb2.GetKeyRequest(name="keys/" + key_id),
                             timeout=TIMEOUT)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.NOT_FOUND)

    def sign(self, algorithm=c.SIGNATURE_ALGORITHM_UNSPECIFIED):
        return crypto_pb2.SignRequest(name="keys/rs512", data=b"m",
                                      algorithm=algorithm)

    def test_sign_and_verify(self):
        signed = self.crypto.Sign(self.sign(), timeout=TIMEOUT)
        self.assertEqual(signed.algorithm,
                         c.SIGNATURE_ALGORITHM_RSA_PKCS1_SHA512)
        for algorithm in (c.SIGNATURE_ALGORITHM_RSA_PSS_SHA256,
                          c.SIGNATURE_ALGORITHM_ECDSA_SHA256_DER, NO_SUCH):
            # An unknown number is named by its number.
            named = (str(NO_SUCH),) if algorithm == NO_SUCH else ()
            with self.subTest(algorithm=algorithm):
                self.assert_refused(self.crypto.Sign, self.sign(algorithm),
                                    *named)
                self.assert_refused(self.crypto.Verify, crypto_pb2.VerifyRequest(
                    name="keys/rs512", data=b"m", signature=signed.signature,
                    algorithm=algorithm))
                self.assert_refused(self.crypto.Verify, crypto_pb2.VerifyRequest(
                    name="keys/rs512/versions/1", data=b"m",
                    raw_signature=signed.raw_signature, algorithm=algorithm))
                batch = self.crypto.BatchSign(crypto_pb2.BatchSignRequest(
                    requests=[self.sign(), self.sign(algorithm)]),
                    timeout=TIMEOUT)
                self.assertEqual([r.status.code for r in batch.results],
                                 [0, INVALID.value[0]])
                self.assertEqual(batch.results[1].response.signature, b"")
                batch = self.crypto.BatchVerify(crypto_pb2.BatchVerifyRequest(
                    requests=[crypto_pb2.VerifyRequest(
                        name="keys/rs512", data=b"m",
                        signature=signed.signature, algorithm=algorithm)]),
                    timeout=TIMEOUT)
                self.assertEqual(batch.results[0].status.code,
                                 INVALID.value[0])
        # The refusals name both: what was asked and what the key has.
        self.assert_refused(self.crypto.Sign,
                            self.sign(c.SIGNATURE_ALGORITHM_RSA_PSS_SHA256),
                            "RSA-PSS-SHA256", "RSA-PKCS1-SHA512")

    def test_create_key(self):
        cases = (
            ("c-rsa-es", c.KEY_TYPE_RSA_2048, c.KEY_PURPOSE_JWT,
             [c.SIGNATURE_ALGORITHM_ECDSA_SHA256_P1363], 0),
            ("c-p256-es384", c.KEY_TYPE_ECDSA_P256, c.KEY_PURPOSE_SIGN_VERIFY,
             [c.SIGNATURE_ALGORITHM_ECDSA_SHA384_DER], 0),
            ("c-p521-der", c.KEY_TYPE_ECDSA_P521, c.KEY_PURPOSE_JWT,
             [c.SIGNATURE_ALGORITHM_ECDSA_SHA512_DER], 0),
            ("c-ed-unknown", c.KEY_TYPE_ED25519, c.KEY_PURPOSE_SIGN_VERIFY,
             [NO_SUCH], 0),
            ("c-hs-ed", c.KEY_TYPE_HMAC_SHA384, c.KEY_PURPOSE_JWT,
             [c.SIGNATURE_ALGORITHM_ED25519], 0),
            ("c-rsa-dir", c.KEY_TYPE_RSA_2048, c.KEY_PURPOSE_JWE, [],
             c.JWE_ALGORITHM_DIR),
            ("c-x25519-oaep", c.KEY_TYPE_X25519, c.KEY_PURPOSE_JWE, [],
             c.JWE_ALGORITHM_RSA_OAEP),
            ("c-aes-unknown", c.KEY_TYPE_AES256_GCM, c.KEY_PURPOSE_JWE, [],
             NO_SUCH),
            ("c-sign-jwe", c.KEY_TYPE_ED25519, c.KEY_PURPOSE_SIGN_VERIFY, [],
             c.JWE_ALGORITHM_ECDH_ES),
        )
        for key_id, key_type, purpose, algorithms, jwe in cases:
            with self.subTest(key_id=key_id):
                named = ((str(NO_SUCH),) if NO_SUCH in algorithms + [jwe]
                         else ())
                self.assert_refused(self.keys.CreateKey, key_pb2.CreateKeyRequest(
                    key_id=key_id, key=c.Key(
                        key_type=key_type, purpose=purpose,
                        signature_algorithms=algorithms, jwe_algorithm=jwe)),
                    *named)
                self.assert_absent(key_id)

    def test_import_key(self):
        pem = rsa_pem()
        p256 = ec.generate_private_key(ec.SECP256R1())
        jwk = jwc_jwk.JWK.from_pyca(p256.public_key()).export_public(
            as_dict=True)
        jwk["alg"] = "ES256"
        cases = (
            ("i-rsa-es", pem, key_pb2.KEY_MATERIAL_FORMAT_PRIVATE_KEY_PEM,
             c.KEY_PURPOSE_JWT, [c.SIGNATURE_ALGORITHM_ECDSA_SHA256_P1363], 0),
            ("i-rsa-unknown", pem, key_pb2.KEY_MATERIAL_FORMAT_PRIVATE_KEY_PEM,
             c.KEY_PURPOSE_SIGN_VERIFY, [NO_SUCH], 0),
            ("i-rsa-ecdh", pem, key_pb2.KEY_MATERIAL_FORMAT_PRIVATE_KEY_PEM,
             c.KEY_PURPOSE_JWE, [], c.JWE_ALGORITHM_ECDH_ES),
            # The JWK says ES256; the request asks for the DER form.
            ("i-jwk-other", json.dumps(jwk).encode(),
             key_pb2.KEY_MATERIAL_FORMAT_PUBLIC_KEY_JWK, c.KEY_PURPOSE_JWT,
             [c.SIGNATURE_ALGORITHM_ECDSA_SHA256_DER], 0),
        )
        for key_id, material, fmt, purpose, algorithms, jwe in cases:
            with self.subTest(key_id=key_id):
                req = key_pb2.ImportKeyRequest(
                    key_id=key_id, format=fmt, material=material,
                    key=c.Key(purpose=purpose, signature_algorithms=algorithms,
                              jwe_algorithm=jwe))
                if fmt == key_pb2.KEY_MATERIAL_FORMAT_PRIVATE_KEY_PEM:
                    req.key.key_type = c.KEY_TYPE_RSA_2048
                self.assert_refused(self.keys.ImportKey, req)
                self.assert_absent(key_id)
        # A JWK whose "alg" is not one its key can have.
        jwk["alg"] = "RS256"
        self.assert_refused(self.keys.ImportKey, key_pb2.ImportKeyRequest(
            key_id="i-jwk-rs", format=key_pb2.KEY_MATERIAL_FORMAT_PUBLIC_KEY_JWK,
            material=json.dumps(jwk).encode(),
            key=c.Key(purpose=c.KEY_PURPOSE_JWT)))
        self.assert_absent("i-jwk-rs")

    def test_sign_jwt_and_verify_jwt(self):
        # "alg" is the key's, never the caller's: in the claims it is refused.
        for claims in ('{"alg":"RS256"}', '{"alg":"PS384"}', '{"alg":"none"}'):
            self.assert_refused(self.jwts.SignJwt, jwt_pb2.SignJwtRequest(
                name="keys/jwt-ps384", claims_json=claims))
        token = self.jwts.SignJwt(jwt_pb2.SignJwtRequest(
            name="keys/jwt-ps384", claims_json='{"sub":"a"}'),
            timeout=TIMEOUT).token
        head, payload, sig = token.split(".")
        for alg, failure in (("RS384", "ALGORITHM_MISMATCH"),
                             ("ES384", "ALGORITHM_MISMATCH"),
                             ("HS384", "ALGORITHM_MISMATCH"),
                             ("none", "UNSUPPORTED_HEADER"),
                             ("PS999", "UNSUPPORTED_HEADER")):
            with self.subTest(alg=alg):
                header = json.dumps({"alg": alg, "kid": "jwt-ps384:v1"})
                verdict = self.jwts.VerifyJwt(jwt_pb2.VerifyJwtRequest(
                    token=".".join([b64u(header.encode()), payload, sig])),
                    timeout=TIMEOUT)
                self.assertFalse(verdict.valid)
                self.assertEqual(jwt_pb2.JwtFailure.Name(verdict.failure),
                                 "JWT_FAILURE_" + failure,
                                 verdict.failure_detail)

    def test_encrypt_jwe(self):
        cases = (
            ("jwe-oaep256", c.JWE_ALGORITHM_RSA_OAEP, 0,
             ("RSA-OAEP-256",)),
            ("jwe-oaep256", c.JWE_ALGORITHM_ECDH_ES, 0, ()),
            ("jwe-oaep256", NO_SUCH, 0, ("99",)),
            ("jwe-oaep256", 0, NO_SUCH, ("99",)),
            ("jwe-dir", c.JWE_ALGORITHM_A256GCMKW, 0, ()),
            ("jwe-dir", 0, c.JWE_ENCRYPTION_A128CBC_HS256, ()),
        )
        for key_id, algorithm, encryption, named in cases:
            with self.subTest(key_id=key_id, alg=algorithm, enc=encryption):
                self.assert_refused(self.jwts.EncryptJwe, jwt_pb2.EncryptJweRequest(
                    name="keys/" + key_id, algorithm=algorithm,
                    encryption=encryption, payload=b"x"), *named)

    def test_decrypt_jwe(self):
        public = jwc_jwk.JWK()
        public.import_key(**json.loads(self.crypto.GetPublicKey(
            crypto_pb2.GetPublicKeyRequest(
                name="keys/jwe-oaep256",
                format=c.PUBLIC_KEY_FORMAT_JWK),
            timeout=TIMEOUT).public_key))

        def jwe_to_key(alg, enc):
            obj = jwc_jwe.JWE(b"payload", json.dumps(
                {"alg": alg, "enc": enc, "kid": "jwe-oaep256:v1"}))
            obj.add_recipient(public)
            return obj.serialize(compact=True)

        ok = jwe_to_key("RSA-OAEP-256", "A256GCM")
        self.assertEqual(self.jwts.DecryptJwe(jwt_pb2.DecryptJweRequest(
            token=ok, name="keys/jwe-oaep256"), timeout=TIMEOUT).payload,
            b"payload")
        # Made for RSA-OAEP (SHA-1): the key is RSA-OAEP-256 only.
        tokens = [jwe_to_key("RSA-OAEP", "A256GCM")]
        # An "enc" Keyward does not know, or "alg" rewritten in the header.
        parts = ok.split(".")
        for header in ({"alg": "RSA-OAEP-256", "enc": "A999GCM"},
                       {"alg": "RSA1_5", "enc": "A256GCM"},
                       {"alg": "dir", "enc": "A256GCM"}):
            header["kid"] = "jwe-oaep256:v1"
            tokens.append(".".join([b64u(json.dumps(header).encode())]
                                   + parts[1:]))
        for token in tokens:
            for name in ("keys/jwe-oaep256", ""):
                with self.subTest(token=token[:60], name=name):
                    # Pinned or found by kid, one answer (no oracle).
                    self.assert_refused(self.jwts.DecryptJwe,
                                        jwt_pb2.DecryptJweRequest(
                                            token=token, name=name),
                                        "cannot be decrypted with this key")


if __name__ == "__main__":
    keywardd_main()
