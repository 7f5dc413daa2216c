#!/usr/bin/env bash
# The Debian packages, end to end, on this machine (root; tools/test runs it
# after the Bazel tests, CI is a fresh machine with nothing of Keyward
# installed). Each step asserts what it must:
#
#  1. tools/package builds keyward, keyward-sidecar and python3-keyward;
#     their control data (Depends from dpkg-shlibdeps, Conflicts, conffiles)
#     and file lists are checked.
#  2. dpkg -i keyward python3-keyward: the system user keyward, the 0700
#     data dir, a generated 0600 passphrase file and a new keystore.
#  3. keywardd is started as keywardd.service would start it: the unit's
#     ExecStart, as its User/Group, with its UMask, LimitCORE, LimitMEMLOCK,
#     RuntimeDirectory(Mode), NoNewPrivileges and empty capability set, and
#     NOTIFY_SOCKET / WATCHDOG_USEC pointing at a listener standing in for
#     systemd (there is no systemd PID 1 in a container: the namespace and
#     seccomp settings of the unit are not applied here; README says what
#     systemd-analyze checked). READY=1, WATCHDOG=1, RELOADING=1 on SIGHUP,
#     STOPPING=1 on SIGTERM, exit 0.
#  4. The installed CLI (default address, no KEYWARD_ADDR) and the installed
#     Python client talk to it; another user cannot reach the socket;
#     `keyward doctor` passes and never prints the passphrase.
#  5. A loose passphrase file is refused by the packaged daemon.
#  6. An upgrade (to the same package with a higher version) keeps the
#     changed config and the keystore
#     (byte for byte) and the daemon serves the old keys; the metrics the
#     Grafana dashboard reads are served.
#  7. keyward-sidecar installed over it (Conflicts/Replaces) takes over the
#     same keystore untouched.
#  8. dpkg -r keeps data and config, and says so; dpkg -P deletes them and
#     names each path.
#
#   tests/package/package_test.sh [--debs DIR]   (DIR: packages already built)
#   KEYWARD_PACKAGE_MODE=opt|fastbuild (default fastbuild: reuses tools/test's
#   Bazel outputs; tools/package itself defaults to opt)
set -euo pipefail
cd "$(dirname "$0")/../.."

debs=
if [[ ${1:-} == --debs ]]; then debs=$(realpath "$2"); fi

[[ $(id -u) -eq 0 ]] || { echo "package_test: needs root (dpkg -i)" >&2; exit 1; }
for p in keyward keyward-sidecar python3-keyward; do
  if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'installed\|config-files'; then
    echo "package_test: $p is already on this machine; run it on a machine without Keyward (dpkg -P $p)" >&2
    exit 1
  fi
done
user_existed=0
getent passwd keyward >/dev/null && user_existed=1
[[ -e /var/lib/keyward || -e /etc/keyward ]] && {
  echo "package_test: /var/lib/keyward or /etc/keyward exists; run it on a machine without Keyward" >&2; exit 1; }

