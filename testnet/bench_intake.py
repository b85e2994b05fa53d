"""Micro-benchmark of a node's intake of a tx, per path, CPU microseconds per tx:

- gossip: a peer's batch through the tx topic's check (ids, signatures: the node's
  `Admission.check_tx` and the checker's precheck), delivery (TxGossip.handle_batch) and
  mempool admission with the full check (TxIntake.admit_gossiped);
- rpc: a client's tx through the RPC backend's `broadcast_tx_sync` (admission with the
  full check, then queued for tx gossip).

Real ledger (bench_apply's asset graph and mix, one tx per sender), no network. Each round
admits fresh txs on a fresh mempool, then commits them. Signatures included (one per tx;
the yardstick is printed beside). The last line is one JSON object.

    .venv/bin/python -m testnet.bench_intake [--txs 2000] [--batch 100] [--rounds 5]
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time

import trio

from node.rpc.rpc_backend import NodeRpc
from node.runtime.admission import Admission
from node.runtime.checker import LedgerChecker
from node.runtime.mempool import Mempool
from node.runtime.metrics import NodeMetrics
from node.runtime.tx_intake import TxIntake
from p2p.counters import TransportCounters
from p2p.messages import TxBatch
from p2p.tx_gossip import TxGossip
from state.tx import tx_id
from testnet.bench_apply import Bench, measure_verify_rate


class NoNetwork:
    """What TxGossip needs of a transport, without one."""

    def __init__(self) -> None:
        self.counters = TransportCounters()

    def penalise(self, peer, reason: str) -> None:
        raise AssertionError(f"a valid batch was blamed: {reason}")


def fresh_intake(bench: Bench, n_txs: int) -> tuple[TxIntake, TxGossip, Admission]:
    checker = LedgerChecker(bench.ledger)
    intake = TxIntake(Mempool(checker, n_txs, 1 << 30, 100_000), NodeMetrics())
    admission = Admission.__new__(Admission)  # only its tx check: no chain, no consensus
    admission.verify_tx = checker.verify
    gossip = TxGossip(NoNetwork(), "txs", tx_id=tx_id, batched=True, check_tx=admission.check_tx,
                      precheck=checker.precheck)
    return intake, gossip, admission


def gossip_path(bench: Bench, txs: list[bytes], batch: int) -> float:
    intake, gossip, _ = fresh_intake(bench, len(txs))
    payloads = [TxBatch(tuple(txs[i:i + batch])).encode() for i in range(0, len(txs), batch)]
    t = time.process_time()
    for payload in payloads:
        if gossip.check_batch("peer", TxBatch.decode(payload, max_size=len(payload))) is not None:
            raise SystemExit("the topic check refused a valid batch")
        gossip.handle_batch("peer", payload)
        intake.admit_gossiped([rx.tx for rx in gossip.received.receive_nowait()])
    spent = time.process_time() - t
    if len(intake.mempool) != len(txs):
        raise SystemExit(f"gossip path admitted {len(intake.mempool)} of {len(txs)}")
    return spent / len(txs) * 1e6


def rpc_path(bench: Bench, txs: list[bytes]) -> float:
    intake, gossip, _ = fresh_intake(bench, len(txs))
    intake.gossip = gossip
    rpc = NodeRpc.__new__(NodeRpc)  # only broadcast_tx_sync: admission and the result
    rpc.txs = intake

    async def post_all() -> float:
        t = time.process_time()
        for raw in txs:
            if (await rpc.broadcast_tx_sync(raw))["code"] != 0:
                raise SystemExit("the rpc path refused a valid tx")
        return time.process_time() - t
    return trio.run(post_all) / len(txs) * 1e6


def run(n_txs: int, batch: int, rounds: int) -> dict:
    out: dict[str, list[float]] = {"gossip": [], "rpc": []}
    with tempfile.TemporaryDirectory() as d:
        bench = Bench(d + "/db", 2 * n_txs, lambda _: None)
        bench.build_graph(4, 20, 20)
        bench.pending_ready = []  # no reviews: transfers instead
        for r in range(rounds):
            for path in ("gossip", "rpc"):
                txs = bench.make_txs(n_txs, 2 * r + (path == "rpc"))
                out[path].append(gossip_path(bench, txs, batch) if path == "gossip" else rpc_path(bench, txs))
                bench.ledger.reset_check_state()
                bench.apply_checked(txs)
    return {"txs": n_txs, "batch": batch, "rounds": rounds,
            "gossip_us_per_tx": round(statistics.median(out["gossip"]), 1),
            "rpc_us_per_tx": round(statistics.median(out["rpc"]), 1),
            "verify_us": round(1e6 / measure_verify_rate(clock=time.process_time), 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--txs", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args()
    r = run(a.txs, a.batch, a.rounds)
    print(f"intake of {r['txs']} txs, median of {r['rounds']} rounds: gossip {r['gossip_us_per_tx']} us/tx "
          f"(batches of {r['batch']}), rpc {r['rpc_us_per_tx']} us/tx; one signature check {r['verify_us']} us")
    print(json.dumps(r))


if __name__ == "__main__":
    main()
