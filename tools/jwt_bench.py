"""jwt_bench.py: ES256 JWT signing through keyward.jwt.encode from one
Python process (the sync client, one call at a time; the asyncio client
with --tasks concurrent tasks, unary and coalesced over
DataPlaneService.Stream) beside PyJWT signing ES256 and HS256 in-process
with a local key, in interleaved rounds of one run; and the coalesced
case against a stub stream answering at once in-process (keyward.aio's own
CPU per call, without gRPC or the daemon). For BENCHMARKS.md
("Python client: ES256 JWTs").

  PYTHONPATH=client/python:bazel-bin/proto /usr/bin/python3 \\
    tools/jwt_bench.py --keywardd=bazel-bin/daemon/keywardd [--seconds=1 --rounds=3]

Starts its own keywardd (temp data dir, Unix socket, audit fsync
AUDIT_FSYNC_INTERVAL), creates an ECDSA_P256 JWT key, then runs --rounds
rounds, each running every case for --seconds seconds (after a short
warm-up), and prints per case the median over rounds of tokens per second,
the median per-token latency over all calls, and the CPU time per token
(medians over rounds) of this Python process (all its threads: gRPC's
included) and of keywardd (from /proc/PID/stat), and the coalesced/PyJWT
ratio of each round. Bounded: about rounds x seconds per case.
Needs python3-jwt and python3-cryptography.
"""

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import jwt as pyjwt
from cryptography.hazmat.primitives.asymmetric import ec

import keyward
import keyward.aio
import keyward.jwt
from keyward import _coalesce
from keyward.v1 import data_plane_service_pb2 as dp_pb

KEY = "bench-es256"
CLAIMS = {"sub": "alice", "aud": "api", "scope": "orders:read"}
TASKS = 64


class AnsweringStream:
    """Stands in for DataPlaneService.Stream in the "Python only" case: each
    item of a written message is answered at once with one fixed SignJwt
    response, so that the case measures keyward.aio's own CPU per call
    (request, coalescing, wake-up) without gRPC or a daemon. Parsing the
    written message and building the answers here is part of that figure
    (about 1.5 us per token)."""

    def __init__(self, signed):
        self._signed = signed
        self._answers = asyncio.Queue()

    async def write(self, serialized):
        response = dp_pb.StreamResponse()
        for item in dp_pb.StreamRequest.FromString(serialized).items:
            result = response.results.add()
            result.id = item.id
            result.sign_jwt.CopyFrom(self._signed)
        self._answers.put_nowait(response)

    async def done_writing(self):
        self._answers.put_nowait(None)

    def cancel(self):
        self._answers.put_nowait(None)

    def __aiter__(self):
        return self

    async def __anext__(self):
        response = await self._answers.get()
        if response is None:
            raise StopAsyncIteration
        return response


def start_daemon(binary):
    """keywardd on a temp dir; returns (process, target, dir)."""
    work = tempfile.mkdtemp(prefix="kwjwtb", dir="/tmp")
    passphrase = os.path.join(work, "passphrase")
    fd = os.open(passphrase, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, b"jwt bench passphrase\n")
    os.close(fd)
    data = os.path.join(work, "data")
    os.mkdir(data, 0o700)
    config = os.path.join(work, "keywardd.conf")
    with open(config, "w") as f:
        f.write("audit { fsync: AUDIT_FSYNC_INTERVAL }\n")
    subprocess.run([binary, "init", "--data_dir", data, "--passphrase_file",
                    passphrase], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=120)
    sock = os.path.join(work, "k.sock")
    proc = subprocess.Popen(
        [binary, "--config", config, "--data_dir", data, "--passphrase_file",
         passphrase, "--socket", sock],
        stdout=open(os.path.join(work, "keywardd.log"), "wb"),
        stderr=subprocess.STDOUT)
    target = "unix://" + sock
    deadline = time.monotonic() + 60
    while True:
        try:
            with keyward.Client(target, timeout=2) as c:
                c.get_status()
            return proc, target, work
        except (keyward.KeywardError, ValueError):
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise SystemExit("keywardd did not start; see " + work)
            time.sleep(0.1)