work=$(mktemp -d /tmp/keyward-package-test.XXXXXX)
chmod 0755 "$work"
daemon_pid=
daemon_log=/dev/null
listener_pid=
step() { echo "=== package_test: $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
cleanup() {
  [[ -n $daemon_pid ]] && kill -KILL "$daemon_pid" 2>/dev/null || true
  [[ -n $listener_pid ]] && kill "$listener_pid" 2>/dev/null || true
  for p in keyward keyward-sidecar python3-keyward; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'installed\|config-files' &&
      dpkg -P "$p" >/dev/null 2>&1 || true
  done
  rm -rf /var/lib/keyward /etc/keyward /run/keyward
  if [[ $user_existed -eq 0 ]] && getent passwd keyward >/dev/null; then
    deluser --system keyward >/dev/null 2>&1 || true
    getent group keyward >/dev/null && delgroup --system keyward >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# --- 1. build and inspect ---------------------------------------------------
if [[ -z $debs ]]; then
  step "tools/package (-c ${KEYWARD_PACKAGE_MODE:-fastbuild})"
  debs=$work/debs
  tools/package --out "$debs" --compilation-mode "${KEYWARD_PACKAGE_MODE:-fastbuild}" \
    > "$work/package.out"
  cat "$work/package.out"
fi
version=$(sed -n 's/^inline constexpr char kVersion\[\] = "\(.*\)";$/\1/p' daemon/version.h)
arch=$(dpkg --print-architecture)
deb=$debs/keyward_${version}_${arch}.deb
sidecar=$debs/keyward-sidecar_${version}_${arch}.deb
pydeb=$debs/python3-keyward_${version}_all.deb
for f in "$deb" "$sidecar" "$pydeb"; do [[ -f $f ]] || fail "$f was not made"; done

step "control data"
field() { dpkg-deb -f "$1" "$2"; }
[[ $(field "$deb" Version) == "$version" ]] || fail "keyward's Version is not $version"
depends=$(field "$deb" Depends)
echo "keyward Depends: $depends"
for lib in adduser libc6 libgrpc++1.51 libssl3 libprotobuf32 libsqlite3-0 libpq5; do
  grep -q "$lib" <<<"$depends" || fail "keyward's Depends lacks $lib"
done
sdepends=$(field "$sidecar" Depends)
echo "keyward-sidecar Depends: $sdepends"
grep -q android-libboringssl <<<"$sdepends" || fail "keyward-sidecar's Depends lacks android-libboringssl"
grep -q 'libssl3\|libpq5' <<<"$sdepends" && fail "keyward-sidecar depends on OpenSSL 3 or libpq"
[[ $(field "$deb" Conflicts) == keyward-sidecar ]] || fail "keyward does not conflict with keyward-sidecar"
[[ $(field "$sidecar" Conflicts) == keyward ]] || fail "keyward-sidecar does not conflict with keyward"
grep -q 'python3-grpcio' <<<"$(field "$pydeb" Depends)" || fail "python3-keyward lacks python3-grpcio"
dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles | grep -qx /etc/keyward/keywardd.textproto ||
  fail "the config is not a conffile"
contents=$(dpkg-deb -c "$deb")
for path in ./usr/sbin/keywardd ./usr/bin/keyward ./etc/keyward/keywardd.textproto \
    ./lib/systemd/system/keywardd.service ./usr/share/man/man8/keywardd.8.gz \
    ./usr/share/man/man1/keyward.1.gz ./usr/share/keyward/grafana-dashboard.json \
    ./usr/share/doc/keyward/config.proto; do
  grep -q " $path\$" <<<"$contents" || fail "keyward lacks $path"
done
grep -q 'root/root' <<<"$contents" || fail "files are not owned by root"
grep -q ' ./usr/lib/python3/dist-packages/keyward/v1/system_service_pb2_grpc.py$' \
  <<<"$(dpkg-deb -c "$pydeb")" || fail "python3-keyward lacks the generated stubs"

# --- 2. first install ---------------------------------------------------------
step "dpkg -i keyward python3-keyward (first install)"
dpkg -i "$deb" "$pydeb" 2>&1 | tee "$work/install.out"
grep -q 'generated the keystore passphrase' "$work/install.out" || fail "no passphrase was generated"
uid=$(id -u keyward) || fail "no user keyward"
[[ $uid -lt 1000 ]] || fail "keyward is not a system user (uid $uid)"
[[ $(getent passwd keyward | cut -d: -f7) == /usr/sbin/nologin ]] || fail "keyward has a login shell"
[[ $(stat -c '%a %U %G' /var/lib/keyward) == "700 keyward keyward" ]] ||
  fail "/var/lib/keyward is $(stat -c '%a %U %G' /var/lib/keyward)"
[[ $(stat -c '%a %U' /etc/keyward/passphrase) == "600 keyward" ]] ||
  fail "/etc/keyward/passphrase is $(stat -c '%a %U' /etc/keyward/passphrase)"
[[ -f /var/lib/keyward/keystore.db ]] || fail "no keystore was created"
zcat /usr/share/man/man8/keywardd.8.gz | grep -q -- 'passphrase_file' || fail "keywardd.8 lacks the flags"
zcat /usr/share/man/man1/keyward.1.gz | grep -q 'doctor' || fail "keyward.1 lacks the commands"
grep -q 'audit rotate' /usr/share/bash-completion/completions/keyward ||
  fail "no bash completion of keyward's commands"
grep -q 'audit rotate' /usr/share/zsh/vendor-completions/_keyward ||
  fail "no zsh completion of keyward's commands"
bash -n /usr/share/bash-completion/completions/keyward || fail "the bash completion does not parse"
/usr/sbin/keywardd --version | grep -qx "keywardd $version (openssl flavor)" ||
  fail "keywardd --version: $(/usr/sbin/keywardd --version)"
passphrase=$(cat /etc/keyward/passphrase)

step "systemd-analyze on the installed unit"
if command -v systemd-analyze >/dev/null; then
  systemd-analyze verify keywardd.service 2>&1 | tee "$work/verify.out"
  [[ ${PIPESTATUS[0]} -eq 0 && ! -s $work/verify.out ]] || fail "systemd-analyze verify complained"
  systemd-analyze security --offline=true keywardd.service > "$work/security.out" 2>&1 || true
  exposure=$(sed -n 's/.*Overall exposure level for keywardd.service: \([0-9.]*\).*/\1/p' "$work/security.out")
  echo "systemd-analyze security: exposure $exposure"
  [[ -n $exposure ]] && awk -v e="$exposure" 'BEGIN { exit !(e <= 2.0) }' ||
    fail "exposure level '$exposure' is above 2.0: $(tail -3 "$work/security.out")"
else
  echo "package_test: no systemd-analyze on this machine; the unit was not verified here"
fi

# --- 3. start as the unit would ---------------------------------------------
unit=/lib/systemd/system/keywardd.service
unit_value() { sed -n "s/^$1=//p" "$unit" | tail -1; }
seconds() {  # 30s, 1min, 2 -> seconds
  local v=$1
  case "$v" in *min) echo $(( ${v%min} * 60 )) ;; *s) echo "${v%s}" ;; *) echo "$v" ;; esac
}
notify_log=$work/notify.log
: > "$notify_log"
python3 - "$work/notify.sock" "$notify_log" <<'EOF' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o777)
with open(sys.argv[2], "a", buffering=1) as log:
    while True:
        log.write(s.recv(4096).decode().replace("\n", " ") + "\n")
