"""peers_suite.py: Keyward against the tools its users would pick instead,
in one run on one machine (issue 17): Sign Ed25519, ECDSA P-256 and
RSA-2048 against ssh-agent (its agent protocol over its socket), SoftHSM2
in-process and SoftHSM2 behind `p11-kit server` (PKCS#11), and JWT ES256 /
HS256 against PyJWT in-process.

  bazel build -c opt //daemon:keywardd //tools:keyward-bench //tools:peers_bench
  /usr/bin/python3 tools/peers_suite.py --bindir bazel-out/k8-opt/bin \\
      [--rounds 5 --seconds 3 --warmup 1 --inflight 32]

It starts its own keywardd (temp data dir, Unix socket, audit
AUDIT_FSYNC_INTERVAL), ssh-agent (ssh-keygen + ssh-add), a SoftHSM2 token
(SOFTHSM2_CONF in the temp dir) and `p11-kit server` on it; then runs
--rounds rounds, each running every case once (so that the machine's drift
hits every case alike), and prints per case the median rate and, per
round, Keyward's rate over each peer's for the same operation. `uptime`
before and after. Every process it starts is stopped at the end, and each
measurement is bounded by a timeout.

Clients: Keyward through keyward-bench (--mode unary and stream, --inflight
calls outstanding); PKCS#11 and ssh-agent through peers-bench (one thread
and session/connection per call in flight); PyJWT in a fresh python3
process signing back to back on one thread (what one application process
gets).

--check: exit 1 unless every case measured a rate > 0 without error (the
smoke test, //tests/bench:peers_smoke_test). Needs ssh-agent (openssh-client),
softhsm2, p11-kit (tools/install-deps) and python3-jwt.
"""

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

SOFTHSM = "/usr/lib/softhsm/libsofthsm2.so"
P11KIT_CLIENT = "/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so"
P11KIT_SERVER = "/usr/libexec/p11-kit/p11-kit-server"
PYTHON = "/usr/bin/python3"  # Debian's, with python3-jwt
PIN = "1234"
JWT_PAYLOAD = 256  # keyward-bench's --payload for jwt-sign: claims of ~256 B
SIGN_PAYLOAD = 1024


# --- PyJWT in-process (run as `peers_suite.py --pyjwt ALG ...`) -------------

