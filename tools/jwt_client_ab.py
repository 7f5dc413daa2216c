"""jwt_client_ab.py: two versions of client/python compared on the
coalesced case of jwt_bench.py (keyward.jwt.encode, ES256, keyward.aio with
coalescing, --tasks tasks), against one keywardd, in interleaved rounds.

  PYTHONPATH=client/python:bazel-bin/proto /usr/bin/python3 \\
    tools/jwt_client_ab.py --keywardd=bazel-bin/daemon/keywardd \\
    --a=/path/to/main/client/python --b=client/python [--rounds=6 --seconds=2]

Starts keywardd once (as jwt_bench.py does) and creates the key; each
round then runs, for A and then B, a fresh Python process with that
client directory first on its path (the generated keyward.v1 stubs from
this process's path) that measures the coalesced case for --seconds and
PyJWT ES256 in-process for half that, after a 0.3 s warm-up. Prints each
run's tokens/s, its ratio to that process's PyJWT rate, and the CPU per
token of the client process (all threads) and of keywardd; then the
medians and B/A per round. Bounded: about rounds x 2 x 1.5 x seconds.
"""

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

import jwt_bench

FIELDS = ("rate", "pyjwt", "ratio", "client_us", "keywardd_us")


def measure(target, daemon_pid, seconds, tasks):
    """One run in this process (the child): the figures of FIELDS."""
    import jwt as pyjwt
    from cryptography.hazmat.primitives.asymmetric import ec
    import keyward.aio
    import keyward.jwt

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)

    async def make():
        return keyward.aio.Client(target)
    client = loop.run_until_complete(make())

    async def one():
        return await keyward.jwt.encode(jwt_bench.CLAIMS, key=jwt_bench.KEY,
                                        client=client)
    loop.run_until_complete(jwt_bench.run_async(one, 0.3, tasks))
    own, daemon = time.process_time(), jwt_bench.cpu_seconds(daemon_pid)
    rate, latencies = loop.run_until_complete(
        jwt_bench.run_async(one, seconds, tasks))
    own = time.process_time() - own
    daemon = jwt_bench.cpu_seconds(daemon_pid) - daemon
    private = ec.generate_private_key(ec.SECP256R1())
    now = int(time.time())
    local = dict(jwt_bench.CLAIMS, iat=now, nbf=now, exp=now + 900, jti="x")
    pyjwt_rate, _ = jwt_bench.run_sync(
        lambda: pyjwt.encode(local, private, algorithm="ES256"), seconds / 2)
    loop.run_until_complete(client.close())
    loop.close()
    return {"client": os.path.abspath(keyward.__file__),
            "rate": rate, "pyjwt": pyjwt_rate, "ratio": rate / pyjwt_rate,
            "client_us": own / len(latencies) * 1e6,
            "keywardd_us": daemon / len(latencies) * 1e6}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keywardd")
    parser.add_argument("--a", help="client/python directory A")
    parser.add_argument("--b", help="client/python directory B")
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--tasks", type=int, default=jwt_bench.TASKS)
    parser.add_argument("--child", nargs=2, metavar=("TARGET", "PID"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child[0], int(args.child[1]),
                                 args.seconds, args.tasks)))
        return 0
    if not (args.keywardd and args.a and args.b):
        parser.error("--keywardd, --a and --b are required")

    import keyward
    proc, target, work = jwt_bench.start_daemon(os.path.abspath(args.keywardd))
    try:
        with keyward.Client(target) as c:
            c.create_key(jwt_bench.KEY, "ECDSA_P256", "JWT")
        print("load before:", open("/proc/loadavg").read().strip())
        # The children's path: this process's PYTHONPATH (the generated
        # keyward.v1 stubs) without the client directory it imported.
        mine = os.path.dirname(os.path.dirname(
            os.path.abspath(keyward.__file__)))
        rest = [os.path.abspath(p)
                for p in os.environ.get("PYTHONPATH", "").split(":")
                if p and os.path.abspath(p) != mine]
        runs = {"A": [], "B": []}
        for r in range(args.rounds):
            for name, directory in (("A", args.a), ("B", args.b)):
                env = dict(os.environ, PYTHONPATH=":".join(
                    [os.path.abspath(directory)] + rest))
                out = subprocess.run(
                    [sys.executable, os.path.abspath(__file__),
                     "--child", target, str(proc.pid),
                     "--seconds", str(args.seconds),
                     "--tasks", str(args.tasks)],
                    env=env, check=True, capture_output=True, text=True,
                    timeout=60 + 10 * args.seconds)
                run = json.loads(out.stdout.splitlines()[-1])
                if not run["client"].startswith(os.path.abspath(directory)):
                    raise SystemExit("%s ran %s" % (name, run["client"]))
                runs[name].append(run)
                print("round %d %s: %s" % (r, name, "  ".join(
                    "%s %.2f" % (k, run[k]) for k in FIELDS)), flush=True)
        for name in ("A", "B"):
            print("median %s: %s" % (name, "  ".join(
                "%s %.2f" % (k, statistics.median(x[k] for x in runs[name]))
                for k in FIELDS)))
        for k in ("rate", "client_us", "keywardd_us"):
            per_round = [b[k] / a[k] for a, b in zip(runs["A"], runs["B"])]
            print("B/A %s per round: %s (median %.2f)" % (
                k, " ".join("%.2f" % x for x in per_round),
                statistics.median(per_round)))
        print("load after:", open("/proc/loadavg").read().strip())
    finally:
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
