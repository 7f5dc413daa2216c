#!/usr/bin/env bash
# The two flavors must never load both libcryptos: the BoringSSL build links
# no OpenSSL 3, the default build no Android (BoringSSL) libcrypto. Checked
# for every binary given (keywardd and the keyward CLI, as packaged by
# tools/package). None links libsystemd: keywardd speaks the sd_notify
# protocol itself (daemon/sd_notify.h), so both flavors stay free of it.
# keywardd links libsodium (the NaCl family) in both flavors: it needs no
# OpenSSL, so it may share a process with either libcrypto.
#   flavor_libs_test.sh openssl|boringssl BINARY...
set -euo pipefail
flavor=$1
shift
[[ $# -gt 0 ]] || { echo "usage: $0 FLAVOR BINARY..." >&2; exit 2; }
for bin in "$@"; do
  libs=$(ldd "$bin")
  echo "== $bin"
  echo "$libs"
  case "$flavor" in
    boringssl)
      if grep -E 'libssl\.so\.3|libcrypto\.so\.3' <<<"$libs"; then
        echo "FAIL: the BoringSSL flavor's $bin links OpenSSL 3" >&2; exit 1
      fi
      if [[ $(basename "$bin") == keywardd ]]; then
        grep -q 'android/libcrypto\.so' <<<"$libs" || {
          echo "FAIL: the BoringSSL flavor's $bin does not link BoringSSL's libcrypto" >&2; exit 1; }
      fi
      ;;
    openssl)
      if grep -q 'android' <<<"$libs"; then
        echo "FAIL: the default flavor's $bin links an Android (BoringSSL) library" >&2; exit 1
      fi
      grep -q 'libcrypto\.so\.3' <<<"$libs" || {
        echo "FAIL: the default flavor's $bin does not link OpenSSL 3" >&2; exit 1; }
      ;;
    *) echo "unknown flavor $flavor" >&2; exit 2 ;;
  esac
  if [[ $(basename "$bin") == keywardd ]]; then
    grep -q 'libsodium\.so' <<<"$libs" || {
      echo "FAIL: the $flavor flavor's $bin does not link libsodium" >&2; exit 1; }
  fi
  if grep -q 'libsystemd' <<<"$libs"; then
    echo "FAIL: $bin links libsystemd (sd_notify is built in)" >&2; exit 1
  fi
  if grep -q 'not found' <<<"$libs"; then
    echo "FAIL: $bin has a library that is not found" >&2; exit 1
  fi
done
echo "PASS: $flavor flavor: $# binaries link the right libraries"
