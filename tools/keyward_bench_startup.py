"""keyward_bench_startup.py: keywardd on the 100,000-key fixture of
tools/keystore_bench (--fixture_dir): the time from exec to the first answered
call (AccessService/WhoAmI), VmRSS then, and the client-observed latency of
the first Sign of 40 uncached Ed25519 keys (fixture keys k...99) and of their
second Sign, after one Sign call on a missing key (the method's first call). Bounded: at most 30 s waiting for the daemon, 40 keys.

  PYTHONPATH=<generated keyward.v1 stubs (//proto:keyward_py)> \
    /usr/bin/python3 tools/keyward_bench_startup.py BINDIR FIXTURE_DIR TAG

BINDIR holds keywardd; FIXTURE_DIR holds keystore.db and passphrase; the
socket, config and audit log go in a scratch directory under /tmp.
"""
import os, statistics, subprocess, sys, tempfile, time
import grpc
from keyward.v1 import access_service_pb2, access_service_pb2_grpc
from keyward.v1 import crypto_service_pb2, crypto_service_pb2_grpc

bindir, fixture, tag = sys.argv[1], sys.argv[2], sys.argv[3]
scratch = tempfile.mkdtemp(prefix="kwb-startup-")
sock = os.path.join(scratch, "k.sock")
cfg = os.path.join(scratch, "config.txtpb")
open(cfg, "w").write('audit { path: "%s/audit.log" fsync: AUDIT_FSYNC_INTERVAL }\n' % scratch)
load = open("/proc/loadavg").read().split()[:3]
t0 = time.monotonic()
p = subprocess.Popen([bindir + "/keywardd", "--config", cfg, "--data_dir", fixture,
                      "--passphrase_file", fixture + "/passphrase", "--socket", sock],
                     stdout=open(os.path.join(scratch, "daemon.log"), "w"), stderr=subprocess.STDOUT)
try:
    first = None
    while time.monotonic() - t0 < 30:
        if os.path.exists(sock):
            ch = grpc.insecure_channel("unix://" + sock)
            try:
                access_service_pb2_grpc.AccessServiceStub(ch).WhoAmI(
                    access_service_pb2.WhoAmIRequest(), timeout=1)
                first = time.monotonic() - t0
                break
            except grpc.RpcError:
                ch.close()
        time.sleep(0.002)
    rss = [l for l in open("/proc/%d/status" % p.pid) if l.startswith("VmRSS")][0].split()[1]
    crypto = crypto_service_pb2_grpc.CryptoServiceStub(ch)
    # The client's first Sign call, on a key that does not exist (NOT_FOUND):
    # it pays the client's and the daemon's one-time costs of the method, so
    # that what the first uncached key below measures is the key's own.
    t = time.monotonic()
    try:
        crypto.Sign(crypto_service_pb2.SignRequest(name="keys/no-such-key", data=b"x"), timeout=5)
        raise SystemExit("Sign of keys/no-such-key succeeded")
    except grpc.RpcError as e:
        if e.code() != grpc.StatusCode.NOT_FOUND:
            raise
    method_first = 1000 * (time.monotonic() - t)
    firsts, seconds = [], []
    for i in range(40):
        name = "keys/k%07d" % (i * 2500 + 99)   # every 100th key is Ed25519
        req = crypto_service_pb2.SignRequest(name=name, data=b"x" * 64)
        t = time.monotonic(); crypto.Sign(req, timeout=5); firsts.append(1000 * (time.monotonic() - t))
        t = time.monotonic(); crypto.Sign(req, timeout=5); seconds.append(1000 * (time.monotonic() - t))
    print("%s: first-Sign latencies in order (ms): %s" % (tag, " ".join("%.2f" % x for x in firsts)))
    rss2 = [l for l in open("/proc/%d/status" % p.pid) if l.startswith("VmRSS")][0].split()[1]
    q = lambda xs, f: sorted(xs)[min(len(xs) - 1, int(f * len(xs)))]
    print("%s: load %s; first answered call %.0f ms after exec; VmRSS %.1f MiB then, %.1f MiB after 40 signing keys" % (
        tag, " ".join(load), 1000 * first, int(rss) / 1024, int(rss2) / 1024))
    print("%s: first Sign call (NOT_FOUND) %.2f ms" % (tag, method_first))
    print("%s: first Sign of an uncached key (40 keys, client-observed): median %.2f ms, p90 %.2f ms, max %.2f ms; second Sign median %.2f ms" % (
        tag, statistics.median(firsts), q(firsts, 0.9), max(firsts), statistics.median(seconds)))
finally:
    p.terminate(); p.wait(timeout=30)
    print("%s: daemon log and audit log in %s" % (tag, scratch))
