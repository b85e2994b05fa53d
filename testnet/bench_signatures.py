"""`attrchain bench signatures`: a batch of signed txs checked inline vs over the node's
signature pool (node/runtime/sig_pool.py), as a node checks an RPC or gossip batch.

Prints, per thread count: wall time per tx (what the node's thread waits), CPU time per
tx of the process (what the machine pays), and the speed-up of the wall time. On a shared
machine the wall figures depend on the load: the load average is printed with them.
The last line is one JSON object.
"""
from __future__ import annotations

import json
import os
import time

import click
from nacl.signing import SigningKey

from node.runtime.sig_pool import SignaturePool
from state.tx import sign_tx

CHAIN_ID = "attrchain-bench"


def signed_txs(n: int) -> list[bytes]:
    key = SigningKey(b"\x05" * 32)
    return [sign_tx(key, CHAIN_ID, i, 1000, "transfer", [b"\x01" * 20, 1 + i]) for i in range(n)]


def measure(pool: SignaturePool, txs: list[bytes], batch: int, rounds: int) -> tuple[float, float]:
    """(wall us per tx, CPU us per tx) over `rounds` passes of `txs` in batches."""
    cpu0, t0 = time.process_time(), time.perf_counter()
    for _ in range(rounds):
        for i in range(0, len(txs), batch):
            out = pool.check(txs[i:i + batch], CHAIN_ID, 64 * 1024, 0)
            assert all(stx is not None for stx in out)
    n = rounds * len(txs)
    return 1e6 * (time.perf_counter() - t0) / n, 1e6 * (time.process_time() - cpu0) / n


@click.command("signatures")
@click.option("--txs", type=click.IntRange(16, 100_000), default=4000, show_default=True)
@click.option("--batch", type=click.IntRange(1, 10_000), default=500, show_default=True,
              help="txs per batch (a gossip batch holds up to 500)")
@click.option("--threads", default="1,2,4", show_default=True, help="comma-separated pool sizes (1 = inline)")
@click.option("--rounds", type=click.IntRange(1, 100), default=3, show_default=True)
def command(txs: int, batch: int, threads: str, rounds: int) -> None:
    """Signature checks of tx batches: inline vs a thread pool."""
    sizes = [int(t) for t in threads.split(",") if t.strip()]
    if not sizes or any(not 1 <= t <= 64 for t in sizes):
        raise click.BadParameter(f"{threads!r}: pool sizes 1..64", param_hint="--threads")
    raw = signed_txs(txs)
    runs = []
    for t in sizes:
        pool = SignaturePool(t)
        try:
            wall, cpu = measure(pool, raw, batch, rounds)
        finally:
            pool.close()
        runs.append({"threads": t, "wall_us_per_tx": round(wall, 1), "cpu_us_per_tx": round(cpu, 1)})
    base = runs[0]["wall_us_per_tx"]
    for r in runs:
        r["speedup"] = round(base / r["wall_us_per_tx"], 2)
        click.echo(f"{r['threads']:>2} threads: {r['wall_us_per_tx']:7.1f} us wall per tx, "
                   f"{r['cpu_us_per_tx']:7.1f} us CPU per tx, speed-up x{r['speedup']}")
    load = os.getloadavg()[0]
    click.echo(f"{os.cpu_count()} cores, load average {load:.1f}, batches of {batch}")
    click.echo(json.dumps({"runs": runs, "batch": batch, "txs": txs, "cores": os.cpu_count(),
                           "load_avg": round(load, 1)}))
