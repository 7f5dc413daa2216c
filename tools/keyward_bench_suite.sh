#!/bin/sh
# keyward_bench_suite.sh: the measurements of BENCHMARKS.md against one or
# more running servers (keywardd, and keyward-bare for the floor), case by
# case: each case runs against every target back to back, so that targets
# are compared within minutes of each other on a machine that drifts. Each
# run is preceded by the machine's load (uptime).
#
#   tools/keyward_bench_suite.sh OUTDIR LABEL=SOCKET [LABEL=SOCKET ...]
#   e.g. tools/keyward_bench_suite.sh /tmp/out keywardd=/tmp/kw/k.sock bare=/tmp/bare.sock
#
# Env: KEYWARD_BENCH (the binary; default bazel-out/k8-opt/bin/tools/keyward-bench),
#      DURATION (10s), WARMUP (2s), RUNS (3), MAX_LOAD (3: wait up to
#      WAIT_MAX seconds, default 600, for the 1-minute load to drop below it).
# The server's pid (for its CPU time) is found from the socket's listener.
# Writes OUTDIR/LABEL/<case>.txt and prints each to stdout as it goes. The
# half-load cases run every target at half of the first target's (c) rate.
set -eu

USAGE="usage: keyward_bench_suite.sh OUTDIR LABEL=SOCKET [LABEL=SOCKET ...]"
OUT=${1:?$USAGE}
shift
[ $# -ge 1 ] || { echo "$USAGE" >&2; exit 2; }
for target do
  case $target in
    ?*=?*) ;;
    *) echo "not LABEL=SOCKET: $target; $USAGE" >&2; exit 2 ;;
  esac
done
FIRST=${1%%=*}
BENCH=${KEYWARD_BENCH:-bazel-out/k8-opt/bin/tools/keyward-bench}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
RUNS=${RUNS:-3}
MAX_LOAD=${MAX_LOAD:-3}
WAIT_MAX=${WAIT_MAX:-600}

# Waits (up to WAIT_MAX s) for the 1-minute load average to fall below
# MAX_LOAD, so that the figures are not taken while others build.
quiet() {
  waited=0
  while [ "$waited" -lt "$WAIT_MAX" ]; do
    load=$(cut -d' ' -f1 /proc/loadavg)
    if awk "BEGIN{exit !($load < $MAX_LOAD)}"; then return 0; fi
    sleep 15
    waited=$((waited + 15))
  done
  echo "(load still $(cut -d' ' -f1 /proc/loadavg) after ${WAIT_MAX}s; measuring anyway)"
}

# run NAME ARGS...: one keyward-bench invocation per target, load first.
# The targets are this script's arguments, kept in TARGETS_FILE (one per line)
# so that socket paths are never split or globbed.
TARGETS_FILE=$(mktemp)
trap 'rm -f "$TARGETS_FILE"' EXIT
printf '%s\n' "$@" > "$TARGETS_FILE"
run() {
  name=$1
  shift
  while IFS= read -r target; do
    label=${target%%=*}
    sock=${target#*=}
    mkdir -p "$OUT/$label"
    quiet
    # unix:PATH takes relative and absolute paths alike.
    {
      echo "\$ uptime"
      uptime
      echo "\$ keyward-bench --target unix:$sock $*"
      rc=0
      "$BENCH" --target "unix:$sock" "$@" 2>&1 < /dev/null || rc=$?
      echo "(exit $rc)"
    } | tee "$OUT/$label/$name.txt"
    echo
  done < "$TARGETS_FILE"
}

COMMON="--payload 1024 --inflight 32 --duration $DURATION --warmup $WARMUP"

# The --compare cases of issue 7.
run compare-sign-ed25519 --op sign --key-type ed25519 $COMMON --compare --runs "$RUNS"
run compare-sign-ecdsa-p256 --op sign --key-type ecdsa-p256 $COMMON --compare --runs "$RUNS"
run compare-sign-rsa-2048 --op sign --key-type rsa-2048 $COMMON --compare --runs "$RUNS"
run compare-encrypt-aes256-gcm --op encrypt --key-type aes256-gcm $COMMON --compare --runs "$RUNS"
run compare-decrypt-aes256-gcm --op decrypt --key-type aes256-gcm $COMMON --compare --runs "$RUNS"
run compare-sign-batch-ed25519-x64 --op sign-batch --key-type ed25519 --batch 64 $COMMON --compare --runs "$RUNS"
# JWT ES256 with a typical token's claims (about 256 bytes).
JWT="--payload 256 --inflight 32 --duration $DURATION --warmup $WARMUP"
run compare-jwt-sign-es256 --op jwt-sign --key-type ecdsa-p256 $JWT --compare --runs "$RUNS"

# Latency at half the maximum load: open loop at half of the first target's
# (c) median rate, the same rate for every target.
for c in sign-ed25519 encrypt-aes256-gcm; do
  max=$(awk '/^  \(c\)/ {print $(NF-7)}' "$OUT/$FIRST/compare-$c.txt")
  if [ -z "$max" ]; then
    echo "no (c) rate in $OUT/$FIRST/compare-$c.txt; see that file" >&2
    exit 1
  fi
  half=$(awk "BEGIN{h = int($max / 2); print (h < 1 ? 1 : h)}")
  op=${c%%-*}
  kt=${c#*-}
  for i in $(seq "$RUNS"); do
    run "half-load-$c-$i" --op "$op" --key-type "$kt" --payload 1024 \
      --rate "$half" --duration "$DURATION" --warmup "$WARMUP"
  done
  # And closed loop with few in flight, for reference.
  run "inflight4-$c" --op "$op" --key-type "$kt" --payload 1024 --inflight 4 \
    --duration "$DURATION" --warmup "$WARMUP"
done
