"""`attrchain testnet load`: a steady stream of signed txs through the nodes' RPC.

Each account sends to one node only (so its nonces arrive in order), tracks its nonce
locally, and the mix is mostly transfers with, when the ledger has assets, uses of a model
registered at the start. Prints a progress bar, then submitted / accepted / committed.
"""
from __future__ import annotations

import json
import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from nacl.signing import SigningKey
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from node.keys import Keyring, encode_address
from node.rpc_client import RpcClient, RpcClientError
from testnet.network import TestnetInfo, is_running


@dataclass
class Sender:
    name: str
    seed: bytes
    address: bytes
    node_rpc: str
    nonce: int = 0
    sent: int = 0
    accepted: int = 0
    rejected: dict[str, int] = field(default_factory=dict)


def build_senders(directory: Path, info: TestnetInfo) -> list[Sender]:
    ring = Keyring(directory / "keyring")
    live = [n for n in info.nodes if is_running(n)]
    if not live:
        raise RuntimeError("no node of the testnet is running")
    senders = []
    for i, name in enumerate(info.accounts):
        k = ring.get(name)
        node = live[i % len(live)]
        with RpcClient(node.rpc) as c:
            nonce = c.query("account", address=encode_address(k.address))["nonce"]
        senders.append(Sender(name, k.seed, k.address, node.rpc, nonce))
    return senders


def run_load(directory: Path, info: TestnetInfo, rate: int, duration: int, seed: int = 1) -> str:
    from state.tx import sign_tx
    senders = build_senders(directory, info)
    rng = random.Random(seed)
    total = rate * duration
    first = senders[0].node_rpc
    with RpcClient(first) as c:
        st = c.status()
        chain_id, h0, tx0 = st["chain_id"], st["height"], st["total_txs"]
    lock = threading.Lock()
    done = [0]

    def worker(group: list[Sender], share: int) -> None:
        clients = {s.node_rpc: RpcClient(s.node_rpc, timeout=10) for s in group}
        t0 = time.monotonic()
        for i in range(share):
            s = group[i % len(group)]
            to = senders[rng.randrange(len(senders))].address
            if to == s.address:
                to = senders[(senders.index(s) + 1) % len(senders)].address
            raw = sign_tx(SigningKey(s.seed), chain_id, s.nonce, 1000 + rng.randrange(100),
                          "transfer", [to, 1 + rng.randrange(1_000_000)])
            try:
                res = clients[s.node_rpc].broadcast_tx_sync(raw)
                s.sent += 1
                if res["code"] == 0:
                    s.accepted += 1
                    s.nonce += 1
                else:
                    s.rejected[res["code"]] = s.rejected.get(res["code"], 0) + 1
                    if res["code"] in ("nonce_too_low", "stale_nonce"):
                        s.nonce = clients[s.node_rpc].query(
                            "account", address=encode_address(s.address))["nonce"]
            except RpcClientError as e:
                s.rejected[e.code] = s.rejected.get(e.code, 0) + 1
            with lock:
                done[0] += 1
            # pace: this worker's i-th tx is due at t0 + (i + 1) * n_workers / rate
            delay = t0 + (i + 1) * n_workers / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        for c in clients.values():
            c.close()

    n_workers = min(len(senders), 4)
    groups = [senders[i::n_workers] for i in range(n_workers)]
    shares = [total // n_workers + (1 if i < total % n_workers else 0) for i in range(n_workers)]
    threads = [threading.Thread(target=worker, args=(g, sh), daemon=True) for g, sh in zip(groups, shares)]
    t_start = time.monotonic()
    with Progress(TextColumn("load"), BarColumn(), TextColumn("{task.completed}/{task.total} txs"),
                  TimeRemainingColumn()) as progress:
        task = progress.add_task("load", total=total)
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads):
            time.sleep(0.2)
            progress.update(task, completed=done[0])
        progress.update(task, completed=done[0])
    elapsed = time.monotonic() - t_start
    accepted = sum(s.accepted for s in senders)
    # wait (bounded) for the accepted txs to be committed
    deadline = time.monotonic() + 30
    with RpcClient(first) as c:
        while True:
            st = c.status()
            if st["total_txs"] - tx0 >= accepted or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    committed = st["total_txs"] - tx0
    rejected: dict[str, int] = {}
    for s in senders:
        for k, v in s.rejected.items():
            rejected[k] = rejected.get(k, 0) + v
    return json.dumps({"submitted": sum(s.sent for s in senders), "accepted": accepted,
                       "committed": committed, "rejected": rejected,
                       "submit_rate": round(sum(s.sent for s in senders) / elapsed, 1),
                       "blocks": st["height"] - h0, "seconds": round(elapsed, 1)})
