"""keyward: a thin Python client for the Keyward daemon (keywardd).

    from keyward import Client, KeywardError

    client = Client("unix:///run/keyward/keyward.sock")  # or $KEYWARD_ADDR
    signature, raw_signature, key_version = client.sign("release", b"artifact")
    assert client.verify("release", b"artifact", signature)

Every method makes one RPC of keyward.v1 (see proto/keyward/v1/*.proto for
the limits and error codes); a failed call raises KeywardError with the
gRPC status code and the daemon's message.
"""

# The generated stubs live in another directory also named "keyward"
# (keyward/v1/*_pb2.py, from //proto:keyward_py); let both be one package.
__path__ = __import__("pkgutil").extend_path(__path__, __name__)

from keyward.client import (  # noqa: E402
    DEFAULT_SYSTEM_SOCKET,
    Client,
    KeywardError,
    SignResult,
    select_target,
)

__all__ = [
    "DEFAULT_SYSTEM_SOCKET",
    "Client",
    "KeywardError",
    "SignResult",
    "select_target",
]
