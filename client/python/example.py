#!/usr/bin/python3
"""Signs a message with Keyward and verifies it, twice: through the daemon
(self-describing signature) and independently (raw signature against the
public key, with python3-cryptography).

    KEYWARD_ADDR=unix:///path/to/keywardd.sock \
    PYTHONPATH=client/python:bazel-bin/proto \
    /usr/bin/python3 client/python/example.py [KEY_ID]

(bazel build //proto:keyward_py first, for the generated stubs; the
bazel-bin symlink must point at that build.) The key is created as an
Ed25519 signing key if it does not exist. //tests/interop:python_interop_test
runs this example against a real daemon.
"""

import sys

import grpc
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from keyward import Client, KeywardError


def main():
    key_id = sys.argv[1] if len(sys.argv) > 1 else "example-ed25519"
    message = b"hello from the Keyward Python client"
    with Client() as client:  # target: $KEYWARD_ADDR
        try:
            client.create_key(key_id, "ED25519")
        except KeywardError as e:
            if e.code != grpc.StatusCode.ALREADY_EXISTS:
                raise
        signature, raw_signature, key_version = client.sign(key_id, message)
        print("signed by", key_version)
        print("daemon says valid:", client.verify(key_id, message, signature))
        print("daemon says tampered valid:",
              client.verify(key_id, message + b"!", signature))
        public_key = load_pem_public_key(client.public_key(key_version))
        public_key.verify(raw_signature, message)  # raises if invalid
        print("verified outside the daemon with", type(public_key).__name__)


if __name__ == "__main__":
    try:
        main()
    except KeywardError as e:
        sys.exit("example: %s" % e)
