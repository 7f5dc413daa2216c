"""keyward.envelope: envelope encryption of JSON values.

    blob = encrypt_json(client, "card-data", {"pan": "4111..."},
                        associated_data=b"order-17")
    obj = decrypt_json(client, "card-data", blob, associated_data=b"order-17")

encrypt_json asks the daemon for a fresh 256-bit data key (GenerateDataKey,
bound to associated_data, wrapped under the AES-256-GCM key `key`),
encrypts the JSON locally with AES-256-GCM (random 96-bit nonce, the same
associated data) and returns

    b"kwenv1." + base64url(wrapped data key) + b"." + base64url(nonce || ciphertext || tag)

(base64url without padding). decrypt_json unwraps the data key with
Decrypt (the daemon checks the associated data and the key) and opens the
body locally. So values of any size (not only the 64 KiB of Encrypt) are
protected, the daemon sees only the 32-byte data key, and one Decrypt is
made per value. The data key is held in this process only during the call
(Python cannot wipe bytes; keep values short-lived if that matters).

Needs python3-cryptography (AESGCM). With a keyward.aio.Client both
functions return awaitables.

Errors: keyward.InvalidArgumentError for wrong associated data, another
key, or a tampered blob (one kind of error for all, as Decrypt);
keyward.NotFoundError, keyward.FailedPreconditionError (not an AES-256-GCM
ENCRYPT_DECRYPT key) and the other KeywardErrors of the calls; TypeError
for a value json cannot encode.
"""

import base64
import binascii
import json
import os
from typing import Any

import grpc

from keyward.errors import InvalidArgumentError

FORMAT = b"kwenv1"
_NONCE = 12
_METHOD = "keyward.envelope"


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _unb64(text: bytes) -> bytes:
    return base64.urlsafe_b64decode(text + b"=" * (-len(text) % 4))


def _refused() -> InvalidArgumentError:
    return InvalidArgumentError(grpc.StatusCode.INVALID_ARGUMENT,
                                "not a valid kwenv1 envelope, or it was "
                                "made with other associated data or key",
                                _METHOD)


def _aesgcm(data_key: bytes) -> Any:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    return AESGCM(data_key)


def encrypt_json(client: Any, key: str, obj: Any,
                 associated_data: bytes = b"") -> Any:
    """The kwenv1 envelope (bytes) of json.dumps(obj) under `key` (an
    AES-256-GCM ENCRYPT_DECRYPT key), bound to associated_data. Errors: see
    the module."""
    body = json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()
    ad = bytes(associated_data)

    def seal(data_key: Any) -> bytes:
        nonce = os.urandom(_NONCE)
        sealed = _aesgcm(data_key.plaintext).encrypt(nonce, body, ad)
        return b".".join([FORMAT, _b64(data_key.ciphertext),
                          _b64(nonce + sealed)])
    return client._then(client.generate_data_key(key, associated_data=ad),
                        seal)


def decrypt_json(client: Any, key: str, blob: bytes,
                 associated_data: bytes = b"") -> Any:
    """The JSON value of a kwenv1 envelope from encrypt_json() with the same
    key and associated_data. Errors: see the module."""
    from cryptography.exceptions import InvalidTag

    parts = bytes(blob).split(b".")
    if len(parts) != 3 or parts[0] != FORMAT:
        raise _refused()
    try:
        wrapped, body = _unb64(parts[1]), _unb64(parts[2])
    except (binascii.Error, ValueError):
        raise _refused() from None
    if len(body) < _NONCE + 16:
        raise _refused()
    ad = bytes(associated_data)

    def open_body(data_key: bytes) -> Any:
        try:
            plain = _aesgcm(data_key).decrypt(body[:_NONCE], body[_NONCE:], ad)
        except (InvalidTag, ValueError):
            raise _refused() from None
        return json.loads(plain)
    return client._then(client.decrypt(key, wrapped, ad), open_body)