EOF
listener_pid=$!
for _ in $(seq 50); do [[ -S $work/notify.sock ]] && break; sleep 0.1; done

# start_daemon LOG: runs the unit's ExecStart the way systemd would.
start_daemon() {
  local exec_start user group runtime runtime_mode umask_value watchdog memlock core
  exec_start=$(unit_value ExecStart)
  user=$(unit_value User)
  group=$(unit_value Group)
  runtime=$(unit_value RuntimeDirectory)
  runtime_mode=$(unit_value RuntimeDirectoryMode)
  umask_value=$(unit_value UMask)
  watchdog=$(seconds "$(unit_value WatchdogSec)")
  memlock=$(unit_value LimitMEMLOCK)
  core=$(unit_value LimitCORE)
  [[ $memlock == infinity ]] && memlock=unlimited
  # A container without CAP_SYS_RESOURCE cannot raise the hard limit: then
  # the daemon runs under the machine's limit and mlockall is not checked.
  limits=(--core="$core" --memlock="$memlock:$memlock")
  memlock_applied=1
  if ! prlimit --memlock="$memlock:$memlock" true 2>/dev/null; then
    echo "package_test: cannot raise RLIMIT_MEMLOCK to $memlock here (no CAP_SYS_RESOURCE); running under $(ulimit -Hl) KiB, mlockall not checked"
    limits=(--core="$core")
    memlock_applied=0
  fi
  install -d -m "$runtime_mode" -o "$user" -g "$group" "/run/$runtime"
  daemon_log=$1
  : > "$1"
  env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
    NOTIFY_SOCKET="$work/notify.sock" WATCHDOG_USEC=$(( watchdog * 1000000 )) \
    prlimit "${limits[@]}" \
    setpriv --reuid="$user" --regid="$group" --init-groups --no-new-privs \
      --inh-caps=-all --bounding-set=-all \
      sh -c "umask $umask_value; exec $exec_start" 2>"$1" &
  daemon_pid=$!
}
# wait_notify TEXT COUNT SECONDS: until COUNT lines of the notify log hold TEXT.
wait_notify() {
  for _ in $(seq $(( $3 * 10 ))); do
    [[ $(grep -c -- "$1" "$notify_log") -ge $2 ]] && return 0
    kill -0 "$daemon_pid" 2>/dev/null || { cat "$daemon_log" >&2; fail "keywardd exited waiting for $1"; }
    sleep 0.1
  done
  cat "$daemon_log" >&2; cat "$notify_log" >&2
  fail "no $1 (x$2) from keywardd within $3 s"
}
stop_daemon() {
  kill -TERM "$daemon_pid"
  local rc=0
  wait "$daemon_pid" || rc=$?
  daemon_pid=
  [[ $rc -eq 0 ]] || { cat "$daemon_log" >&2; fail "keywardd exited $rc on SIGTERM"; }
  grep -q '"event":"self_check_failed"' "$daemon_log" &&
    fail "the watchdog's self check failed: $(grep self_check_failed "$daemon_log")"
  return 0
}

step "keywardd as keywardd.service starts it"
start_daemon "$work/daemon.log"
wait_notify 'READY=1' 1 30
[[ $(ps -o user= -p "$daemon_pid") == keyward ]] || fail "keywardd does not run as keyward"
[[ $memlock_applied -eq 1 ]] && grep -q memory_not_locked "$work/daemon.log" &&
  fail "mlockall failed under LimitMEMLOCK=infinity: $(cat "$work/daemon.log")"
