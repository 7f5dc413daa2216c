#!/bin/bash
# Runs @keyward/client's `node --test` files against the runfiles' keywardd,
# with client/node/node_modules (installed by `npm ci` in client/node;
# tools/test does it before bazel test) and the repo's protos.
# Usage: run_test.sh --keywardd=PATH [--flavor=openssl|boringssl] TEST.js...
set -euo pipefail
root="${TEST_SRCDIR:?run me with bazel test}/${TEST_WORKSPACE:-keyward}"
pkg="$root/client/node"
for dep in @grpc/grpc-js @grpc/proto-loader; do
  if [[ ! -f "$pkg/node_modules/$dep/package.json" ]]; then
    echo "client/node: node_modules/$dep is missing; run 'npm ci' in" \
         "client/node first (tools/test does)" >&2
    exit 1
  fi
done
node=$(command -v node || true)
[[ -n "$node" ]] || { echo "client/node: node is not installed" >&2; exit 1; }
tests=()
for arg in "$@"; do
  case "$arg" in
    --keywardd=*) export KEYWARDD="$root/${arg#--keywardd=}" ;;
    --flavor=*) export KEYWARD_FLAVOR="${arg#--flavor=}" ;;
    *) tests+=("$root/$arg") ;;
  esac
done
export KEYWARD_PROTO_ROOT="$root/proto"
# --preserve-symlinks: resolve modules inside the runfiles tree (declared
# inputs), not through the symlinks into the source tree. The test runner
# gives the flags to each test file's process.
exec "$node" --preserve-symlinks --preserve-symlinks-main --test "${tests[@]}"
