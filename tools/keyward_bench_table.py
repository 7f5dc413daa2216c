#!/usr/bin/env python3
"""keyward_bench_table.py: the Markdown tables of BENCHMARKS.md from the
output directory of tools/keyward_bench_suite.sh.

    tools/keyward_bench_table.py OUTDIR

Reads OUTDIR/compare-*.txt (keyward-bench --compare, text output),
OUTDIR/noop-*.txt, OUTDIR/half-load-*.txt and OUTDIR/inflight*.txt.
"""
import glob
import os
import re
import statistics
import sys

# The bar of issue 7, per case: (ratio printed, minimum).
BARS = {
    "sign-ed25519": ("c/ideal", 0.85),
    "sign-ecdsa-p256": ("c/ideal", 0.85),
    "sign-rsa-2048": ("c/ideal", 0.85),
    "encrypt-aes256-gcm": ("c/b", 0.85),
    "decrypt-aes256-gcm": ("c/b", 0.85),
    "sign-batch-ed25519-x64": ("c/a", 0.9),
    "jwt-sign-es256": ("c/ideal", 0.8),
    "jwt-verify-es256": ("c/ideal", None),
}


def number(pattern, text, default=None):
    m = re.search(pattern, text)
    return float(m.group(1)) if m else default


def load_of(text):
    m = re.search(r"load average: ([0-9.]+)", text)
    return m.group(1) if m else "?"


def compare_rows(outdir):
    rows = []
    for path in sorted(glob.glob(os.path.join(outdir, "compare-*.txt"))):
        case = os.path.basename(path)[len("compare-"):-len(".txt")]
        text = open(path).read()
        a = number(r"\(a\) raw library.*?([0-9]+) ops/s", text)
        b = number(r"\(b\) noop.*?([0-9]+) ops/s", text)
        c = number(r"\(c\) .*? ([0-9]+) ops/s", text)
        bd = number(r"\(b\) noop.*daemon ([0-9.]+) us/op", text)
        cd = number(r"\(c\) .*daemon ([0-9.]+) us/op", text)
        cb = number(r"\(c\) .*bench ([0-9.]+) us/op", text)
        ratios = {
            "c/ideal": number(r"c / ideal = ([0-9.]+)", text),
            "c/b": number(r"c / b = ([0-9.]+)", text),
            "c/a": number(r"c / a = ([0-9.]+)", text),
        }
        p99 = number(r"latency of the median run:.*p99 ([0-9.]+) ms", text)
        runs = re.findall(r"^run \d+: .*$", text, re.M)
        errors = number(r"errors: ([0-9]+)", text, 0)
        which, bar = BARS.get(case, ("c/ideal", None))
        value = ratios.get(which)
        verdict = "-"
        if bar is not None and value is not None:
            verdict = "pass" if value >= bar else "FAIL (%.2f short)" % (bar - value)
        rows.append((case, a, b, c, ratios, which, value, bar, verdict, p99, bd,
                     cd, cb, load_of(text), len(runs), errors))
    return rows


def fmt(x, digits=0):
    if x is None:
        return "-"
    return ("%." + str(digits) + "f") % x


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    outdir = sys.argv[1]
    print("| case | (a) raw ops/s | (b) noop ops/s | (c) op ops/s | c/ideal | "
          "c/b | c/a | bar | verdict | p99 of (c) ms | daemon us/op (b) / (c) "
          "| bench us/op (c) | load at start | errors |")
    print("|" + "---|" * 14)
    for (case, a, b, c, ratios, which, value, bar, verdict, p99, bd, cd, cb,
         load, runs, errors) in compare_rows(outdir):
        bar_text = "%s >= %.2f" % (which, bar) if bar is not None else "-"
        print("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s / %s | %s | %s | %d |"
              % (case, fmt(a), fmt(b), fmt(c), fmt(ratios["c/ideal"], 3),
                 fmt(ratios["c/b"], 3), fmt(ratios["c/a"], 3), bar_text, verdict,
                 fmt(p99, 2), fmt(bd, 1), fmt(cd, 1), fmt(cb, 1), load, errors))

    print()
    print("| noop call | ops/s (runs) | median | daemon us/op (runs) | median |")
    print("|---|---|---|---|---|")
    for call in ("whoami", "status"):
        files = sorted(glob.glob(os.path.join(outdir, "noop-%s-*.txt" % call)))
        if not files:
            continue
        rates, cpus = [], []
        for f in files:
            text = open(f).read()
            rates.append(number(r"throughput +([0-9.]+) ops/s", text, 0))
            cpus.append(number(r"daemon [0-9.]+ s \(([0-9.]+) us/op\)", text, 0))
        print("| %s | %s | %.0f | %s | %.1f |" % (
            call, ", ".join("%.0f" % r for r in rates), statistics.median(rates),
            ", ".join("%.1f" % c for c in cpus), statistics.median(cpus)))

    print()
    print("| latency run | rate or in flight | ops/s | p50 ms | p90 ms | p99 ms | "
          "p99.9 ms | load at start | disk before |")
    print("|---|---|---|---|---|---|---|---|---|")
    for f in sorted(glob.glob(os.path.join(outdir, "half-load-*.txt")) +
                    glob.glob(os.path.join(outdir, "inflight*.txt"))):
        text = open(f).read()
        name = os.path.basename(f)[:-len(".txt")]
        rate = re.search(r"--rate ([0-9]+)", text)
        # What the bench itself reports (the last --inflight flag wins).
        inflight = re.search(r", ([0-9]+) in flight,", text)
        how = ("rate %s/s" % rate.group(1)) if rate else (
            "%s in flight" % inflight.group(1) if inflight else "?")
        disk = re.search(r"^disk +(.*) \(before the run\)", text, re.M)
        print("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            name, how, fmt(number(r"throughput +([0-9.]+)", text)),
            fmt(number(r"p50 ([0-9.]+) ms", text), 3),
            fmt(number(r"p90 ([0-9.]+) ms", text), 3),
            fmt(number(r"p99 ([0-9.]+) ms", text), 3),
            fmt(number(r"p99\.9 ([0-9.]+) ms", text), 3), load_of(text),
            disk.group(1) if disk else "-"))


if __name__ == "__main__":
    main()
