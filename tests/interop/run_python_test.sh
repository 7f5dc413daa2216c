#!/bin/bash
# Runs a Python test on Debian's /usr/bin/python3 (it has python3-grpcio,
# python3-protobuf and python3-cryptography) with the Python client and the
# generated stubs from the runfiles on PYTHONPATH.
# Usage: run_python_test.sh TEST.py [ARGS...]
set -euo pipefail
root="${TEST_SRCDIR:?run me with bazel test}/${TEST_WORKSPACE:-keyward}"
# tests/python: kwtest and kwstorage (the keystore's backend).
export PYTHONPATH="$root/client/python:$root/proto:$root/tests/python"
export PYTHONDONTWRITEBYTECODE=1
exec /usr/bin/python3 "$@"
