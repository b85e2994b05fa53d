"""`attrchain bench gossip`: N node processes on 127.0.0.1 gossip 200-byte transactions
over real libp2p (batched by TxGossip) and we measure what reaches every node.

Prints per node: txs delivered and delivered tx/s, loss, p50/p99 delivery latency
(submit -> delivery, across processes), CPU seconds and CPU % during the run; then the
machine's load and a CPU yardstick measured in the same run; last line one JSON object
with at least tx_per_s, delivered_ratio, p99_s.
"""
from __future__ import annotations

import hashlib
import json
import os
import time

import click

from testnet.gossip_peer import start_network

# notes/limits.md: sha256 of 200 bytes, one core of a quiet machine of this kind.
REFERENCE_SHA256_200B_PER_S = 2_800_000


def yardstick_sha256_per_s(seconds: float = 0.3) -> float:
    """How fast this core is right now (shared machine): sha256 of 200-byte messages."""
    data = os.urandom(200)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for _ in range(10_000):
            hashlib.sha256(data).digest()
        n += 10_000
    return n / (time.perf_counter() - t0)


def loadavg() -> tuple[float, float, float]:
    with open("/proc/loadavg") as f:
        one, five, fifteen = f.read().split()[:3]
    return float(one), float(five), float(fifteen)


@click.command()
@click.option("--nodes", default=4, show_default=True, help="node processes")
@click.option("--txs", "total", default=60_000, show_default=True, help="transactions in all")
@click.option("--rate", default=16_000, show_default=True, help="offered tx/s over all nodes")
@click.option("--size", default=200, show_default=True, help="bytes per transaction")
@click.option("--flush-ms", default=50.0, show_default=True, help="TxGossip flush interval")
@click.option("--max-batch-kb", default=128, show_default=True, help="TxGossip batch size limit")
@click.option("--timeout", "within", default=120.0, show_default=True, help="seconds to wait for delivery")
def command(nodes: int, total: int, rate: float, size: int, flush_ms: float, max_batch_kb: int, within: float) -> None:
    """Gossip throughput, loss and latency of the p2p layer across node processes."""
    load_before = loadavg()
    yard_before = yardstick_sha256_per_s()
    per_node = total // nodes
    total = per_node * nodes
    click.echo(f"starting {nodes} nodes; {total} txs of {size} B offered at {rate:.0f} tx/s; flush {flush_ms} ms")
    procs = start_network(nodes, "bench-gossip", ["--flush-ms", str(flush_ms), "--max-batch-kb", str(max_batch_kb)])
    try:
        for p in procs:
            r = p.call("wait", within=30, timeout=60, peers=nodes - 1, subscribed=nodes - 1)
            if not r["ok"]:
                raise click.ClickException(f"node {p.index} did not see its peers: {r['peers']}")
        cpu0 = [p.call("status")["cpu_s"] for p in procs]
        t_start = time.time()
        for p in procs:
            p.call("submit", count=per_node, size=size, rate=rate / nodes)
        expected = per_node * (nodes - 1)
        replies = [p.call("wait", within=within, timeout=within + 30, delivered=expected) for p in procs]
        t_end = max(r.get("last_delivery_t", t_start) for r in replies)
        statuses = [p.call("status") for p in procs]
        load_after = loadavg()
    finally:
        for p in procs:
            p.stop()
    yard_after = yardstick_sha256_per_s()

    duration = max(t_end - t_start, 1e-9)
    click.echo(f"{'node':>4} {'delivered':>9} {'tx/s':>8} {'loss':>7} {'p50 s':>7} {'p99 s':>7} {'cpu s':>6} {'cpu %':>6} {'msgs in':>7} {'drops':>5}")
    ratios, p99s, p50s, rates = [], [], [], []
    for p, r, s in zip(procs, replies, statuses):
        node_time = max(r.get("last_delivery_t", t_end) - t_start, 1e-9)
        node_rate = r["unique"] / node_time
        ratio = r["unique"] / expected
        cpu = s["cpu_s"] - cpu0[p.index]
        ratios.append(ratio)
        rates.append(node_rate)
        p99s.append(r["p99_s"] or 0.0)
        p50s.append(r["p50_s"] or 0.0)
        click.echo(f"{p.index:>4} {r['unique']:>9} {node_rate:>8.0f} {1 - ratio:>7.2%} {r['p50_s'] or 0:>7.3f} "
                   f"{r['p99_s'] or 0:>7.3f} {cpu:>6.2f} {100 * cpu / duration:>5.0f}% "
                   f"{s['counters']['messages_in']:>7} {s['counters']['drops_total']:>5}")
        if r["delivered"] != r["unique"]:
            click.echo(f"     node {p.index}: {r['delivered'] - r['unique']} txs delivered more than once!")
    delivered_ratio = min(ratios)
    tx_per_s = total / duration if delivered_ratio == 1.0 else min(rates) * nodes / (nodes - 1)
    yard = (yard_before + yard_after) / 2
    click.echo(f"all {total} txs at all {nodes} nodes in {duration:.2f} s -> {tx_per_s:.0f} tx/s network-wide"
               if delivered_ratio == 1.0 else f"INCOMPLETE: min delivered ratio {delivered_ratio:.4f}")
    click.echo(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} (2 cores; other engineers share them)")
    click.echo(f"yardstick: sha256(200 B) {yard / 1e6:.2f} M/s on one core = {yard / REFERENCE_SHA256_200B_PER_S:.2f} x the quiet-machine figure")
    click.echo(json.dumps({
        "nodes": nodes, "txs": total, "tx_size": size, "offered_tx_per_s": rate,
        "tx_per_s": round(tx_per_s, 1), "delivered_ratio": delivered_ratio,
        "p50_s": round(max(p50s), 4), "p99_s": round(max(p99s), 4),
        "duration_s": round(duration, 3), "flush_ms": flush_ms, "max_batch_kb": max_batch_kb,
        "per_node_tx_per_s": [round(x, 1) for x in rates],
        "cpu_s_per_node": [round(s["cpu_s"] - c, 3) for s, c in zip(statuses, cpu0)],
        "gossip_msgs_in_per_node": [s["counters"]["messages_in"] for s in statuses],
        "backpressure_ms_per_node": [s["counters"]["backpressure_ms"] for s in statuses],
        "loadavg_before": load_before[0], "loadavg_after": load_after[0],
        "yardstick_sha256_per_s": round(yard), "yardstick_ratio_to_quiet": round(yard / REFERENCE_SHA256_200B_PER_S, 3),
    }))
