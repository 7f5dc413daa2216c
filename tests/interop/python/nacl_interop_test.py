"""Interop, the NaCl family: the real keywardd and PyNaCl (Debian's
python3-nacl 1.5, over libsodium) both ways, through the Python client.

  secretbox   Keyward's raw Encrypt output opens with SecretBox.decrypt;
              SecretBox.encrypt output opens with Decrypt(raw_ciphertext).
  XChaCha     the same with crypto_aead_xchacha20poly1305_ietf_*.
  box         Box output opens with PyNaCl's Box.decrypt; Box.encrypt
              output opens with BoxOpen.
  sealed box  Keyward's raw Encrypt with an X25519 key opens with
              SealedBox.decrypt; SealedBox.encrypt output opens with
              Decrypt(raw_ciphertext).
Bad input: a ciphertext failing authentication, a box from an unknown
sender key, a wrong nonce length and a truncated sealed box are each
INVALID_ARGUMENT with no plaintext.

Run by //tests/interop:python_nacl_interop_test:
    nacl_interop_test.py --keywardd=PATH [unittest args]
"""

import os
import sys

import nacl.bindings
import nacl.exceptions
import nacl.utils
from cryptography.hazmat.primitives.asymmetric import x25519
from cryptography.hazmat.primitives.serialization import (
    Encoding, NoEncryption, PrivateFormat, PublicFormat, load_pem_public_key)
from nacl.public import Box, PrivateKey, PublicKey, SealedBox
from nacl.secret import SecretBox

from keyward import InvalidArgumentError
from keyward.v1 import common_pb2

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from interop_test import ClientTestCase, keywardd_main  # noqa: E402

MESSAGE = b"session key for console 42: \x00\x01\x02 and more"


