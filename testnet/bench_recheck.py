"""Micro-benchmark of the mempool's recheck after a commit (node/runtime/mempool.py "Recheck").

Builds bench_apply's asset graph, admits N pending txs of its mix (transfers, agent and
model uses, contributions, reviews; one per sender) into a Mempool backed by the real
ledger, then commits empty blocks and times the recheck of all N after each: CPU
microseconds per pending tx, beside the admission's (signature + full check) for scale.
The last line is one JSON object.

    .venv/bin/python -m testnet.bench_recheck [--txs 2000] [--commits 7]
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time

from node.runtime.checker import LedgerChecker
from node.runtime.mempool import Mempool
from testnet.bench_apply import Bench


def run(n_txs: int, commits: int) -> dict:
    with tempfile.TemporaryDirectory() as d:
        bench = Bench(d + "/db", n_txs, lambda _: None)
        bench.build_graph(4, 20, 20)
        bench.pending_ready = []  # reviews of earlier blocks: none, transfers instead
        pool = Mempool(LedgerChecker(bench.ledger), n_txs, 1 << 30, 100_000)
        txs = bench.make_txs(n_txs, 1)
        t = time.process_time()
        for raw in txs:
            pool.add(raw)
        admit_us = (time.process_time() - t) / n_txs * 1e6
        recheck_us = []
        for _ in range(commits):
            bench.apply_checked([])  # an empty block: every pending tx stays and is rechecked
            t = time.process_time()
            dropped = pool.update([])
            recheck_us.append((time.process_time() - t) / n_txs * 1e6)
            if dropped or len(pool) != n_txs:
                raise SystemExit(f"the recheck dropped {dropped} valid txs")
    return {"txs": n_txs, "admission_us_per_tx": round(admit_us, 1),
            "recheck_us_per_tx": round(statistics.median(recheck_us), 1),
            "recheck_us_per_tx_min": round(min(recheck_us), 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--txs", type=int, default=2000)
    ap.add_argument("--commits", type=int, default=7)
    a = ap.parse_args()
    r = run(a.txs, a.commits)
    print(f"{r['txs']} pending txs: admission {r['admission_us_per_tx']} us/tx (signature + full check), "
          f"recheck after a commit {r['recheck_us_per_tx']} us/tx (median of {a.commits}; min "
          f"{r['recheck_us_per_tx_min']})")
    print(json.dumps(r))


if __name__ == "__main__":
    main()
