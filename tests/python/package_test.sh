#!/bin/bash
# Packaging: client/python/build_package.sh copies the generated stubs in,
# then `pip install --no-index --no-build-isolation` installs the package
# offline into a fresh venv (--system-site-packages: Debian's grpcio,
# protobuf, setuptools); package_smoke.py then runs from the venv, without
# PYTHONPATH, against a real keywardd.
# Usage: package_test.sh --keywardd=PATH
set -euo pipefail
root="${TEST_SRCDIR:?run me with bazel test}/${TEST_WORKSPACE:-keyward}"
tmp="$(mktemp -d "${TEST_TMPDIR:-/tmp}/pkg.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
export HOME="$tmp/home" PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
  PYTHONDONTWRITEBYTECODE=1
unset PYTHONPATH
args=()
for a in "$@"; do  # paths relative to the test's directory, made absolute
  case "$a" in
    --keywardd=*) args+=("--keywardd=$(readlink -f "${a#--keywardd=}")") ;;
    *) args+=("$a") ;;
  esac
done
mkdir -p "$HOME" "$tmp/src/keyward"
# A plain copy of the package sources, as a checkout has them.
for f in pyproject.toml README.md build_package.sh; do
  cp -L "$root/client/python/$f" "$tmp/src/$f"
done
cp -L "$root"/client/python/keyward/*.py "$tmp/src/keyward/"
chmod -R u+w "$tmp/src"

sh "$tmp/src/build_package.sh" "$root/proto/keyward/v1"
test -f "$tmp/src/keyward/v1/crypto_service_pb2_grpc.py"
if sh "$tmp/src/build_package.sh" "$tmp/nowhere" 2>/dev/null; then
  echo "FAIL: build_package.sh accepted a directory without stubs" >&2
  exit 1
fi

/usr/bin/python3 -m venv --system-site-packages "$tmp/venv"
"$tmp/venv/bin/python" -m pip install --no-index --no-build-isolation \
  "$tmp/src" > "$tmp/pip.log" 2>&1 || { cat "$tmp/pip.log" >&2; exit 1; }
rm -rf "$tmp/src"  # the installed copy must stand on its own
cd "$tmp"
"$tmp/venv/bin/python" "$root/tests/python/package_smoke.py" "${args[@]}" \
  --venv="$tmp/venv"
echo "PASS: installed keyward works from the venv"
