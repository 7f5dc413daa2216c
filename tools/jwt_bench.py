"""jwt_bench.py: ES256 JWT signing through keyward.jwt.encode from one
Python process (the sync client, one call at a time; the asyncio client
with 32 concurrent tasks) beside PyJWT signing ES256 in-process with a
local key, in one run. For BENCHMARKS.md ("Python client: ES256 JWTs").

  PYTHONPATH=client/python:bazel-bin/proto /usr/bin/python3 \\
    tools/jwt_bench.py --keywardd=bazel-bin/daemon/keywardd [--seconds=1 --rounds=3]

Starts its own keywardd (temp data dir, Unix socket, audit fsync
AUDIT_FSYNC_INTERVAL), creates an ECDSA_P256 JWT key, then runs each case
for --rounds rounds of --seconds seconds (after a short warm-up) and prints
per case the median over rounds of tokens per second and the median
per-token latency over all calls. Bounded: about rounds x seconds per case.
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

KEY = "bench-es256"
CLAIMS = {"sub": "alice", "aud": "api", "scope": "orders:read"}
TASKS = 32


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


def measure(name, rounds, one_round):
    """Warm-up, then `rounds` rounds; prints and returns the medians."""
    one_round(0.2)
    rates, latencies = [], []
    for _ in range(rounds):
        rate, lat = one_round(None)
        rates.append(rate)
        latencies.extend(lat)
    rate = statistics.median(rates)
    median_us = statistics.median(latencies) * 1e6
    print("%-44s %10.0f tokens/s %10.0f us median   (%d tokens)"
          % (name, rate, median_us, len(latencies)), flush=True)
    return rate, median_us


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keywardd", required=True)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    seconds = lambda s: args.seconds if s is None else s  # noqa: E731

    proc, target, work = start_daemon(os.path.abspath(args.keywardd))
    try:
        print("load before:", open("/proc/loadavg").read().strip())
        client = keyward.Client(target)
        client.create_key(KEY, "ECDSA_P256", "JWT")
        token = keyward.jwt.encode(CLAIMS, key=KEY, client=client)
        assert keyward.jwt.decode(token, audience="api",
                                  client=client)["sub"] == "alice"

        measure("keyward.jwt.encode, sync client", args.rounds,
                lambda s: run_sync(lambda: keyward.jwt.encode(
                    CLAIMS, key=KEY, client=client), seconds(s)))

        async def aio_case():
            aclient = keyward.aio.Client(target)
            try:
                async def one():
                    return await keyward.jwt.encode(CLAIMS, key=KEY,
                                                    client=aclient)
                await run_async(one, 0.2, TASKS)
                rates, lats = [], []
                for _ in range(args.rounds):
                    rate, lat = await run_async(one, args.seconds, TASKS)
                    rates.append(rate)
                    lats.extend(lat)
                return rates, lats
            finally:
                await aclient.close()
        rates, lats = asyncio.run(aio_case())
        print("%-44s %10.0f tokens/s %10.0f us median   (%d tokens)"
              % ("keyward.jwt.encode, aio client, %d tasks" % TASKS,
                 statistics.median(rates), statistics.median(lats) * 1e6,
                 len(lats)), flush=True)

        private = ec.generate_private_key(ec.SECP256R1())
        now = int(time.time())
        local = dict(CLAIMS, iat=now, nbf=now, exp=now + 900, jti="x")
        measure("PyJWT jwt.encode ES256, in-process", args.rounds,
                lambda s: run_sync(lambda: pyjwt.encode(
                    local, private, algorithm="ES256"), seconds(s)))
        print("load after:", open("/proc/loadavg").read().strip())
        client.close()
    finally:
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
