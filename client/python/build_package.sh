#!/bin/sh
# Copies the generated keyward.v1 stubs (Bazel outputs of //proto:keyward_py)
# into keyward/v1/ so that this directory is an installable package:
#
#   bazel build //proto:keyward_py
#   client/python/build_package.sh [STUBS_DIR]   # default: bazel-bin/proto/keyward/v1
#   /usr/bin/python3 -m pip install --no-index --no-build-isolation client/python
#
# keyward/v1/ is generated (see .gitignore); run this again after a change
# to proto/keyward/v1/*.proto.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
stubs=${1:-$here/../../bazel-bin/proto/keyward/v1}
if ! ls "$stubs"/*_pb2.py >/dev/null 2>&1; then
  echo "build_package.sh: no *_pb2.py in $stubs; run: bazel build //proto:keyward_py" >&2
  exit 1
fi
mkdir -p "$here/keyward/v1"
rm -f "$here/keyward/v1/"*.py
cp "$stubs"/*_pb2.py "$stubs"/*_pb2_grpc.py "$here/keyward/v1/"
chmod u+w "$here/keyward/v1/"*.py
printf '"""Generated keyward.v1 messages and gRPC stubs (protoc)."""\n' \
  > "$here/keyward/v1/__init__.py"
echo "build_package.sh: copied $(ls "$here/keyward/v1" | grep -c _pb2) stub files into $here/keyward/v1"
