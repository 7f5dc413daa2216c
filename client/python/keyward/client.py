"""Client: a thin layer over the generated keyward.v1 gRPC stubs.

It adds target resolution (as the C++ client: explicit target, else
$KEYWARD_ADDR, else $XDG_RUNTIME_DIR/keyward/keyward.sock, else the system
socket), a deadline on every call, name shorthands ("pay" means
"keys/pay") and KeywardError in place of grpc.RpcError. It holds no key
material and caches nothing.
"""

import collections
import os

import grpc

from keyward.v1 import common_pb2
from keyward.v1 import crypto_service_pb2
from keyward.v1 import crypto_service_pb2_grpc
from keyward.v1 import key_service_pb2
from keyward.v1 import key_service_pb2_grpc

# The socket used when no target is given and neither $KEYWARD_ADDR nor
# $XDG_RUNTIME_DIR is set (as the C++ client's kDefaultSystemSocket).
DEFAULT_SYSTEM_SOCKET = "/var/lib/keyward/keyward.sock"

# sign() returns (signature, raw_signature, key_version): the
# self-describing signature for verify(), the bare signature in the
# algorithm's standard encoding for outside verifiers, and the version name.
SignResult = collections.namedtuple(
    "SignResult", ["signature", "raw_signature", "key_version"])

_PUBLIC_KEY_FORMATS = {
    "pem": common_pb2.PUBLIC_KEY_FORMAT_PEM,
    "der": common_pb2.PUBLIC_KEY_FORMAT_DER,
    "jwk": common_pb2.PUBLIC_KEY_FORMAT_JWK,
}


class KeywardError(Exception):
    """A failed call: `code` is the grpc.StatusCode, `message` the daemon's
    (or gRPC's) message, never secret."""

    def __init__(self, code, message, method=""):
        self.code = code
        self.message = message
        self.method = method
        name = code.name if isinstance(code, grpc.StatusCode) else str(code)
        prefix = method + ": " if method else ""
        super().__init__("%s%s: %s" % (prefix, name, message))


def select_target(target=None, environ=None):
    """The gRPC target string: `target` if given, else $KEYWARD_ADDR, else
    unix://$XDG_RUNTIME_DIR/keyward/keyward.sock, else the system socket.
    An absolute path "/p" means the Unix socket "unix:///p"."""
    env = os.environ if environ is None else environ
    chosen = target or env.get("KEYWARD_ADDR") or ""
    if not chosen:
        runtime = env.get("XDG_RUNTIME_DIR")
        if runtime:
            chosen = "unix://" + runtime + "/keyward/keyward.sock"
        else:
            chosen = "unix://" + DEFAULT_SYSTEM_SOCKET
    if chosen.startswith("/"):
        chosen = "unix://" + chosen
    return chosen


def _name(key):
    """"pay" -> "keys/pay"; "keys/pay" and "keys/pay/versions/2" unchanged."""
    return key if key.startswith("keys/") else "keys/" + key


def _enum(enum_type, prefix, value):
    """An enum value from its number, full name or short name
    ("ED25519", "KEY_TYPE_ED25519" or 5)."""
    if isinstance(value, int):
        return value
    text = str(value).upper()
    if not text.startswith(prefix):
        text = prefix + text
    try:
        return enum_type.Value(text)
    except ValueError:
        raise ValueError("unknown %s %r" % (enum_type.DESCRIPTOR.name, value))


def _default_purpose(key_type):
    name = common_pb2.KeyType.Name(key_type)
    if name == "KEY_TYPE_AES256_GCM":
        return common_pb2.KEY_PURPOSE_ENCRYPT_DECRYPT
    if name.startswith("KEY_TYPE_HMAC_"):
        return common_pb2.KEY_PURPOSE_MAC
    if name == "KEY_TYPE_ECDH_P256":
        return common_pb2.KEY_PURPOSE_JWE
    return common_pb2.KEY_PURPOSE_SIGN_VERIFY


