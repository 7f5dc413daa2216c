#!/bin/bash
# keywardd on SQLite beside keywardd on PostgreSQL (a throwaway server made
# here as nobody), keyward-bench Sign Ed25519 against each, runs alternating
# (BENCHMARKS.md, "SQLite beside PostgreSQL"). Run as root from the
# workspace after `bazel build -c opt //daemon:keywardd //tools:keyward-bench`:
#   tools/storage_bench_daemons.sh [OUTPUT_DIR]
set -euo pipefail
B=${B:-bazel-out/k8-opt/bin}
D=${1:-/tmp/keyward-storage-bench}; rm -rf $D; mkdir -p $D/sq $D/pg $D/pgdata; chmod 700 $D/sq $D/pg
chown nobody:nogroup $D/pgdata
PGBIN=/usr/lib/postgresql/15/bin
setpriv --reuid=nobody --regid=nogroup --clear-groups $PGBIN/initdb -D $D/pgdata -U keyward --auth=trust >/dev/null
setpriv --reuid=nobody --regid=nogroup --clear-groups $PGBIN/pg_ctl -D $D/pgdata -o "-k $D/pgdata -c listen_addresses=''" -l $D/pgdata/log -w start >/dev/null
trap 'setpriv --reuid=nobody --regid=nogroup --clear-groups $PGBIN/pg_ctl -D $D/pgdata -m fast stop >/dev/null; kill $(jobs -p) 2>/dev/null || true' EXIT
$PGBIN/createdb -h $D/pgdata -U keyward kw
for x in sq pg; do head -c 24 /dev/urandom | base64 > $D/$x/pass; chmod 600 $D/$x/pass; done
echo 'audit { fsync: AUDIT_FSYNC_INTERVAL }' > $D/sq/c.txtpb
printf 'audit { fsync: AUDIT_FSYNC_INTERVAL }\nstorage { postgres { dsn: "host=%s dbname=kw user=keyward" pool_size: 4 } }\n' $D/pgdata > $D/pg/c.txtpb
for x in sq pg; do
  $B/daemon/keywardd init --config $D/$x/c.txtpb --data_dir $D/$x --passphrase_file $D/$x/pass >/dev/null
  $B/daemon/keywardd --config $D/$x/c.txtpb --data_dir $D/$x --passphrase_file $D/$x/pass --socket $D/$x/k.sock > $D/$x/log 2>&1 &
done
sleep 3
for r in 1 2 3; do
  for x in sq pg; do
    echo "== run $r $x: $(uptime | sed 's/.*load/load/')"
    $B/tools/keyward-bench --target unix://$D/$x/k.sock --op sign --key_type ed25519 --inflight 32 --duration 5s --warmup 1s 2>&1 | grep -E "calls/s|p50|throughput|/s" | head -3
  done
done