class NaclInteropTest(ClientTestCase):
    def assert_invalid(self, call, *args, **kwargs):
        """The call raises InvalidArgumentError (and so returns nothing)."""
        with self.assertRaises(InvalidArgumentError) as caught:
            call(*args, **kwargs)
        self.assertEqual(caught.exception.code.name, "INVALID_ARGUMENT")
        return caught.exception

    def raw_public(self, key_id):
        """The key's raw 32-byte X25519 public key, read from its PEM."""
        pem = self.client.public_key(key_id)
        public = load_pem_public_key(pem)
        self.assertIsInstance(public, x25519.X25519PublicKey)
        return public.public_bytes(Encoding.Raw, PublicFormat.Raw)

    # --- secretbox ---

    def test_secretbox_both_ways(self):
        secret = nacl.utils.random(SecretBox.KEY_SIZE)
        imported = self.client.import_key(secret, "RAW_SECRET",
                                          key_id="nacl-secretbox",
                                          key_type="XSALSA20_POLY1305")
        version = imported.version.name
        self.assertEqual(version, "keys/nacl-secretbox/versions/1")
        ours = self.client.encrypt("nacl-secretbox", MESSAGE, raw=True)
        self.assertEqual(len(ours), 24 + 16 + len(MESSAGE))
        self.assertEqual(SecretBox(secret).decrypt(ours), MESSAGE)
        theirs = bytes(SecretBox(secret).encrypt(MESSAGE))
        self.assertEqual(self.client.decrypt(version, raw_ciphertext=theirs),
                         MESSAGE)
        # The self-describing form is "kw:v1:" + the same format.
        enveloped = self.client.encrypt("nacl-secretbox", MESSAGE)
        self.assertTrue(enveloped.startswith(b"kw:v1:"))
        self.assertEqual(SecretBox(secret).decrypt(enveloped[6:]), MESSAGE)
        self.assertEqual(self.client.decrypt("nacl-secretbox", enveloped),
                         MESSAGE)
        # Bad input: failing authentication, associated data.
        tampered = bytearray(theirs)
        tampered[-1] ^= 0x01
        self.assert_invalid(self.client.decrypt, version,
                            raw_ciphertext=bytes(tampered))
        self.assert_invalid(self.client.decrypt, version,
                            raw_ciphertext=theirs[:30])
        self.assert_invalid(self.client.encrypt, "nacl-secretbox", MESSAGE,
                            b"aad")

    def test_secretbox_generated_key(self):
        key = self.client.create_key("nacl-secretbox-gen", "XSALSA20_POLY1305")
        self.assertEqual(key.key_type, common_pb2.KEY_TYPE_XSALSA20_POLY1305)
        self.assertEqual(key.purpose, common_pb2.KEY_PURPOSE_ENCRYPT_DECRYPT)
        ct = self.client.encrypt("nacl-secretbox-gen", MESSAGE)
        self.assertEqual(self.client.decrypt("nacl-secretbox-gen", ct), MESSAGE)

    # --- XChaCha20-Poly1305 ---

    def test_xchacha_both_ways(self):
        secret = nacl.utils.random(32)
        imported = self.client.import_key(secret, "RAW_SECRET",
                                          key_id="nacl-xchacha",
                                          key_type="XCHACHA20_POLY1305")
        version = imported.version.name
        aad = b"order-17"
        ours = self.client.encrypt("nacl-xchacha", MESSAGE, aad, raw=True)
        self.assertEqual(
            nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
                ours[24:], aad, ours[:24], secret), MESSAGE)
        nonce = nacl.utils.random(24)
        theirs = nonce + nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
            MESSAGE, aad, nonce, secret)
        self.assertEqual(self.client.decrypt(version, associated_data=aad,
                                             raw_ciphertext=theirs), MESSAGE)
        self.assert_invalid(self.client.decrypt, version,
                            associated_data=b"order-18", raw_ciphertext=theirs)

    # --- box ---

    def test_box_both_ways(self):
        key = self.client.create_key("nacl-box", "X25519")
        self.assertEqual(key.key_type, common_pb2.KEY_TYPE_X25519)
        self.assertEqual(key.purpose, common_pb2.KEY_PURPOSE_ENCRYPT_DECRYPT)
        keyward_public = self.raw_public("nacl-box")
        jwk = self.client.public_key("nacl-box", "jwk")
        self.assertIn(b'"kty":"OKP","crv":"X25519"', jwk)
        peer = PrivateKey.generate()

        boxed = self.client.box("nacl-box", bytes(peer.public_key), MESSAGE)
        self.assertEqual(boxed.sender_public_key, keyward_public)
        self.assertEqual(boxed.key_version, "keys/nacl-box/versions/1")
        self.assertEqual(
            Box(peer, PublicKey(boxed.sender_public_key)).decrypt(
                boxed.ciphertext), MESSAGE)

        theirs = Box(peer, PublicKey(keyward_public)).encrypt(MESSAGE)
        self.assertEqual(self.client.box_open(
            "nacl-box", bytes(peer.public_key), bytes(theirs)), MESSAGE)
        self.assertEqual(self.client.box_open(
            "nacl-box", bytes(peer.public_key), theirs.ciphertext,
            nonce=theirs.nonce), MESSAGE)

        # Bad input: unknown sender, wrong nonce length, altered box, a
        # peer key of small order.
        stranger = PrivateKey.generate()
        self.assert_invalid(self.client.box_open, "nacl-box",
                            bytes(stranger.public_key), bytes(theirs))
        error = self.assert_invalid(self.client.box_open, "nacl-box",
                                    bytes(peer.public_key), theirs.ciphertext,
                                    nonce=theirs.nonce[:23])
        self.assertIn("nonce", error.message)
        altered = bytearray(bytes(theirs))
        altered[30] ^= 0x40
        self.assert_invalid(self.client.box_open, "nacl-box",
                            bytes(peer.public_key), bytes(altered))
        self.assert_invalid(self.client.box, "nacl-box", b"\x00" * 32, MESSAGE)
        self.assert_invalid(self.client.box, "nacl-box", b"\x01" * 31, MESSAGE)

    # --- sealed box ---

    def test_sealed_box_both_ways(self):
        ours_private = PrivateKey.generate()
        imported = self.client.import_key(bytes(ours_private), "RAW_SECRET",
                                          key_id="nacl-sealed",
                                          key_type="X25519")
        version = imported.version.name
        self.assertEqual(self.raw_public("nacl-sealed"),
                         bytes(ours_private.public_key))
        sealed = self.client.encrypt("nacl-sealed", MESSAGE, raw=True)
        self.assertEqual(len(sealed), 48 + len(MESSAGE))
        self.assertEqual(SealedBox(ours_private).decrypt(sealed), MESSAGE)

        theirs = SealedBox(ours_private.public_key).encrypt(MESSAGE)
        self.assertEqual(self.client.decrypt(version, raw_ciphertext=theirs),
                         MESSAGE)
        # Sealed to a generated key too, PyNaCl sealing to its public key.
        self.client.create_key("nacl-sealed-gen", "X25519")
        theirs = SealedBox(PublicKey(self.raw_public("nacl-sealed-gen"))).encrypt(
            MESSAGE)
        self.assertEqual(self.client.decrypt(
            "keys/nacl-sealed-gen/versions/1", raw_ciphertext=theirs), MESSAGE)

        # Bad input: truncated, altered, associated data.
        for n in (0, 31, 47, len(theirs) - 1):
            self.assert_invalid(self.client.decrypt,
                                "keys/nacl-sealed-gen/versions/1",
                                raw_ciphertext=theirs[:n])
        altered = bytearray(theirs)
        altered[40] ^= 0x01
        self.assert_invalid(self.client.decrypt,
                            "keys/nacl-sealed-gen/versions/1",
                            raw_ciphertext=bytes(altered))
        self.assert_invalid(self.client.encrypt, "nacl-sealed", MESSAGE, b"x")

    def test_x25519_pkcs8_import(self):
        private = x25519.X25519PrivateKey.generate()
        pem = private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8,
                                    NoEncryption())
        self.client.import_key(pem, "PRIVATE_KEY_PEM", key_id="nacl-pkcs8",
                               key_type="X25519")
        raw_private = private.private_bytes(Encoding.Raw, PrivateFormat.Raw,
                                            NoEncryption())
        peer = PrivateKey.generate()
        boxed = self.client.box("nacl-pkcs8", bytes(peer.public_key), MESSAGE)
        self.assertEqual(boxed.sender_public_key,
                         bytes(PrivateKey(raw_private).public_key))
        self.assertEqual(Box(peer, PublicKey(boxed.sender_public_key)).decrypt(
            boxed.ciphertext), MESSAGE)
        # A raw private key of the wrong size is refused.
        self.assert_invalid(self.client.import_key, b"\x01" * 31,
                            "RAW_SECRET", key_id="nacl-short",
                            key_type="X25519")

    def test_box_needs_an_x25519_key(self):
        self.client.create_key("nacl-aes", "AES256_GCM")
        with self.assertRaises(Exception) as caught:
            self.client.box("nacl-aes", bytes(PrivateKey.generate().public_key),
                            MESSAGE)
        self.assertEqual(caught.exception.code.name, "FAILED_PRECONDITION")


if __name__ == "__main__":
    keywardd_main()
