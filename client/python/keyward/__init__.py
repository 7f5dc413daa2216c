"""keyward: the Python client of the Keyward daemon (keywardd).

    from keyward import Client, NotFoundError

    client = Client("unix:///run/keyward/keyward.sock")  # or $KEYWARD_ADDR
    client.create_key("release", "ED25519")
    sig = client.sign("release", b"artifact")
    assert client.verify("release", b"artifact", sig.signature)

keyward.Client is blocking; keyward.aio.Client is the same API for
asyncio. Every RPC of keyward.v1 is a method named by the RPC in
snake_case (see proto/keyward/v1/*.proto for limits and error codes);
results are described in keyward.types, errors in keyward.errors (a
KeywardError subclass per status code, never a bare grpc.RpcError).
keyward.jwt has PyJWT-shaped encode()/decode(); keyward.envelope has
encrypt_json()/decrypt_json().
"""

# In a source tree the generated stubs live in another directory also named
# "keyward" (keyward/v1/*_pb2.py, from //proto:keyward_py); let both be one
# package. Installed, keyward/v1 is inside this package.
__path__ = __import__("pkgutil").extend_path(__path__, __name__)

from keyward._base import DEFAULT_SYSTEM_SOCKET, select_target  # noqa: E402
from keyward.client import Client  # noqa: E402
from keyward.errors import (  # noqa: E402
    AbortedError, AlreadyExistsError, CancelledError, DataLossError,
    DeadlineExceededError, FailedPreconditionError, InternalError,
    InvalidArgumentError, KeywardError, NotFoundError, OutOfRangeError,
    PermissionDeniedError, ResourceExhaustedError, UnauthenticatedError,
    UnavailableError, UnimplementedError, UnknownError)
from keyward.types import (  # noqa: E402
    BatchResult, BoxResult, DataKey, DecryptedJwe, EncryptedJwe, ExportedKey,
    ImportedKey, JwtVerdict, MacResult, NewApiKey, PublicKey,
    ReEncryptResult, RetryPolicy, Session, SignedJwt, SignResult,
    TlsOptions, UnsealResult)

__version__ = "0.2.0"

__all__ = [
    "DEFAULT_SYSTEM_SOCKET", "Client", "select_target",
    "AbortedError", "AlreadyExistsError", "CancelledError", "DataLossError",
    "DeadlineExceededError", "FailedPreconditionError", "InternalError",
    "InvalidArgumentError", "KeywardError", "NotFoundError",
    "OutOfRangeError", "PermissionDeniedError", "ResourceExhaustedError",
    "UnauthenticatedError", "UnavailableError", "UnimplementedError",
    "UnknownError",
    "BatchResult", "BoxResult", "DataKey", "DecryptedJwe", "EncryptedJwe", "ExportedKey",
    "ImportedKey", "JwtVerdict", "MacResult", "NewApiKey", "PublicKey",
    "ReEncryptResult", "RetryPolicy", "Session", "SignedJwt", "SignResult",
    "TlsOptions", "UnsealResult",
]
