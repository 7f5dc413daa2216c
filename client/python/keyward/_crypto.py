"""CryptoService methods (sign, verify, encrypt, decrypt, MAC, data keys,
re-encryption, public keys and the batch forms), written once for the sync
and asyncio clients (see _base.py). Every call here changes no state, so
each is retried on UNAVAILABLE.

Errors (beyond each method's own): UnauthenticatedError,
PermissionDeniedError (no grant of the operation on the key),
ResourceExhaustedError (rate limit), UnavailableError (sealed, shutting
down, audit write failed), DataLossError; ValueError or TypeError before
any call for a bad argument.
"""

from typing import Any, Callable, Iterable, List, Optional, Sequence, Union

from keyward import _util
from keyward._base import ClientBase
from keyward.errors import error_from_item
from keyward.types import (BatchResult, BoxResult, DataKey, MacResult,
                           PublicKey, ReEncryptResult, SignResult)
from keyward.v1 import common_pb2
from keyward.v1 import crypto_service_pb2 as pb

_S = "CryptoService"
Algorithm = Union[str, int, None]


def _algorithm(value: Algorithm) -> int:
    return _util.optional_enum(common_pb2.SignatureAlgorithm,
                               "SIGNATURE_ALGORITHM_", value)


def _sign_request(key: str, data: Optional[bytes], digest: Optional[bytes],
                  algorithm: Algorithm) -> pb.SignRequest:
    req = pb.SignRequest(name=_util.key_name(key),
                         algorithm=_algorithm(algorithm))
    _util.set_one_of(req, data=data, digest=digest)
    return req


def _verify_request(key: str, data: Optional[bytes], signature: Optional[bytes],
                    digest: Optional[bytes] = None,
                    raw_signature: Optional[bytes] = None,
                    algorithm: Algorithm = None) -> pb.VerifyRequest:
    req = pb.VerifyRequest(name=_util.key_name(key),
                           algorithm=_algorithm(algorithm))
    _util.set_one_of(req, data=data, digest=digest)
    _util.set_one_of(req, signature=signature, raw_signature=raw_signature)
    return req


def _encrypt_request(key: str, plaintext: bytes,
                     associated_data: bytes = b"") -> pb.EncryptRequest:
    return pb.EncryptRequest(
        name=_util.key_name(key),
        plaintext=_util.as_bytes(plaintext, "plaintext"),
        associated_data=_util.as_bytes(associated_data, "associated_data"))


def _decrypt_request(key: str, ciphertext: Optional[bytes],
                     associated_data: bytes = b"",
                     raw_ciphertext: Optional[bytes] = None
                     ) -> pb.DecryptRequest:
    req = pb.DecryptRequest(
        name=_util.key_name(key),
        associated_data=_util.as_bytes(associated_data, "associated_data"))
    _util.set_one_of(req, ciphertext=ciphertext, raw_ciphertext=raw_ciphertext)
    return req


def _valid(r: Any) -> bool:
    return bool(r.valid)


def _ciphertext(r: Any) -> bytes:
    return r.ciphertext


def _raw_ciphertext(r: Any) -> bytes:
    return r.raw_ciphertext


def _plaintext(r: Any) -> bytes:
    return r.plaintext


def _batch(method: str, convert: Callable[[Any], Any]
           ) -> Callable[[Any], List[BatchResult]]:
    def results(response: Any) -> List[BatchResult]:
        out = []
        for r in response.results:
            if r.status.code:
                out.append(BatchResult(None, error_from_item(
                    r.status.code, r.status.message, _S + "/" + method)))
            else:
                out.append(BatchResult(convert(r.response)))
        return out
    return results


_FORMATS = {"pem": common_pb2.PUBLIC_KEY_FORMAT_PEM,
            "der": common_pb2.PUBLIC_KEY_FORMAT_DER,
            "jwk": common_pb2.PUBLIC_KEY_FORMAT_JWK}


def _format(fmt: str) -> int:
    try:
        return _FORMATS[str(fmt).lower()]
    except KeyError:
        raise ValueError("fmt must be one of pem, der, jwk, not %r" % (fmt,))