class Client:
    """One connection to keywardd. Thread-safe (one gRPC channel).

    target: "unix:///abs/path.sock", "/abs/path.sock", or "host:port" for
    the daemon's plaintext loopback listener; None: see select_target().
    timeout: the deadline of each call, in seconds.
    """

    def __init__(self, target=None, timeout=10.0):
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.target = select_target(target)
        self.timeout = timeout
        self._channel = grpc.insecure_channel(self.target)
        self._crypto = crypto_service_pb2_grpc.CryptoServiceStub(self._channel)
        self._keys = key_service_pb2_grpc.KeyServiceStub(self._channel)

    def close(self):
        self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _call(self, method, request):
        try:
            return method(request, timeout=self.timeout)
        except grpc.RpcError as e:
            raise KeywardError(e.code(), e.details() or "",
                               type(request).__name__[:-len("Request")]) from None

    # --- CryptoService ---

    def sign(self, key, data, algorithm=None):
        """Signs `data` (bytes, at most 1 MiB) with the key's primary version
        (or the named version). algorithm: e.g. "RSA_PKCS1_SHA256"; None
        means the key's default. Returns SignResult(signature,
        raw_signature, key_version)."""
        req = crypto_service_pb2.SignRequest(name=_name(key), data=bytes(data))
        if algorithm is not None:
            req.algorithm = _enum(common_pb2.SignatureAlgorithm,
                                  "SIGNATURE_ALGORITHM_", algorithm)
        resp = self._call(self._crypto.Sign, req)
        return SignResult(resp.signature, resp.raw_signature, resp.key_version)

    def verify(self, key, data, signature):
        """True if `signature` (self-describing, from sign()) is valid for
        `data` under `key`; False for a wrong, tampered or malformed one."""
        req = crypto_service_pb2.VerifyRequest(
            name=_name(key), data=bytes(data), signature=bytes(signature))
        return self._call(self._crypto.Verify, req).valid

    def encrypt(self, key, plaintext, associated_data=b""):
        """Encrypts with the key's primary version; returns the
        self-describing ciphertext (bytes)."""
        req = crypto_service_pb2.EncryptRequest(
            name=_name(key), plaintext=bytes(plaintext),
            associated_data=bytes(associated_data))
        return self._call(self._crypto.Encrypt, req).ciphertext

    def decrypt(self, key, ciphertext, associated_data=b""):
        """Decrypts a ciphertext from encrypt(); returns the plaintext."""
        req = crypto_service_pb2.DecryptRequest(
            name=_name(key), ciphertext=bytes(ciphertext),
            associated_data=bytes(associated_data))
        return self._call(self._crypto.Decrypt, req).plaintext

    def public_key(self, key, fmt="pem"):
        """The public key of the primary (or named) version as bytes: PEM or
        JWK (UTF-8 text) or DER SubjectPublicKeyInfo."""
        try:
            pb_format = _PUBLIC_KEY_FORMATS[fmt.lower()]
        except KeyError:
            raise ValueError("fmt must be one of pem, der, jwk, not %r" % fmt)
        req = crypto_service_pb2.GetPublicKeyRequest(
            name=_name(key), format=pb_format)
        return self._call(self._crypto.GetPublicKey, req).public_key

    # --- KeyService ---

    def create_key(self, key_id, key_type, purpose=None):
        """Creates keys/{key_id} with a generated version 1. key_type: e.g.
        "ED25519", "ECDSA_P256", "RSA_2048", "AES256_GCM" (or the enum).
        purpose: e.g. "SIGN_VERIFY"; None picks SIGN_VERIFY for signing
        types, ENCRYPT_DECRYPT for AES, MAC for HMAC, JWE for ECDH (RSA
        encryption keys need purpose="ENCRYPT_DECRYPT"). Returns the created
        keyward.v1.Key."""
        pb_type = _enum(common_pb2.KeyType, "KEY_TYPE_", key_type)
        if purpose is None:
            pb_purpose = _default_purpose(pb_type)
        else:
            pb_purpose = _enum(common_pb2.KeyPurpose, "KEY_PURPOSE_", purpose)
        req = key_service_pb2.CreateKeyRequest(
            key_id=key_id,
            key=common_pb2.Key(key_type=pb_type, purpose=pb_purpose))
        return self._call(self._keys.CreateKey, req).key

    def rotate(self, key):
        """Makes a new primary version; returns its name
        ("keys/{id}/versions/{n}")."""
        req = key_service_pb2.RotateKeyRequest(name=_name(key))
        return self._call(self._keys.RotateKey, req).version.name