[[ $(stat -c '%a %U %G' /run/keyward/keyward.sock) == "660 keyward keyward" ]] ||
  fail "socket is $(stat -c '%a %U %G' /run/keyward/keyward.sock)"
[[ $(awk '/^Max core file size/ {print $5}' "/proc/$daemon_pid/limits") == 0 ]] || fail "core dumps allowed"
grep -q '^NoNewPrivs:[[:space:]]*1' "/proc/$daemon_pid/status" || fail "NoNewPrivs is not set"

# --- 4. the installed clients ---------------------------------------------------
step "the installed CLI, at its default address"
cli() { env -u KEYWARD_ADDR -u XDG_RUNTIME_DIR /usr/bin/keyward "$@"; }
cli status | tee "$work/status.out"
grep -q "$version" "$work/status.out" || fail "status does not show version $version"
grep -qi 'sealed:[[:space:]]*no' "$work/status.out" || fail "the packaged daemon is sealed"
cli key create pkg-signing --type ed25519 >/dev/null
echo hello | cli sign pkg-signing > "$work/hello.sig"
echo hello | cli verify pkg-signing --signature "$work/hello.sig" >/dev/null || fail "verify failed"
cli key create pkg-data --type aes256-gcm >/dev/null
[[ $(echo secret-data | cli encrypt pkg-data | cli decrypt pkg-data) == secret-data ]] ||
  fail "encrypt/decrypt round trip"
rc=0
setpriv --reuid=nobody --regid=nogroup --clear-groups env -u XDG_RUNTIME_DIR -u KEYWARD_ADDR \
  /usr/bin/keyward status > "$work/nobody.out" 2>&1 || rc=$?
[[ $rc -eq 2 ]] || fail "user nobody reached the socket (exit $rc): $(cat "$work/nobody.out")"

step "the installed Python client"
(cd / && env -i PATH=/usr/bin:/bin /usr/bin/python3 - <<'EOF')
import keyward
assert keyward.__file__ == "/usr/lib/python3/dist-packages/keyward/__init__.py", keyward.__file__
with keyward.Client() as kw:
    status = kw.get_status()
    assert not status.sealed, status
    sig = kw.sign("pkg-signing", b"from python")
    assert kw.verify("pkg-signing", b"from python", sig.signature)
    try:
        kw.sign("no-such-key", b"x")
        raise SystemExit("signing with a missing key worked")
    except keyward.NotFoundError:
        pass
print("python client: ok")
EOF

step "keyward doctor"
rc=0
cli doctor > "$work/doctor.out" 2>&1 || rc=$?
cat "$work/doctor.out"
[[ $rc -eq 0 ]] || fail "keyward doctor exited $rc on the packaged install"
grep -qF -- "$passphrase" "$work/doctor.out" && fail "keyward doctor printed the passphrase"
grep -q '^ok    socket' "$work/doctor.out" || fail "doctor did not pass the socket"

step "reload (SIGHUP), watchdog, stop"
kill -HUP "$daemon_pid"
wait_notify 'RELOADING=1' 1 10
wait_notify 'READY=1' 2 10
grep -q '"event":"reloaded"' "$work/daemon.log" || fail "no reloaded event"
wait_notify 'WATCHDOG=1' 1 "$(( $(seconds "$(unit_value WatchdogSec)") ))"
stop_daemon
grep -q 'STOPPING=1' "$notify_log" || fail "no STOPPING=1"

# --- 5. a loose passphrase file -----------------------------------------------
step "a passphrase file readable by others is refused"
chmod 0644 /etc/keyward/passphrase
start_daemon "$work/loose.log"
rc=0
wait "$daemon_pid" || rc=$?
daemon_pid=
chmod 0600 /etc/keyward/passphrase
[[ $rc -ne 0 ]] || fail "keywardd started with a 0644 passphrase file"
grep -q 'accessible to group or others' "$work/loose.log" || fail "refusal does not say why: $(cat "$work/loose.log")"
grep -qF -- "$passphrase" "$work/loose.log" && fail "the refusal printed the passphrase"