class CryptoMixin(ClientBase):
    """The CryptoService methods of keyward.Client and keyward.aio.Client."""

    def sign(self, key: str, data: Optional[bytes] = None, *,
             digest: Optional[bytes] = None, algorithm: Algorithm = None,
             timeout: Optional[float] = None) -> SignResult:
        """Signs `data` (at most 1 MiB) or a precomputed `digest` (ECDSA and
        RSA keys) with the key's primary version, or the named version.
        algorithm: e.g. "RSA_PKCS1_SHA256"; None means the key's default.
        Errors: InvalidArgumentError (sizes, digest length or misuse,
        algorithm not allowed); NotFoundError; FailedPreconditionError
        (purpose not SIGN_VERIFY, public-only key, version not usable)."""
        req = _sign_request(key, data, digest, algorithm)
        return self._unary(_S, "Sign", req, SignResult.from_pb,
                           idempotent=True, timeout=timeout)

    def verify(self, key: str, data: Optional[bytes] = None,
               signature: Optional[bytes] = None, *,
               digest: Optional[bytes] = None,
               raw_signature: Optional[bytes] = None,
               algorithm: Algorithm = None,
               timeout: Optional[float] = None) -> bool:
        """True if `signature` (self-describing, from sign()) or
        `raw_signature` (bare; `key` must then name a version) is valid for
        `data` or `digest`; False for a wrong, tampered or malformed one.
        Errors: InvalidArgumentError (request shape); NotFoundError;
        FailedPreconditionError (purpose, version not usable)."""
        req = _verify_request(key, data, signature, digest, raw_signature,
                              algorithm)
        return self._unary(_S, "Verify", req, _valid, idempotent=True,
                           timeout=timeout)

    def encrypt(self, key: str, plaintext: bytes, associated_data: bytes = b"",
                *, raw: bool = False,
                timeout: Optional[float] = None) -> bytes:
        """Encrypts `plaintext` (at most 64 KiB; less for RSA) with the
        key's primary version, binding `associated_data`; returns the
        self-describing ciphertext, or with raw=True the bare one in the key
        type's own format (XSALSA20_POLY1305: what PyNaCl's
        SecretBox.decrypt opens; X25519: a sealed box for SealedBox.decrypt;
        decrypt it here with raw_ciphertext= and a version name). Errors:
        InvalidArgumentError (sizes, associated data with a secretbox or
        X25519 key); NotFoundError; FailedPreconditionError (purpose,
        version not usable)."""
        return self._unary(_S, "Encrypt",
                           _encrypt_request(key, plaintext, associated_data),
                           _raw_ciphertext if raw else _ciphertext,
                           idempotent=True, timeout=timeout)

    def box(self, key: str, peer_public_key: bytes, plaintext: bytes, *,
            timeout: Optional[float] = None) -> BoxResult:
        """A NaCl crypto_box of `plaintext` (at most 64 KiB) from the X25519
        key's primary version to `peer_public_key` (raw 32 bytes, PyNaCl's
        bytes(PublicKey)): ciphertext is nonce || box, as PyNaCl's
        Box.encrypt makes; sender_public_key is the key's own. Errors:
        InvalidArgumentError (sizes, peer key not 32 bytes or of small
        order); NotFoundError; FailedPreconditionError (not an X25519
        ENCRYPT_DECRYPT key, version not usable)."""
        req = pb.BoxRequest(
            name=_util.key_name(key),
            peer_public_key=_util.as_bytes(peer_public_key, "peer_public_key"),
            plaintext=_util.as_bytes(plaintext, "plaintext"))
        return self._unary(_S, "Box", req, BoxResult.from_pb, idempotent=True,
                           timeout=timeout)

    def box_open(self, key: str, peer_public_key: bytes, ciphertext: bytes, *,
                 nonce: Optional[bytes] = None,
                 timeout: Optional[float] = None) -> bytes:
        """Opens a NaCl box sent by the holder of `peer_public_key` to the
        X25519 key (its primary version, or the version `key` names):
        `ciphertext` is nonce || box (PyNaCl's Box.encrypt output), or the
        bare box with `nonce` (24 bytes). Errors: InvalidArgumentError
        (nonce length, peer key, a box that is altered, truncated or from
        another sender: no plaintext); NotFoundError;
        FailedPreconditionError."""
        req = pb.BoxOpenRequest(
            name=_util.key_name(key),
            peer_public_key=_util.as_bytes(peer_public_key, "peer_public_key"),
            ciphertext=_util.as_bytes(ciphertext, "ciphertext"))
        if nonce is not None:
            req.nonce = _util.as_bytes(nonce, "nonce")
        return self._unary(_S, "BoxOpen", req, _plaintext, idempotent=True,
                           timeout=timeout)

    def decrypt(self, key: str, ciphertext: Optional[bytes] = None,
                associated_data: bytes = b"", *,
                raw_ciphertext: Optional[bytes] = None,
                timeout: Optional[float] = None) -> bytes:
        """Decrypts a ciphertext from encrypt(), generate_data_key() or
        re_encrypt() (or a bare `raw_ciphertext`, `key` naming a version:
        RSA-OAEP, or NaCl's secretbox, XChaCha20-Poly1305 or sealed box
        format, e.g. from PyNaCl); returns the plaintext. Errors: InvalidArgumentError
        (malformed, tampered, other key, wrong associated data: one message
        for all); NotFoundError; FailedPreconditionError."""
        req = _decrypt_request(key, ciphertext, associated_data, raw_ciphertext)
        return self._unary(_S, "Decrypt", req, _plaintext, idempotent=True,
                           timeout=timeout)

    def mac(self, key: str, data: bytes, *,
            timeout: Optional[float] = None) -> MacResult:
        """HMAC of `data` (at most 1 MiB) with a MAC key. Errors:
        InvalidArgumentError; NotFoundError; FailedPreconditionError."""
        req = pb.MacRequest(name=_util.key_name(key),
                            data=_util.as_bytes(data, "data"))
        return self._unary(_S, "Mac", req, MacResult.from_pb, idempotent=True,
                           timeout=timeout)

    def verify_mac(self, key: str, data: bytes, mac: Optional[bytes] = None,
                   *, raw_mac: Optional[bytes] = None,
                   timeout: Optional[float] = None) -> bool:
        """True if `mac` (from mac()) or `raw_mac` (bare tag; `key` a
        version) matches `data`. Errors: InvalidArgumentError;
        NotFoundError; FailedPreconditionError."""
        req = pb.VerifyMacRequest(name=_util.key_name(key),
                                  data=_util.as_bytes(data, "data"))
        _util.set_one_of(req, mac=mac, raw_mac=raw_mac)
        return self._unary(_S, "VerifyMac", req, _valid, idempotent=True,
                           timeout=timeout)

    def generate_data_key(self, key: str, *, length: int = 32,
                          associated_data: bytes = b"",
                          wrapped_only: bool = False,
                          timeout: Optional[float] = None) -> DataKey:
        """A random data key (16, 32 or 64 bytes) for envelope encryption,
        in the clear (unless wrapped_only) and wrapped under an AES-256-GCM
        key; unwrap it later with decrypt(key, wrapped, associated_data).
        Errors: InvalidArgumentError (length); NotFoundError;
        FailedPreconditionError (not an AES ENCRYPT_DECRYPT key)."""
        req = pb.GenerateDataKeyRequest(
            name=_util.key_name(key), length_bytes=length,
            associated_data=_util.as_bytes(associated_data, "associated_data"),
            wrapped_only=wrapped_only)
        return self._unary(_S, "GenerateDataKey", req, DataKey.from_pb,
                           idempotent=True, timeout=timeout)

    def re_encrypt(self, key: str, ciphertext: bytes,
                   associated_data: bytes = b"", *,
                   destination: Optional[str] = None,
                   destination_associated_data: Optional[bytes] = None,
                   timeout: Optional[float] = None) -> ReEncryptResult:
        """Moves a ciphertext to the primary version of `destination` (the
        same key by default) without the plaintext leaving the daemon.
        Errors: as decrypt() for the source and encrypt() for the
        destination."""
        req = pb.ReEncryptRequest(
            name=_util.key_name(key),
            ciphertext=_util.as_bytes(ciphertext, "ciphertext"),
            associated_data=_util.as_bytes(associated_data, "associated_data"))
        if destination is not None:
            req.destination_name = _util.key_name(destination)
        if destination_associated_data is not None:
            req.destination_associated_data = _util.as_bytes(
                destination_associated_data, "destination_associated_data")
        return self._unary(_S, "ReEncrypt", req, ReEncryptResult.from_pb,
                           idempotent=True, timeout=timeout)

    def get_public_key(self, key: str, fmt: str = "pem", *,
                       timeout: Optional[float] = None) -> PublicKey:
        """The public key of the primary (or named) version, with its
        format, version, type and kid. fmt: "pem", "der" or "jwk" (else
        ValueError). Errors: InvalidArgumentError; NotFoundError;
        FailedPreconditionError (symmetric key, version destroyed)."""
        req = pb.GetPublicKeyRequest(name=_util.key_name(key),
                                     format=_format(fmt))
        return self._unary(_S, "GetPublicKey", req, PublicKey.from_pb,
                           idempotent=True, timeout=timeout)

    def public_key(self, key: str, fmt: str = "pem", *,
                   timeout: Optional[float] = None) -> bytes:
        """get_public_key(key, fmt).public_key: PEM or JWK (UTF-8 text) or
        DER bytes. Errors: as get_public_key()."""
        return self._then(self.get_public_key(key, fmt, timeout=timeout),
                          lambda r: r.public_key)

    def batch_sign(self, items: Iterable[Sequence[Any]], *,
                   algorithm: Algorithm = None,
                   timeout: Optional[float] = None) -> List[BatchResult]:
        """Signs many items in one call: each (key, data). Returns a
        BatchResult per item, in order, whose value is a SignResult.
        Errors of the whole call: InvalidArgumentError (not 1 to 1000
        items); per item: as sign()."""
        return self._batch_call(
            "BatchSign", [_sign_request(key, data, None, algorithm)
                          for key, data in items], SignResult.from_pb, timeout)

    def batch_verify(self, items: Iterable[Sequence[Any]], *,
                     timeout: Optional[float] = None) -> List[BatchResult]:
        """Verifies many items in one call: each (key, data, signature).
        BatchResult values are bools. Errors: as batch_sign()."""
        return self._batch_call(
            "BatchVerify", [_verify_request(key, data, sig)
                            for key, data, sig in items], _valid, timeout)

    def batch_encrypt(self, items: Iterable[Sequence[Any]], *,
                      timeout: Optional[float] = None) -> List[BatchResult]:
        """Encrypts many items in one call: each (key, plaintext) or (key,
        plaintext, associated_data). BatchResult values are ciphertexts.
        Errors: as batch_sign()."""
        requests = [_encrypt_request(*item) for item in items]
        return self._batch_call("BatchEncrypt", requests, _ciphertext, timeout)

    def batch_decrypt(self, items: Iterable[Sequence[Any]], *,
                      timeout: Optional[float] = None) -> List[BatchResult]:
        """Decrypts many items in one call: each (key, ciphertext) or (key,
        ciphertext, associated_data). BatchResult values are plaintexts.
        Errors: as batch_sign()."""
        return self._batch_call(
            "BatchDecrypt", [_decrypt_request(*item) for item in items],
            _plaintext, timeout)

    def _batch_call(self, method: str, requests: List[Any],
                    convert: Callable[[Any], Any],
                    timeout: Optional[float]) -> List[BatchResult]:
        """One Batch* call (never raising for an item: see _batch)."""
        request = getattr(pb, method + "Request")(requests=requests)
        return self._unary(_S, method, request, _batch(method, convert),
                           idempotent=True, timeout=timeout)
