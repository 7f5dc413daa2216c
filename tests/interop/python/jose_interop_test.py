"""Interop, JWE directions that start outside Keyward: keys made in Python
and imported into the real keywardd (KeyService.ImportKey), Keyward's
EncryptJwe output decrypted by python-jose and jwcrypto with the private
key Python kept, and jwcrypto's JWEs decrypted by Keyward (DecryptJwe):
RSA-OAEP(-256), dir, A256GCMKW, ECDH-ES(+A256KW) over P-256 and X25519.
(jws_interop_test.py has every JWS algorithm both ways; interop_test.py
python-jose's JWE decrypted in Keyward.)

Libraries are Debian's python3-jose (3.3) and python3-jwcrypto (1.1).
python-jose 3.3 has no A256GCMKW and no ECDH-ES; those cases use jwcrypto.

Run by //tests/interop:python_jose_interop_test:
    jose_interop_test.py --keywardd=PATH [unittest args]
"""

import json
import os
import sys

import grpc
from cryptography.hazmat.primitives.asymmetric import ec, rsa, x25519
from cryptography.hazmat.primitives.serialization import (
    Encoding, NoEncryption, PrivateFormat, PublicFormat)
from jose import exceptions as jose_exceptions
from jose import jwe as jose_jwe
from jwcrypto import jwe as jwc_jwe
from jwcrypto import jwk as jwc_jwk

from keyward.v1 import common_pb2
from keyward.v1 import jwt_service_pb2 as jwt_pb2
from keyward.v1 import jwt_service_pb2_grpc
from keyward.v1 import key_service_pb2
from keyward.v1 import key_service_pb2_grpc

# The fixtures and helpers of the main Python interop test (same directory).
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from interop_test import (  # noqa: E402
    ClientTestCase, as_str, b64u, keywardd_main, pkcs8_pem, unb64u)

TIMEOUT = 10
PAYLOAD = b'{"card":"4111 1111 1111 1111","exp_month":12}'


def jwe_header(token):
    return json.loads(unb64u(token.split(".")[0]))


