#!/usr/bin/env bash
# Runs the README's quick start (the block between <!-- quickstart --> and
# <!-- /quickstart -->) against a real keywardd, as a newcomer would after
# tools/run: every line must succeed.
set -euo pipefail
readme=$(readlink -f "$1") keywardd=$(readlink -f "$2") keyward=$(readlink -f "$3")

work=$(mktemp -d /tmp/kw-readme-XXXXXX)
trap 'kill $daemon 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/bin" "$work/demo"
ln -s "$keyward" "$work/bin/keyward"
(umask 077; head -c 32 /dev/urandom | base64 > "$work/demo/passphrase")
"$keywardd" init --data-dir "$work/demo" --passphrase-file "$work/demo/passphrase"
"$keywardd" --data-dir "$work/demo" --passphrase-file "$work/demo/passphrase" \
  --socket "$work/demo/keywardd.sock" 2> "$work/keywardd.log" &
daemon=$!
for _ in $(seq 100); do [[ -S "$work/demo/keywardd.sock" ]] && break; sleep 0.1; done

export PATH="$work/bin:$PATH"
export KEYWARD_ADDR="unix://$work/demo/keywardd.sock"
cd "$work"
block=$(sed -n '/<!-- quickstart -->/,/<!-- \/quickstart -->/p' "$readme" |
        sed '1,2d;$d' | sed '$d')
[[ -n "$block" ]] || { echo "FAIL: no quickstart block in the README"; exit 1; }
n=0
while IFS= read -r line; do
  [[ -z "$line" || "$line" == export\ KEYWARD_ADDR=* ]] && continue
  n=$((n + 1))
  echo "+ $line"
  if ! bash -o pipefail -c "$line"; then
    echo "FAIL: README quick start line $n failed: $line"
    cat "$work/keywardd.log"
    exit 1
  fi
done <<< "$block"
[[ $n -ge 10 ]] || { echo "FAIL: only $n lines ran"; exit 1; }
echo "PASS: the README quick start ran ($n lines)"
