#!/bin/bash
# Runs a Node test with the runfiles' node/node_modules and
# client/node/node_modules (installed by `npm ci` in tests/interop/node and
# client/node; tools/test does both before bazel test) and the repo's protos.
# Usage: run_node_test.sh TEST.js [ARGS...]
set -euo pipefail
root="${TEST_SRCDIR:?run me with bazel test}/${TEST_WORKSPACE:-keyward}"
node_dir="$root/tests/interop/node"
client_dir="$root/client/node"
if [[ ! -f "$node_dir/node_modules/jose/package.json" ]]; then
  echo "node_interop_test: tests/interop/node/node_modules is missing;" \
       "run 'npm ci' in tests/interop/node first (tools/test does)" >&2
  exit 1
fi
if [[ ! -f "$client_dir/node_modules/@grpc/grpc-js/package.json" ||
      ! -f "$client_dir/node_modules/@grpc/proto-loader/package.json" ]]; then
  echo "node_interop_test: client/node/node_modules is missing;" \
       "run 'npm ci' in client/node first (tools/test does)" >&2
  exit 1
fi
node=$(command -v node || true)
[[ -n "$node" ]] || { echo "node_interop_test: node is not installed" >&2; exit 1; }
# --preserve-symlinks: resolve modules inside the runfiles tree (declared
# inputs), not through the symlinks into the source tree.
exec "$node" --preserve-symlinks --preserve-symlinks-main "$@" \
  --proto_root="$root/proto"
