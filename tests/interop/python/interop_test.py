"""Interop: the real keywardd driven by the Python client (grpcio), its raw
signatures checked independently with python3-cryptography.

Run by //tests/interop:python_interop_test:
    interop_test.py --keywardd=PATH [--example=PATH] [unittest args]
"""

import argparse
import base64
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import grpc
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.serialization import (
    Encoding, NoEncryption, PrivateFormat, PublicFormat, load_der_public_key,
    load_pem_public_key)

from keyward import Client, KeywardError
from keyward.v1 import common_pb2

import kwstorage  # tests/python: the keystore's backend (test target's)

ARGS = None  # set in main()
MESSAGE = b"interop: signed by keywardd, verified by python3-cryptography"


def _health_serving(channel):
    """grpc.health.v1.Health/Check("") == SERVING, by hand (HealthCheckRequest
    {} is empty; HealthCheckResponse{status: SERVING} is 08 01)."""
    check = channel.unary_unary(
        "/grpc.health.v1.Health/Check",
        request_serializer=lambda b: b,
        response_deserializer=lambda b: b)
    try:
        return check(b"", timeout=2) == b"\x08\x01"
    except grpc.RpcError:
        return False


class Daemon:
    """keywardd on a fresh data dir under /tmp (a socket path must fit in
    108 bytes, TEST_TMPDIR is too deep)."""

    def __init__(self, binary):
        self.binary = os.path.abspath(binary)
        self.dir = tempfile.mkdtemp(prefix="kwpy", dir="/tmp")
        self.socket = os.path.join(self.dir, "k.sock")
        self.target = "unix://" + self.socket
        self.passphrase = os.path.join(self.dir, "passphrase")
        fd = os.open(self.passphrase, os.O_WRONLY | os.O_CREAT | os.O_EXCL,
                     0o600)
        with os.fdopen(fd, "w") as f:
            f.write("python interop test passphrase\n")
        data_dir = os.path.join(self.dir, "data")
        os.mkdir(data_dir, 0o700)
        self.data_dir = data_dir
        self.config = os.path.join(self.dir, "keywardd.conf")
        with open(self.config, "w") as f:
            f.write(kwstorage.storage_config())
        init = subprocess.run(
            [self.binary, "init", "--config", self.config, "--data_dir",
             data_dir, "--passphrase_file", self.passphrase],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
        if init.returncode != 0:
            raise RuntimeError("keywardd init exited %d:\n%s" % (
                init.returncode, init.stdout.decode(errors="replace")))
        self.log_path = os.path.join(self.dir, "keywardd.log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [self.binary, "--config", self.config, "--data_dir", data_dir,
             "--passphrase_file", self.passphrase, "--socket", self.socket],
            stdout=self.log, stderr=subprocess.STDOUT)
        self._wait_serving(timeout=60)

    def output(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def _wait_serving(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("keywardd exited %d before serving:\n%s" % (
                    self.proc.returncode, self.output()))
            if os.path.exists(self.socket):
                with grpc.insecure_channel(self.target) as channel:
                    if _health_serving(channel):
                        return
            time.sleep(0.1)
        self.proc.kill()
        raise RuntimeError("keywardd not SERVING after %ds:\n%s" % (
            timeout, self.output()))

    def terminate(self, timeout=30):
        """SIGTERM; returns the exit code (negative: killed by a signal)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("keywardd ignored SIGTERM for %ds" %
                                     timeout)
        self.log.close()
        return self.proc.returncode

    def cleanup(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def stop(self):
        """SIGTERM, then cleanup; AssertionError unless keywardd exits 0."""
        try:
            code = self.terminate()
            if code != 0:
                raise AssertionError("keywardd exited %d after SIGTERM, want "
                                     "0:\n%s" % (code, self.output()))
        finally:
            self.cleanup()


class ClientTestCase(unittest.TestCase):
    """For the other interop programs (run through keywardd_main()): a
    keywardd for the class's tests with a keyward.Client on it, stopped
    after them (exit code 0 checked)."""
    keywardd = None  # the --keywardd binary, set by keywardd_main()
    daemon = None
    client = None

    @classmethod
    def setUpClass(cls):
        cls.daemon = Daemon(ClientTestCase.keywardd)
        cls.client = Client(cls.daemon.target)

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        cls.daemon.stop()


def keywardd_main():
    """main() of a test program run as PROGRAM --keywardd=PATH [unittest
    args]: runs the __main__ module's tests."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--keywardd", required=True)
    args, rest = parser.parse_known_args()
    ClientTestCase.keywardd = args.keywardd
    unittest.main(module="__main__", argv=[sys.argv[0]] + rest, verbosity=2)


# Encodings shared by the JOSE programs.

def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64u(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def as_str(token):
    """A token as text (some libraries return bytes)."""
    return token.decode() if isinstance(token, bytes) else token


def pkcs8_pem(private_key):
    """A python3-cryptography private key as unencrypted PKCS#8 PEM."""
    return private_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8,
                                     NoEncryption())


class InteropTest(ClientTestCase):

    # --- helpers ---

    def sign_and_fetch(self, key_id, key_type, want_algorithm):
        key = self.client.create_key(key_id, key_type)
        self.assertEqual(key.name, "keys/" + key_id)
        self.assertEqual(key.key_type,
                         common_pb2.KeyType.Value("KEY_TYPE_" + key_type))
        self.assertEqual(key.purpose, common_pb2.KEY_PURPOSE_SIGN_VERIFY)
        self.assertEqual(list(key.signature_algorithms)[:1], [want_algorithm])
        signature, raw, version = self.client.sign(key_id, MESSAGE)
        self.assertEqual(version, "keys/%s/versions/1" % key_id)
        self.assertTrue(raw)
        self.assertNotEqual(signature, raw)
        pem = self.client.public_key(key_id)  # PEM by default
        self.assertTrue(pem.startswith(b"-----BEGIN PUBLIC KEY-----\n"), pem)
        public_key = load_pem_public_key(pem)
        # DER is the same SubjectPublicKeyInfo.
        der = self.client.public_key(key_id, fmt="der")
        self.assertEqual(der, public_key.public_bytes(
            Encoding.DER, PublicFormat.SubjectPublicKeyInfo))
        self.assertEqual(load_der_public_key(der).public_bytes(
            Encoding.PEM, PublicFormat.SubjectPublicKeyInfo), pem)
        return signature, raw, public_key

    def check_daemon_verify(self, key_id, signature):
        self.assertIs(self.client.verify(key_id, MESSAGE, signature), True)
        self.assertIs(self.client.verify(key_id, MESSAGE + b"x", signature),
                      False)
        tampered = bytearray(signature)
        tampered[-1] ^= 0x01
        self.assertIs(self.client.verify(key_id, MESSAGE, bytes(tampered)),
                      False)

    @staticmethod
    def flip(raw):
        tampered = bytearray(raw)
        tampered[len(tampered) // 2] ^= 0x80
        return bytes(tampered)

    # --- tests ---

    def test_ed25519(self):
        signature, raw, pub = self.sign_and_fetch(
            "py-ed25519", "ED25519", common_pb2.SIGNATURE_ALGORITHM_ED25519)
        self.assertIsInstance(pub, ed25519.Ed25519PublicKey)
        self.assertEqual(len(raw), 64)
        pub.verify(raw, MESSAGE)  # raises InvalidSignature if wrong
        with self.assertRaises(InvalidSignature):
            pub.verify(self.flip(raw), MESSAGE)
        with self.assertRaises(InvalidSignature):
            pub.verify(raw, MESSAGE + b"x")
        self.check_daemon_verify("py-ed25519", signature)

    def test_ecdsa_p256(self):
        signature, raw, pub = self.sign_and_fetch(
            "py-p256", "ECDSA_P256",
            common_pb2.SIGNATURE_ALGORITHM_ECDSA_SHA256_DER)
        self.assertIsInstance(pub, ec.EllipticCurvePublicKey)
        self.assertEqual(pub.curve.name, "secp256r1")
        self.assertEqual(raw[0], 0x30)  # DER SEQUENCE
        pub.verify(raw, MESSAGE, ec.ECDSA(hashes.SHA256()))
        with self.assertRaises(InvalidSignature):
            pub.verify(self.flip(raw), MESSAGE, ec.ECDSA(hashes.SHA256()))
        with self.assertRaises(InvalidSignature):
            pub.verify(raw, MESSAGE + b"x", ec.ECDSA(hashes.SHA256()))
        self.check_daemon_verify("py-p256", signature)

    def test_rsa_2048_pss(self):
        signature, raw, pub = self.sign_and_fetch(
            "py-rsa", "RSA_2048", common_pb2.SIGNATURE_ALGORITHM_RSA_PSS_SHA256)
        self.assertIsInstance(pub, rsa.RSAPublicKey)
        self.assertEqual(pub.key_size, 2048)
        self.assertEqual(pub.public_numbers().e, 65537)
        self.assertEqual(len(raw), 256)
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
        pub.verify(raw, MESSAGE, pss, hashes.SHA256())
        with self.assertRaises(InvalidSignature):
            pub.verify(self.flip(raw), MESSAGE, pss, hashes.SHA256())
        with self.assertRaises(InvalidSignature):
            pub.verify(raw, MESSAGE + b"x", pss, hashes.SHA256())
        # Salt length is 32, not "any": a verifier demanding another fails.
        with self.assertRaises(InvalidSignature):
            pub.verify(raw, MESSAGE, padding.PSS(
                mgf=padding.MGF1(hashes.SHA256()), salt_length=20),
                hashes.SHA256())
        self.check_daemon_verify("py-rsa", signature)

    def test_jwe_from_python_jose_decrypts_in_keyward(self):
        """python-jose encrypts to the public key Keyward published (RSA-OAEP
        + A128CBC-HS256); Keyward decrypts. And Keyward's JWE verifies its
        shape with jwcrypto's header parser."""
        from jose import jwe as jose_jwe
        from jwcrypto import jwe as jwc_jwe
        from keyward.v1 import jwt_service_pb2, jwt_service_pb2_grpc
        stub = jwt_service_pb2_grpc.JwtServiceStub(self.client._channel)
        from keyward.v1 import key_service_pb2
        self.client.create_key("jwe-interop", "RSA_2048",
                               purpose=common_pb2.KEY_PURPOSE_JWE)
        # A JWE key has one alg: this one is made for RSA-OAEP (SHA-1).
        self.client._keys.CreateKey(key_service_pb2.CreateKeyRequest(
            key_id="jwe-oaep1", key=common_pb2.Key(
                key_type=common_pb2.KEY_TYPE_RSA_2048,
                purpose=common_pb2.KEY_PURPOSE_JWE,
                jwe_algorithm=common_pb2.JWE_ALGORITHM_RSA_OAEP)))
        pem = self.client.public_key("jwe-oaep1")
        token = jose_jwe.encrypt(b"card 4111", pem.decode(),
                                 algorithm="RSA-OAEP",
                                 encryption="A128CBC-HS256")
        if isinstance(token, bytes):
            token = token.decode()
        out = stub.DecryptJwe(jwt_service_pb2.DecryptJweRequest(
            token=token, name="keys/jwe-oaep1"))
        self.assertEqual(out.payload, b"card 4111")
        # The other key takes RSA-OAEP-256 only: the same kind of token is
        # refused, with one message for every cause.
        token256 = jose_jwe.encrypt(b"card 4111",
                                    self.client.public_key("jwe-interop").decode(),
                                    algorithm="RSA-OAEP",
                                    encryption="A128CBC-HS256")
        if isinstance(token256, bytes):
            token256 = token256.decode()
        with self.assertRaises(grpc.RpcError) as refused:
            stub.DecryptJwe(jwt_service_pb2.DecryptJweRequest(
                token=token256, name="keys/jwe-interop"))
        self.assertEqual(refused.exception.code(),
                         grpc.StatusCode.INVALID_ARGUMENT)
        # Keyward's own JWE parses as a standard compact JWE.
        enc = stub.EncryptJwe(jwt_service_pb2.EncryptJweRequest(
            name="keys/jwe-interop", payload=b"hello")).token
        parsed = jwc_jwe.JWE()
        parsed.deserialize(enc)
        self.assertEqual(parsed.jose_header["alg"], "RSA-OAEP-256")
        self.assertEqual(parsed.jose_header["kid"], "jwe-interop:v1")

    def test_encrypt_decrypt(self):
        self.client.create_key("py-aes", "AES256_GCM")
        plaintext = b"interop plaintext \x00\xff"
        aad = b"record-17"
        ciphertext = self.client.encrypt("py-aes", plaintext, aad)
        self.assertNotIn(plaintext, ciphertext)
        self.assertEqual(self.client.decrypt("keys/py-aes", ciphertext, aad),
                         plaintext)
        # Fresh nonce: same plaintext, another ciphertext.
        self.assertNotEqual(self.client.encrypt("py-aes", plaintext, aad),
                            ciphertext)
        self.assertEqual(self.client.decrypt(
            "py-aes", self.client.encrypt("py-aes", b""), b""), b"")
        tampered = bytearray(ciphertext)
        tampered[-1] ^= 0x01
        for ct, ad in ((bytes(tampered), aad), (ciphertext, b"record-18")):
            with self.assertRaises(KeywardError) as cm:
                self.client.decrypt("py-aes", ct, ad)
            self.assertEqual(cm.exception.code,
                             grpc.StatusCode.INVALID_ARGUMENT)

    def test_rotate(self):
        self.client.create_key("py-rotate", "ED25519")
        old = self.client.sign("py-rotate", MESSAGE)
        self.assertEqual(self.client.rotate("py-rotate"),
                         "keys/py-rotate/versions/2")
        new = self.client.sign("py-rotate", MESSAGE)
        self.assertEqual(new.key_version, "keys/py-rotate/versions/2")
        self.assertTrue(self.client.verify("py-rotate", MESSAGE, old.signature))
        self.assertTrue(self.client.verify("py-rotate", MESSAGE, new.signature))
        load_pem_public_key(self.client.public_key(new.key_version)).verify(
            new.raw_signature, MESSAGE)
        with self.assertRaises(InvalidSignature):
            load_pem_public_key(self.client.public_key(old.key_version)).verify(
                new.raw_signature, MESSAGE)

    def test_errors(self):
        with self.assertRaises(KeywardError) as cm:
            self.client.sign("py-missing", MESSAGE)
        self.assertEqual(cm.exception.code, grpc.StatusCode.NOT_FOUND)
        self.assertTrue(cm.exception.message)
        self.client.create_key("py-dup", "ED25519")
        with self.assertRaises(KeywardError) as cm:
            self.client.create_key("py-dup", "ED25519")
        self.assertEqual(cm.exception.code, grpc.StatusCode.ALREADY_EXISTS)
        with self.assertRaises(ValueError):
            self.client.public_key("py-dup", fmt="ssh")

    def test_keyward_addr(self):
        env_client = None
        saved = os.environ.get("KEYWARD_ADDR")
        os.environ["KEYWARD_ADDR"] = self.daemon.target
        try:
            env_client = Client()
            self.assertEqual(env_client.target, self.daemon.target)
            self.client.create_key("py-env", "ED25519")
            sig = env_client.sign("py-env", MESSAGE)
            self.assertTrue(env_client.verify("py-env", MESSAGE, sig.signature))
        finally:
            if env_client:
                env_client.close()
            if saved is None:
                del os.environ["KEYWARD_ADDR"]
            else:
                os.environ["KEYWARD_ADDR"] = saved

    def test_example(self):
        if not ARGS.example:
            self.skipTest("no --example")
        env = dict(os.environ, KEYWARD_ADDR=self.daemon.target)
        run = subprocess.run(
            [sys.executable, ARGS.example, "py-example"], env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        out = run.stdout.decode(errors="replace")
        self.assertEqual(run.returncode, 0, out)
        self.assertIn("daemon says valid: True", out)
        self.assertIn("daemon says tampered valid: False", out)
        self.assertIn("verified outside the daemon with", out)


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument("--keywardd", required=True)
    parser.add_argument("--example", default="")
    ARGS, rest = parser.parse_known_args()
    ClientTestCase.keywardd = ARGS.keywardd
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