class JoseInteropTest(ClientTestCase):
    channel = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.channel = grpc.insecure_channel(cls.daemon.target)
        cls.keys = key_service_pb2_grpc.KeyServiceStub(cls.channel)
        cls.jwts = jwt_service_pb2_grpc.JwtServiceStub(cls.channel)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        super().tearDownClass()

    # --- helpers ---

    def assert_jwcrypto_to_keyward(self, key_id, alg, enc, recipient):
        """jwcrypto encrypts to `recipient` (kid key_id:v1); Keyward decrypts
        it, and refuses it altered. Returns the protected header used."""
        protected = {"alg": alg, "enc": enc, "kid": key_id + ":v1"}
        obj = jwc_jwe.JWE(PAYLOAD, json.dumps(protected))
        obj.add_recipient(recipient)
        token = obj.serialize(compact=True)
        self.assertEqual(self.decrypt_in_keyward(key_id, token), PAYLOAD)
        self.assert_decrypt_refused(key_id, self.tamper_jwe(token))
        return protected

    def import_jwe_key(self, key_id, key_type, algorithm, private_key):
        """Imports a Python-made private key as a JWE key with `algorithm`;
        returns its PKCS#8 PEM and the jwcrypto key."""
        pem = pkcs8_pem(private_key)
        self.import_key(key_id, key_type, common_pb2.KEY_PURPOSE_JWE,
                        key_service_pb2.KEY_MATERIAL_FORMAT_PRIVATE_KEY_PEM,
                        pem, jwe_algorithm=algorithm)
        if isinstance(private_key, x25519.X25519PrivateKey):
            # jwcrypto 1.1 reads no X25519 PEM: the OKP JWK from raw bytes.
            raw = private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw,
                                            NoEncryption())
            public = private_key.public_key().public_bytes(Encoding.Raw,
                                                           PublicFormat.Raw)
            return pem, jwc_jwk.JWK(kty="OKP", crv="X25519", x=b64u(public),
                                    d=b64u(raw))
        return pem, jwc_jwk.JWK.from_pem(pem)

    def import_key(self, key_id, key_type, purpose, fmt, material,
                   jwe_algorithm=common_pb2.JWE_ALGORITHM_UNSPECIFIED):
        """ImportKey as version 1 of a new key; checks what comes back."""
        req = key_service_pb2.ImportKeyRequest(
            key_id=key_id, format=fmt, material=material)
        req.key.key_type = key_type
        req.key.purpose = purpose
        req.key.jwe_algorithm = jwe_algorithm
        try:
            resp = self.keys.ImportKey(req, timeout=TIMEOUT)
        except grpc.RpcError as e:
            self.fail("ImportKey(%s, %s, %s) failed: %s %s" % (
                key_id, common_pb2.KeyType.Name(key_type),
                common_pb2.KeyPurpose.Name(purpose), e.code(), e.details()))
        self.assertEqual(resp.key.name, "keys/" + key_id)
        self.assertEqual(resp.key.key_type, key_type)
        self.assertEqual(resp.key.purpose, purpose)
        self.assertEqual(resp.key.primary_version, 1)
        self.assertEqual(resp.version.name, "keys/%s/versions/1" % key_id)
        self.assertEqual(resp.version.kid, key_id + ":v1")
        return resp

    # --- JWE: Keyward encrypts to a key Python holds ---

    ALG_NAMES = {
        common_pb2.JWE_ALGORITHM_RSA_OAEP: "RSA-OAEP",
        common_pb2.JWE_ALGORITHM_RSA_OAEP_256: "RSA-OAEP-256",
        common_pb2.JWE_ALGORITHM_DIR: "dir",
        common_pb2.JWE_ALGORITHM_A256GCMKW: "A256GCMKW",
        common_pb2.JWE_ALGORITHM_ECDH_ES: "ECDH-ES",
        common_pb2.JWE_ALGORITHM_ECDH_ES_A256KW: "ECDH-ES+A256KW",
    }
    ENC_NAMES = {
        common_pb2.JWE_ENCRYPTION_A128CBC_HS256: "A128CBC-HS256",
        common_pb2.JWE_ENCRYPTION_A256GCM: "A256GCM",
    }

    def encrypt_jwe(self, key_id, algorithm, encryption, payload=PAYLOAD):
        """EncryptJwe to keys/KEY_ID; checks the compact form and header."""
        resp = self.jwts.EncryptJwe(jwt_pb2.EncryptJweRequest(
            name="keys/" + key_id, algorithm=algorithm, encryption=encryption,
            payload=payload), timeout=TIMEOUT)
        self.assertEqual(resp.key_version, "keys/%s/versions/1" % key_id)
        self.assertEqual(len(resp.token.split(".")), 5)
        header = jwe_header(resp.token)
        self.assertEqual(header["alg"], self.ALG_NAMES[algorithm])
        self.assertEqual(header["enc"], self.ENC_NAMES[encryption])
        self.assertEqual(header["kid"], key_id + ":v1")
        self.assertNotIn(payload, resp.token.encode())
        return resp.token

    def decrypt_in_keyward(self, key_id, token):
        resp = self.jwts.DecryptJwe(jwt_pb2.DecryptJweRequest(
            token=as_str(token), name="keys/" + key_id), timeout=TIMEOUT)
        self.assertEqual(resp.key_version, "keys/%s/versions/1" % key_id)
        return resp.payload

    def assert_decrypt_refused(self, key_id, token):
        with self.assertRaises(grpc.RpcError) as cm:
            self.jwts.DecryptJwe(jwt_pb2.DecryptJweRequest(
                token=as_str(token), name="keys/" + key_id), timeout=TIMEOUT)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.INVALID_ARGUMENT,
                         cm.exception.details())

    @staticmethod
    def tamper_jwe(token):
        """Flips a bit of the JWE ciphertext (4th part)."""
        parts = token.split(".")
        raw = bytearray(unb64u(parts[3]))
        raw[0] ^= 0x01
        parts[3] = b64u(bytes(raw))
        return ".".join(parts)

    def jwcrypto_decrypt(self, token, key):
        obj = jwc_jwe.JWE()
        obj.deserialize(token, key=key)
        return obj.payload

    def test_rsa_jwe_decrypted_by_python(self):
        """RSA-OAEP and RSA-OAEP-256, each with A128CBC-HS256 and A256GCM:
        Keyward encrypts to an RSA key imported from Python; python-jose
        and jwcrypto decrypt with the Python-held private key."""
        wrong = jwc_jwk.JWK.generate(kty="RSA", size=2048)
        for key_id, algorithm, alg in (
                ("py-jwe-oaep", common_pb2.JWE_ALGORITHM_RSA_OAEP,
                 "RSA-OAEP"),
                ("py-jwe-oaep256", common_pb2.JWE_ALGORITHM_RSA_OAEP_256,
                 "RSA-OAEP-256")):
            private_key = rsa.generate_private_key(public_exponent=65537,
                                                   key_size=2048)
            pem, jwc_key = self.import_jwe_key(
                key_id, common_pb2.KEY_TYPE_RSA_2048, algorithm, private_key)
            for encryption, enc in (
                    (common_pb2.JWE_ENCRYPTION_A128CBC_HS256, "A128CBC-HS256"),
                    (common_pb2.JWE_ENCRYPTION_A256GCM, "A256GCM")):
                with self.subTest(alg=alg, enc=enc):
                    token = self.encrypt_jwe(key_id, algorithm, encryption)
                    self.assertEqual(jose_jwe.decrypt(token, pem.decode()),
                                     PAYLOAD)
                    self.assertEqual(self.jwcrypto_decrypt(token, jwc_key),
                                     PAYLOAD)
                    # The key matters: another RSA key cannot open it.
                    with self.assertRaises(jwc_jwe.InvalidJWEData):
                        self.jwcrypto_decrypt(token, wrong)
                    with self.assertRaises(jose_exceptions.JWEError):
                        jose_jwe.decrypt(token, wrong.export_to_pem(
                            private_key=True, password=None).decode())
                    # Integrity: a flipped ciphertext bit is refused.
                    with self.assertRaises(jwc_jwe.InvalidJWEData):
                        self.jwcrypto_decrypt(self.tamper_jwe(token), jwc_key)
                    with self.assertRaises(jose_exceptions.JWEError):
                        jose_jwe.decrypt(self.tamper_jwe(token), pem.decode())
                with self.subTest(alg=alg, enc=enc, direction="to keyward"):
                    # And back: jwcrypto encrypts to the same key, Keyward
                    # decrypts with the imported private key.
                    self.assert_jwcrypto_to_keyward(key_id, alg, enc, jwc_key)

    def test_aes_jwe_decrypted_by_python(self):
        """dir (A256GCM) and A256GCMKW with an AES-256 key imported as raw
        bytes: Keyward's JWE decrypts in jwcrypto (and, for dir, in
        python-jose, which has no A256GCMKW); jwcrypto's JWE decrypts in
        Keyward."""
        self.assertNotIn("A256GCMKW", jose_jwe.ALGORITHMS.SUPPORTED)
        for key_id, algorithm, alg in (
                ("py-jwe-dir", common_pb2.JWE_ALGORITHM_DIR, "dir"),
                ("py-jwe-gcmkw", common_pb2.JWE_ALGORITHM_A256GCMKW,
                 "A256GCMKW")):
            secret = os.urandom(32)
            self.import_key(key_id, common_pb2.KEY_TYPE_AES256_GCM,
                            common_pb2.KEY_PURPOSE_JWE,
                            key_service_pb2.KEY_MATERIAL_FORMAT_RAW_SECRET,
                            secret, jwe_algorithm=algorithm)
            jwc_key = jwc_jwk.JWK(kty="oct", k=b64u(secret))
            wrong = jwc_jwk.JWK(kty="oct", k=b64u(os.urandom(32)))
            with self.subTest(alg=alg):
                token = self.encrypt_jwe(key_id, algorithm,
                                         common_pb2.JWE_ENCRYPTION_A256GCM)
                self.assertEqual(self.jwcrypto_decrypt(token, jwc_key),
                                 PAYLOAD)
                if alg == "dir":
                    self.assertEqual(token.split(".")[1], "")  # no wrapped key
                    self.assertEqual(jose_jwe.decrypt(token, secret), PAYLOAD)
                    with self.assertRaises(jose_exceptions.JWEError):
                        jose_jwe.decrypt(token, os.urandom(32))
                else:
                    header = jwe_header(token)
                    self.assertEqual(len(unb64u(header["iv"])), 12)
                    self.assertEqual(len(unb64u(header["tag"])), 16)
                    self.assertEqual(len(unb64u(token.split(".")[1])), 32)
                with self.assertRaises(jwc_jwe.InvalidJWEData):
                    self.jwcrypto_decrypt(token, wrong)
                with self.assertRaises(jwc_jwe.InvalidJWEData):
                    self.jwcrypto_decrypt(self.tamper_jwe(token), jwc_key)
            with self.subTest(alg=alg, direction="to keyward"):
                protected = self.assert_jwcrypto_to_keyward(
                    key_id, alg, "A256GCM", jwc_key)
                # Made with another secret: refused, same status.
                obj = jwc_jwe.JWE(PAYLOAD, json.dumps(protected))
                obj.add_recipient(wrong)
                self.assert_decrypt_refused(key_id,
                                            obj.serialize(compact=True))

    def test_ecdh_es_jwe_decrypted_by_python(self):
        """ECDH-ES and ECDH-ES+A256KW on P-256 with a key imported from
        Python: Keyward's JWE (fresh "epk") decrypts in jwcrypto, and
        jwcrypto's decrypts in Keyward."""
        self.check_ecdh_jwe("py-jwe-ecdh", common_pb2.KEY_TYPE_ECDH_P256,
                            lambda: ec.generate_private_key(ec.SECP256R1()),
                            ("EC", "P-256"))

    def test_x25519_ecdh_es_jwe_both_ways(self):
        """The same over X25519 (RFC 8037): an OKP "epk", both ways."""
        self.check_ecdh_jwe("py-jwe-x25519", common_pb2.KEY_TYPE_X25519,
                            x25519.X25519PrivateKey.generate,
                            ("OKP", "X25519"))

    def check_ecdh_jwe(self, prefix, key_type, generate, kty_crv):
        for key_id, algorithm, alg in (
                (prefix, common_pb2.JWE_ALGORITHM_ECDH_ES, "ECDH-ES"),
                (prefix + "kw", common_pb2.JWE_ALGORITHM_ECDH_ES_A256KW,
                 "ECDH-ES+A256KW")):
            pem, jwc_key = self.import_jwe_key(key_id, key_type, algorithm,
                                               generate())
            wrong = jwc_jwk.JWK.generate(kty=kty_crv[0], crv=kty_crv[1])
            with self.subTest(alg=alg):
                token = self.encrypt_jwe(key_id, algorithm,
                                         common_pb2.JWE_ENCRYPTION_A256GCM)
                epk = jwe_header(token)["epk"]
                self.assertEqual((epk["kty"], epk["crv"]), kty_crv)
                self.assertNotIn("d", epk)
                self.assertEqual(token.split(".")[1] == "", alg == "ECDH-ES")
                self.assertEqual(self.jwcrypto_decrypt(token, jwc_key),
                                 PAYLOAD)
                with self.assertRaises(jwc_jwe.InvalidJWEData):
                    self.jwcrypto_decrypt(token, wrong)
                with self.assertRaises(jwc_jwe.InvalidJWEData):
                    self.jwcrypto_decrypt(self.tamper_jwe(token), jwc_key)
            with self.subTest(alg=alg, direction="to keyward"):
                public = jwc_jwk.JWK()
                public.import_key(**json.loads(jwc_key.export_public()))
                self.assert_jwcrypto_to_keyward(key_id, alg, "A256GCM", public)


if __name__ == "__main__":
    keywardd_main()