def cpu_seconds(pid):
    """User + system CPU seconds of process `pid` so far."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_sync(fn, seconds):
    """(calls per second, latencies) of fn() called back to back."""
    latencies = []
    start = time.perf_counter()
    end = start + seconds
    now = start
    while now < end:
        fn()
        after = time.perf_counter()
        latencies.append(after - now)
        now = after
    return len(latencies) / (now - start), latencies


async def run_async(fn, seconds, tasks):
    """(calls per second, latencies) of `tasks` tasks awaiting fn()."""
    latencies = []
    start = time.perf_counter()
    end = start + seconds

    async def worker():
        while time.perf_counter() < end:
            t0 = time.perf_counter()
            await fn()
            latencies.append(time.perf_counter() - t0)
    await asyncio.gather(*(worker() for _ in range(tasks)))
    return len(latencies) / (time.perf_counter() - start), latencies


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keywardd", required=True)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tasks", type=int, default=TASKS)
    args = parser.parse_args()

    proc, target, work = start_daemon(os.path.abspath(args.keywardd))
    loop = asyncio.new_event_loop()
    try:
        print("load before:", open("/proc/loadavg").read().strip())
        client = keyward.Client(target)
        client.create_key(KEY, "ECDSA_P256", "JWT")
        token = keyward.jwt.encode(CLAIMS, key=KEY, client=client)
        assert keyward.jwt.decode(token, audience="api",
                                  client=client)["sub"] == "alice"
        asyncio.set_event_loop(loop)

        async def make(coalesce):  # an aio client inside its loop
            return keyward.aio.Client(target, coalesce=coalesce)
        unary = loop.run_until_complete(make(False))
        coalesced = loop.run_until_complete(make(True))
        python_only = loop.run_until_complete(make(True))
        signed = dp_pb.StreamResult().sign_jwt
        signed.token = token
        # The bench's stand-in for the stream (a private hook, on purpose).
        python_only._coalescer = _coalesce.Coalescer(
            lambda metadata: AnsweringStream(signed))

        def aio_case(aclient):
            async def one():
                return await keyward.jwt.encode(CLAIMS, key=KEY,
                                                client=aclient)
            return lambda s: loop.run_until_complete(
                run_async(one, s, args.tasks))

        private = ec.generate_private_key(ec.SECP256R1())
        now = int(time.time())
        local = dict(CLAIMS, iat=now, nbf=now, exp=now + 900, jti="x")
        secret = os.urandom(32)
        cases = [
            ("keyward.jwt.encode, sync client", lambda s: run_sync(
                lambda: keyward.jwt.encode(CLAIMS, key=KEY, client=client),
                s)),
            ("keyward.jwt.encode, aio unary, %d tasks" % args.tasks,
             aio_case(unary)),
            ("keyward.jwt.encode, aio coalesced, %d tasks" % args.tasks,
             aio_case(coalesced)),
            ("PyJWT jwt.encode ES256, in-process", lambda s: run_sync(
                lambda: pyjwt.encode(local, private, algorithm="ES256"), s)),
            ("PyJWT jwt.encode HS256, in-process", lambda s: run_sync(
                lambda: pyjwt.encode(local, secret, algorithm="HS256"), s)),
            ("aio coalesced, Python only (answering stub)",
             aio_case(python_only)),
        ]
        # Interleaved rounds: every case once per round, so that the load of
        # the moment weighs on all of them alike; ratios are per round.
        for _, one_round in cases:
            one_round(0.2)  # warm-up
        rates = {name: [] for name, _ in cases}
        latencies = {name: [] for name, _ in cases}
        cpu = {name: [] for name, _ in cases}  # (own, daemon) us per token
        ratios = []
        for _ in range(args.rounds):
            for name, one_round in cases:
                own, daemon = time.process_time(), cpu_seconds(proc.pid)
                rate, lat = one_round(args.seconds)
                own = time.process_time() - own
                daemon = cpu_seconds(proc.pid) - daemon
                rates[name].append(rate)
                latencies[name].extend(lat)
                cpu[name].append((own / len(lat) * 1e6,
                                  daemon / len(lat) * 1e6))
            ratios.append(rates[cases[2][0]][-1] / rates[cases[3][0]][-1])
        print("%-44s %10s %12s %12s %12s" % (
            "case", "tokens/s", "latency us", "us CPU/tok", "us CPU/tok"))
        print("%-44s %10s %12s %12s %12s" % (
            "", "(median)", "(median)", "(this proc)", "(keywardd)"))
        for name, _ in cases:
            print("%-44s %10.0f %12.0f %12.1f %12.1f   (%d tokens)"
                  % (name, statistics.median(rates[name]),
                     statistics.median(latencies[name]) * 1e6,
                     statistics.median(c[0] for c in cpu[name]),
                     statistics.median(c[1] for c in cpu[name]),
                     len(latencies[name])), flush=True)
        print("aio coalesced / PyJWT ES256 per round: %s (median %.2f)"
              % (" ".join("%.2f" % r for r in ratios),
                 statistics.median(ratios)))
        print("load after:", open("/proc/loadavg").read().strip())
        loop.run_until_complete(unary.close())
        loop.run_until_complete(coalesced.close())
        loop.run_until_complete(python_only.close())
        client.close()
    finally:
        loop.close()
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
