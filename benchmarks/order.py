"""Ordering speed and memory: exact and fast chains on random vectors.

    python benchmarks/order.py [--sizes 1000 10000 100000] [--dim 2048] [--exact-max 10000]

Each case runs in its own process so its peak memory (max RSS) is its
own. Prints seconds, peak MiB, chain length, and the fast chain's length
relative to the exact one where both ran. The 2-opt pass is off here
(it has its own time budget in the command); --improve turns it on.
Exact mode costs n^2 * dim operations; above --exact-max it is skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))


def one_case(n: int, dim: int, fast: bool, improve: bool, structured: bool) -> dict:
    import numpy as np

    from beetsplug.similar.order import chain as ordering

    if structured:  # bursts of 1-6 around scenes on a low-rank structure
        sys.path.insert(0, os.path.dirname(__file__))
        from ann import library_vectors

        x, burst = library_vectors(n, dim, labels=True)
    else:
        x = np.random.default_rng(n).standard_normal((n, dim), dtype=np.float32)
        burst = np.arange(n)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result, greedy = ordering.order_vectors(x, fast=fast, improve_chain=improve)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    b = burst[result.order]
    mate = np.zeros(n, dtype=bool)  # a burst-mate next to it in the chain
    mate[:-1] |= b[:-1] == b[1:]
    mate[1:] |= b[1:] == b[:-1]
    in_burst = np.bincount(burst)[burst][result.order] > 1
    return {"seconds": result.seconds, "length": result.length, "greedy": greedy,
            "fallbacks": result.fallbacks, "peak_mib": peak / 1024,
            "extra_mib": (peak - base) / 1024,
            "adjacency": float(mate[in_burst].mean()) if in_burst.any() else 1.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--dim", type=int, default=2048)
    parser.add_argument("--exact-max", type=int, default=10000)
    parser.add_argument("--improve", action="store_true")
    parser.add_argument("--structured", action="store_true",
                        help="library-like vectors (bursts of 1-6 around scenes) instead of "
                             "random ones; adds burst adjacency to the table")
    parser.add_argument("--case", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.case:  # child process
        n, fast, improve = int(args.case[0]), args.case[1] == "fast", args.case[2] == "1"
        print(json.dumps(one_case(n, args.dim, fast, improve, args.structured)))
        return

    print(f"{'n':>7} {'mode':>5} {'seconds':>8} {'peak MiB':>9} {'+MiB':>7} "
          f"{'length':>12} {'fallbacks':>9} {'vs exact':>8} {'adjacent':>8}")
    for n in args.sizes:
        exact_length = None
        for mode in ("exact", "fast"):
            if mode == "exact" and n > args.exact_max:
                print(f"{n:>7} {mode:>5}  skipped (n > --exact-max {args.exact_max})")
                continue
            out = subprocess.run(
                [sys.executable, __file__, "--dim", str(args.dim), "--case", str(n), mode,
                 "1" if args.improve else "0"] + (["--structured"] if args.structured else []),
                check=True, capture_output=True, text=True).stdout
            r = json.loads(out.strip().splitlines()[-1])
            if mode == "exact":
                exact_length = r["length"]
            ratio = f"{r['length'] / exact_length:8.3f}" if exact_length else f"{'-':>8}"
            print(f"{n:>7} {mode:>5} {r['seconds']:8.1f} {r['peak_mib']:9.0f} "
                  f"{r['extra_mib']:7.0f} {r['length']:12.1f} {r['fallbacks']:9d} {ratio} "
                  f"{r['adjacency']:8.3f}",
                  flush=True)


if __name__ == "__main__":
    main()