def pyjwt_main(alg, seconds, warmup):
    """Signs back to back for warmup + seconds; prints one JSON object."""
    import jwt as pyjwt
    from cryptography.hazmat.primitives.asymmetric import ec

    key = (ec.generate_private_key(ec.SECP256R1()) if alg == "ES256"
           else secrets.token_bytes(32))
    # keyward-bench's claims for --payload 256, plus what SignJwt adds.
    base = {"sub": "keyward-bench", "data": "k" * (JWT_PAYLOAD - 40)}

    def one():
        now = int(time.time())
        claims = dict(base, iat=now, nbf=now, exp=now + 3600,
                      jti=secrets.token_urlsafe(16))
        return pyjwt.encode(claims, key, algorithm=alg)

    end = time.perf_counter() + warmup
    while time.perf_counter() < end:
        one()
    lat = []
    cpu0 = time.process_time()
    start = time.perf_counter()
    end = start + seconds
    now = start
    while now < end:
        one()
        after = time.perf_counter()
        lat.append((after - now) * 1e6)
        now = after
    elapsed = now - start
    cpu = time.process_time() - cpu0
    lat.sort()
    print(json.dumps({
        "tool": "pyjwt", "alg": alg, "ops": len(lat), "errors": 0,
        "ops_per_s": len(lat) / elapsed,
        "latency_us": {"p50": lat[len(lat) // 2],
                       "p99": lat[int(0.99 * (len(lat) - 1))]},
        "client_cpu_us_per_op": cpu / len(lat) * 1e6,
        "server_cpu_us_per_op": None}))


# --- the services -------------------------------------------------------------

class Services:
    """Starts keywardd, ssh-agent, a SoftHSM2 token and p11-kit server in a
    temp dir; stop() ends them all."""

    def __init__(self, bindir, work):
        self.bindir = bindir
        self.work = work
        self.procs = []
        self.env = dict(os.environ)

    def _start(self, argv, log, env=None):
        p = subprocess.Popen(argv, stdout=open(os.path.join(self.work, log), "wb"),
                             stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             env=env or self.env)
        self.procs.append(p)
        return p

    def _run(self, argv, env=None, ok=(0,)):
        p = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           env=env or self.env, timeout=120)
        if p.returncode not in ok:
            raise SystemExit("%s: exit %d: %s" % (" ".join(argv), p.returncode,
                                                  p.stderr.decode()[-500:]))

    @staticmethod
    def _wait_socket(path, proc, what):
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.socket(socket.AF_UNIX) as s:
                    s.connect(path)
                return
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit("%s did not start (socket %s)" % (what, path))
                time.sleep(0.05)

    def start_keywardd(self):
        d = os.path.join(self.work, "kw")
        os.mkdir(d, 0o700)
        passphrase = os.path.join(d, "pass")
        with open(os.open(passphrase, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write("peers suite passphrase\n")
        config = os.path.join(d, "interval.txtpb")
        with open(config, "w") as f:
            f.write("audit { fsync: AUDIT_FSYNC_INTERVAL }\n")
        binary = os.path.join(self.bindir, "daemon/keywardd")
        self._run([binary, "init", "--data_dir", d, "--passphrase_file", passphrase])
        self.keyward_sock = os.path.join(d, "k.sock")
        p = self._start([binary, "--config", config, "--data_dir", d,
                         "--passphrase_file", passphrase,
                         "--socket", self.keyward_sock], "keywardd.log")
        self._wait_socket(self.keyward_sock, p, "keywardd")
        self.keyward_pid = p.pid

    def start_ssh_agent(self):
        self.agent_sock = os.path.join(self.work, "agent.sock")
        p = self._start(["ssh-agent", "-D", "-a", self.agent_sock], "ssh-agent.log")
        self._wait_socket(self.agent_sock, p, "ssh-agent")
        self.agent_pid = p.pid
        env = dict(self.env, SSH_AUTH_SOCK=self.agent_sock)
        for name, args in (("ed25519", ["-t", "ed25519"]),
                           ("ecdsa", ["-t", "ecdsa", "-b", "256"]),
                           ("rsa", ["-t", "rsa", "-b", "2048"])):
            key = os.path.join(self.work, "id_" + name)
            self._run(["ssh-keygen", "-q", "-N", "", "-f", key] + args, env)
            self._run(["ssh-add", "-q", key], env)

    def start_softhsm(self):
        tokens = os.path.join(self.work, "tokens")
        os.mkdir(tokens, 0o700)
        conf = os.path.join(self.work, "softhsm2.conf")
        with open(conf, "w") as f:
            f.write("directories.tokendir = %s\nobjectstore.backend = file\n"
                    "log.level = ERROR\n" % tokens)
        self.env["SOFTHSM2_CONF"] = conf
        self._run(["softhsm2-util", "--init-token", "--free", "--label", "peers",
                   "--pin", PIN, "--so-pin", "56781234"])

    def start_p11kit_server(self):
        self.p11_sock = os.path.join(self.work, "p11.sock")
        p = self._start([P11KIT_SERVER, "-f", "-n", self.p11_sock,
                         "--provider", SOFTHSM, "pkcs11:token=peers"],
                        "p11-kit-server.log")
        self._wait_socket(self.p11_sock, p, "p11-kit server")
        self.p11_pid = p.pid

    def stop(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in reversed(self.procs):
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(10)


# --- the cases ----------------------------------------------------------------

def cases(svc, args):
    """(operation, label, argv, env) for every case, Keyward's first."""
    b = svc.bindir
    timing = ["--duration", "%gs" % args.seconds, "--warmup", "%gs" % args.warmup]
    kw = [os.path.join(b, "tools/keyward-bench"), "--target",
          "unix://" + svc.keyward_sock, "--inflight", str(args.inflight),
          "--json", "--daemon_pid", str(svc.keyward_pid)] + timing
    pb = [os.path.join(b, "tools/peers_bench")] + timing
    p11 = ["--peer", "pkcs11", "--pin", PIN, "--token", "peers"]
    p11kit_env = dict(svc.env, P11_KIT_SERVER_ADDRESS="unix:path=" + svc.p11_sock)
    out = []
    for kt in ("ed25519", "ecdsa-p256", "rsa-2048"):
        op = "sign " + kt
        for mode in ("unary", "stream"):
            out.append((op, "keyward " + mode,
                        kw + ["--op", "sign", "--key_type", kt, "--mode", mode,
                              "--payload", str(SIGN_PAYLOAD)], svc.env))
        common = ["--key_type", kt, "--payload", str(SIGN_PAYLOAD)]
        out.append((op, "ssh-agent",
                    pb + ["--peer", "ssh-agent", "--socket", svc.agent_sock,
                          "--threads", str(args.inflight),
                          "--server_pid", str(svc.agent_pid)] + common, svc.env))
        out.append((op, "softhsm2 in-process",
                    pb + p11 + ["--module", SOFTHSM,
                                "--threads", str(args.inproc_threads)] + common,
                    svc.env))
        out.append((op, "softhsm2 via p11-kit server",
                    pb + p11 + ["--module", P11KIT_CLIENT,
                                "--threads", str(args.inflight),
                                "--server_pid", str(svc.p11_pid)] + common,
                    p11kit_env))
    for alg, kt in (("ES256", "ecdsa-p256"), ("HS256", "hmac-sha256")):
        op = "jwt " + alg
        for mode in ("unary", "stream"):
            out.append((op, "keyward " + mode,
                        kw + ["--op", "jwt-sign", "--key_type", kt, "--mode", mode,
                              "--payload", str(JWT_PAYLOAD)], svc.env))
        out.append((op, "pyjwt in-process",
                    [PYTHON, os.path.abspath(__file__), "--pyjwt", alg,
                     "--seconds", str(args.seconds), "--warmup", str(args.warmup)],
                    svc.env))
    return out


def offered(case):
    """False if peers-bench says the peer lacks the mechanism (exit 4)."""
    _, label, argv, env = case
    if "tools/peers_bench" not in argv[0]:
        return True
    probe = list(argv)
    for flag, value in (("--duration", "0.01s"), ("--warmup", "0s")):
        probe[probe.index(flag) + 1] = value
    p = subprocess.run(probe, env=env, capture_output=True, text=True, timeout=120)
    return p.returncode != 4


def measure(argv, env, timeout):
    """Runs one case; returns its JSON result with "load" added, or a dict
    with "error"."""
    load = open("/proc/loadavg").read().split()[:3]
    try:
        p = subprocess.run(argv, env=env, capture_output=True, text=True,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": "timed out after %ds" % timeout, "ops_per_s": 0}
    try:
        r = json.loads(p.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"error": "exit %d: %s" % (p.returncode, p.stderr.strip()[-300:]),
                "ops_per_s": 0}
    r = r.get("result", r) | {"ops_per_s": r.get("ops_per_s", 0)}
    if p.returncode != 0 or r.get("errors"):
        r["error"] = "exit %d, %s errors %s %s" % (
            p.returncode, r.get("errors"), r.get("errors_by_code", ""),
            r.get("first_error", ""))
    r["load"] = " ".join(load)
    return r


def fmt(x, digits=0):
    return "-" if x is None else "%.*f" % (digits, x)


def report(all_cases, results, rounds):
    """Per-case medians, then Keyward/peer per round."""
    print("\n| operation | client | ops/s per round | median ops/s | p50 / p99 us "
          "(median round) | client CPU us/op | server CPU us/op | errors |")
    print("|---|---|---|---|---|---|---|---|")
    medians = {}
    for op, label, _, _ in all_cases:
        runs = results[(op, label)]
        rates = [r["ops_per_s"] for r in runs]
        med = statistics.median(rates)
        medians[(op, label)] = med
        mid = sorted(runs, key=lambda r: r["ops_per_s"])[len(runs) // 2]
        lat = mid.get("latency_us", {})
        print("| %s | %s | %s | **%.0f** | %s / %s | %s | %s | %s |" % (
            op, label, ", ".join("%.0f" % x for x in rates), med,
            fmt(lat.get("p50")), fmt(lat.get("p99")),
            fmt(mid.get("client_cpu_us_per_op"), 1),
            fmt(mid.get("server_cpu_us_per_op") or mid.get("daemon_cpu_us_per_op"), 1),
            sum(1 for r in runs if "error" in r)))
    print("\n| operation | peer | keyward unary / peer per round | median "
          "| keyward stream / peer per round | median |")
    print("|---|---|---|---|---|---|")
    for op, label, _, _ in all_cases:
        if label.startswith("keyward"):
            continue
        row = [op, label]
        for mode in ("unary", "stream"):
            ratios = []
            for i in range(rounds):
                peer = results[(op, label)][i]["ops_per_s"]
                mine = results[(op, "keyward " + mode)][i]["ops_per_s"]
                ratios.append(mine / peer if peer else float("nan"))
            row += [", ".join("%.2f" % x for x in ratios),
                    "**%.2f**" % statistics.median(ratios)]
        print("| " + " | ".join(row) + " |")
    return medians


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bindir", help="holds daemon/keywardd, tools/keyward-bench, "
                        "tools/peers_bench (e.g. bazel-out/k8-opt/bin)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--inflight", type=int, default=32)
    parser.add_argument("--inproc_threads", type=int, default=0,
                        help="threads of SoftHSM2 in-process (default: --inflight)")
    parser.add_argument("--only", default="", help="run the cases whose "
                        "'operation/client' contains this")
    parser.add_argument("--check", action="store_true",
                        help="exit 1 unless every case has a rate > 0 and no error")
    parser.add_argument("--pyjwt", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.pyjwt:
        return pyjwt_main(args.pyjwt, args.seconds, args.warmup)
    if not args.bindir:
        parser.error("--bindir is required")
    args.inproc_threads = args.inproc_threads or args.inflight

    print("$ uptime\n" + subprocess.run(["uptime"], capture_output=True,
                                        text=True).stdout.strip(), flush=True)
    # A SIGTERM (bazel's timeout) still stops what was started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("terminated"))
    work = tempfile.mkdtemp(prefix="kwpeers", dir="/tmp")
    svc = Services(os.path.abspath(args.bindir), work)
    failed = []
    try:
        svc.start_keywardd()
        svc.start_ssh_agent()
        svc.start_softhsm()
        # Generate the token's keys in-process before the server opens it
        # (exit 3, no signature in so short a window, is fine here).
        for kt in ("ed25519", "ecdsa-p256", "rsa-2048"):
            svc._run([os.path.join(svc.bindir, "tools/peers_bench"), "--peer", "pkcs11",
                      "--module", SOFTHSM, "--pin", PIN, "--token", "peers",
                      "--key_type", kt, "--threads", "1", "--duration", "0.01s",
                      "--warmup", "0s"], ok=(0, 3))
        svc.start_p11kit_server()
        all_cases = []
        for c in cases(svc, args):
            if args.only not in c[0] + "/" + c[1]:
                continue
            if not offered(c):
                print("not measured: %s / %s: the peer does not offer its "
                      "mechanism" % c[:2], flush=True)
                continue
            all_cases.append(c)
        timeout = int(args.seconds + args.warmup + 60)
        results = {(op, label): [] for op, label, _, _ in all_cases}
        for rnd in range(1, args.rounds + 1):
            for op, label, argv, env in all_cases:
                r = measure(argv, env, timeout)
                results[(op, label)].append(r)
                lat = r.get("latency_us", {})
                print("round %d  %-12s %-28s %9.0f ops/s  p50 %s us  p99 %s us  "
                      "[load %s]%s" % (rnd, op, label, r["ops_per_s"],
                                       fmt(lat.get("p50")), fmt(lat.get("p99")),
                                       r.get("load", "?"),
                                       "  ERROR " + r["error"] if "error" in r else ""),
                      flush=True)
                if "error" in r or r["ops_per_s"] <= 0:
                    failed.append((rnd, op, label, r.get("error", "rate 0")))
        report(all_cases, results, args.rounds)
    finally:
        svc.stop()
        print("$ uptime\n" + subprocess.run(["uptime"], capture_output=True,
                                            text=True).stdout.strip(), flush=True)
        shutil.rmtree(work, ignore_errors=True)
    if failed:
        print("\n%d failed measurements, first: %s" % (len(failed), failed[0]))
    return 1 if args.check and failed else 0


if __name__ == "__main__":
    sys.exit(main())