# --- 6. upgrade ---------------------------------------------------------------
step "upgrade: config and keystore kept"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
echo "metrics_address: \"127.0.0.1:$port\"" >> /etc/keyward/keywardd.textproto
before=$(sha256sum /var/lib/keyward/keystore.db /etc/keyward/passphrase /etc/keyward/keywardd.textproto)
# The same package with a higher version, as the next release would be.
dpkg-deb -R "$deb" "$work/next"
sed -i "s/^Version: .*/Version: ${version}+next1/" "$work/next/DEBIAN/control"
dpkg-deb --root-owner-group --build "$work/next" "$work/keyward_next.deb" >/dev/null
dpkg -i "$work/keyward_next.deb" "$pydeb" 2>&1 | tee "$work/upgrade.out"
grep -q "Unpacking keyward (${version}+next1) over ($version)" "$work/upgrade.out" ||
  fail "dpkg did not upgrade keyward"
grep -q 'keeping the existing keystore' "$work/upgrade.out" || fail "upgrade did not say it kept the keystore"
grep -q 'generated the keystore passphrase' "$work/upgrade.out" && fail "upgrade made a new passphrase"
[[ $(sha256sum /var/lib/keyward/keystore.db /etc/keyward/passphrase /etc/keyward/keywardd.textproto) == "$before" ]] ||
  fail "the upgrade changed the keystore, passphrase or config"
start_daemon "$work/daemon2.log"
wait_notify 'READY=1' 3 30
echo hello | cli verify pkg-signing --signature "$work/hello.sig" >/dev/null ||
  fail "an old signature does not verify after the upgrade"
echo again | cli sign pkg-signing >/dev/null
python3 - "$port" tools/grafana-dashboard.json <<'EOF'
import json, re, sys, urllib.request
scrape = urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/metrics", timeout=5).read().decode()
served = {line.split("{")[0].split(" ")[0] for line in scrape.splitlines() if line and not line.startswith("#")}
wanted = set()
for panel in json.load(open(sys.argv[2]))["panels"]:
    for target in panel["targets"]:
        wanted |= {m for m in re.findall(r"\b(keyward_[a-z_]+)", target["expr"])}
missing = wanted - served
assert not missing, f"the dashboard reads metrics keywardd does not serve: {missing}"
assert 'keyward_rpc_total{' in scrape and 'code="OK"' in scrape, scrape[:500]
print(f"dashboard metrics served: {sorted(wanted)}")
EOF
stop_daemon

# --- 7. the sidecar over the same keystore --------------------------------------
step "keyward-sidecar replaces keyward; the keystore is untouched"
before=$(sha256sum /var/lib/keyward/keystore.db /etc/keyward/passphrase)
dpkg -i "$sidecar" 2>&1 | tee "$work/sidecar.out"
dpkg-query -W -f='${Status}' keyward 2>/dev/null | grep -q 'ok installed' && fail "keyward is still installed"
[[ $(sha256sum /var/lib/keyward/keystore.db /etc/keyward/passphrase) == "$before" ]] ||
  fail "installing the sidecar changed the keystore"
/usr/sbin/keywardd --version | grep -q 'boringssl flavor' || fail "the sidecar's keywardd is not the BoringSSL build"
start_daemon "$work/daemon3.log"
wait_notify 'READY=1' 4 30
cli status | grep -qi 'boringssl' || fail "status does not show the BoringSSL flavor"
echo hello | cli verify pkg-signing --signature "$work/hello.sig" >/dev/null ||
  fail "the sidecar does not verify the earlier signature"
stop_daemon

# --- 8. remove and purge --------------------------------------------------------
step "dpkg -r keeps data and config"
dpkg -r keyward-sidecar python3-keyward 2>&1 | tee "$work/remove.out"
grep -q 'kept /var/lib/keyward' "$work/remove.out" || fail "dpkg -r did not say what it kept"
[[ -f /var/lib/keyward/keystore.db && -f /var/lib/keyward/audit.log ]] || fail "dpkg -r removed data"
[[ -f /etc/keyward/keywardd.textproto && -f /etc/keyward/passphrase ]] || fail "dpkg -r removed the config"
[[ ! -e /usr/sbin/keywardd && ! -e /usr/lib/python3/dist-packages/keyward ]] || fail "dpkg -r left the programs"

step "dpkg -P deletes them and says so"
# keyward itself was removed in favour of keyward-sidecar (step 7) and left
# its config-files state: purge it too.
dpkg -P keyward-sidecar python3-keyward keyward 2>&1 | tee "$work/purge.out"
for path in /var/lib/keyward /etc/keyward/passphrase; do
  grep -q "purge deleted $path" "$work/purge.out" || fail "dpkg -P did not name $path"
  [[ ! -e $path ]] || fail "$path is still there after dpkg -P"
done
[[ ! -e /etc/keyward ]] || fail "/etc/keyward is still there after dpkg -P"
grep -q 'system user keyward is kept' "$work/purge.out" || fail "dpkg -P did not say the user is kept"

echo "PASS: package_test"
