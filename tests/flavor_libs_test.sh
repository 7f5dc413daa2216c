#!/usr/bin/env bash
# The two flavors must never load both libcryptos: the BoringSSL build links
# no OpenSSL 3, the default build no Android (BoringSSL) libcrypto.
set -euo pipefail
flavor=$1
bin=$2
libs=$(ldd "$bin")
echo "$libs"
case "$flavor" in
  boringssl)
    if grep -E 'libssl\.so\.3|libcrypto\.so\.3' <<<"$libs"; then
      echo "FAIL: the BoringSSL flavor links OpenSSL 3" >&2; exit 1
    fi
    grep -q 'android/libcrypto\.so' <<<"$libs" || {
      echo "FAIL: the BoringSSL flavor does not link BoringSSL's libcrypto" >&2; exit 1; }
    ;;
  openssl)
    if grep -q 'android' <<<"$libs"; then
      echo "FAIL: the default flavor links an Android (BoringSSL) library" >&2; exit 1
    fi
    grep -q 'libcrypto\.so\.3' <<<"$libs" || {
      echo "FAIL: the default flavor does not link OpenSSL 3" >&2; exit 1; }
    ;;
  *) echo "unknown flavor $flavor" >&2; exit 2 ;;
esac
echo "PASS: $flavor flavor links the right libcrypto"
