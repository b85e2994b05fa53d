"""`attrchain testnet load`: a steady stream of signed txs through the nodes' RPC.

Each account sends to one node only (so its nonces arrive in order) and tracks its nonce
locally. A setup block registers a datanet (curated by the first account), a model on it
and an agent on the model; then the mix is about 55 % transfers, 25 % uses of the agent or
the model (payments that flow up the graph), 15 % contributions to the datanet and, from
the curator, reviews of accepted contributions once the curator's node has committed them.
Prints a progress bar, then one JSON line: submitted / accepted / committed, refusals by
reason, mix.
"""
from __future__ import annotations

import json
import random
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from nacl.signing import SigningKey
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from node.keys import Keyring, encode_address
from state.asset_records import compute_contribution_id
from node.cli.rpc_client import RpcClient, RpcClientError
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
    total = rate * duration
    first = senders[0].node_rpc
    with RpcClient(first) as c:
        st = c.status()
        chain_id, h0, tx0 = st["chain_id"], st["height"], st["total_txs"]
    lock = threading.Lock()
    done = [0]

    world = setup_assets(senders, chain_id)
    mix: dict[str, int] = {}
    sample: list[tuple[str, str]] = []

    def choose(s: Sender, r: random.Random, client: RpcClient) -> tuple[str, list]:
        x = r.randrange(100)
        if s is senders[0]:
            cid = world.reviews.next(client)
            if cid is not None:
                return "review", [cid, True, 1 + r.randrange(1_000_000)]
        if x < 25:
            asset, price = world.uses[r.randrange(len(world.uses))]
            return "use", [asset, price]
        if x < 40:
            return "contribute", [world.datanet, r.randbytes(32), 1 + r.randrange(10_000), "ipfs://load"]
        to = senders[r.randrange(len(senders))].address
        if to == s.address:
            to = senders[(senders.index(s) + 1) % len(senders)].address
        return "transfer", [to, 1 + r.randrange(1_000_000)]

    def worker(group: list[Sender], share: int, wseed: int) -> None:
        clients = {s.node_rpc: RpcClient(s.node_rpc, timeout=10) for s in group}
        r = random.Random(wseed)
        t0 = time.monotonic()
        for i in range(share):
            s = group[i % len(group)]
            kind, fields = choose(s, r, clients[s.node_rpc])
            with lock:
                mix[kind] = mix.get(kind, 0) + 1
            raw = sign_tx(SigningKey(s.seed), chain_id, s.nonce, 1000 + r.randrange(100), kind, fields)
            try:
                res = clients[s.node_rpc].broadcast_tx_sync(raw)
                s.sent += 1
                if res["code"] == 0:
                    s.accepted += 1
                    s.nonce += 1
                    if kind == "contribute":
                        world.reviews.add(compute_contribution_id(*fields[:2]), res["hash"])
                    if len(sample) < 2000:
                        sample.append((kind, res["hash"]))
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
    threads = [threading.Thread(target=worker, args=(g, sh, seed + i), daemon=True)
               for i, (g, sh) in enumerate(zip(groups, shares))]
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
    # execution results of a sample of the accepted txs (a failed tx is included, pays its fee)
    failed: dict[str, int] = {}
    with RpcClient(first) as c:
        for kind, h in random.Random(seed).sample(sample, min(100, len(sample))):
            try:
                r = c.get("/tx", hash=h)
            except RpcClientError:
                failed["not_found"] = failed.get("not_found", 0) + 1
                continue
            if r["tx_result"]["code"] != 0:
                k = f"{kind}:{r['tx_result']['log'][:40]}"
                failed[k] = failed.get(k, 0) + 1
    rejected: dict[str, int] = {}
    for s in senders:
        for k, v in s.rejected.items():
            rejected[k] = rejected.get(k, 0) + v
    return json.dumps({"submitted": sum(s.sent for s in senders), "accepted": accepted,
                       "committed": committed, "rejected": rejected,
                       "submit_rate": round(sum(s.sent for s in senders) / elapsed, 1),
                       "blocks": st["height"] - h0, "seconds": round(elapsed, 1), "mix": mix,
                       "sampled_results": min(100, len(sample)), "sampled_failed": failed})


class ReviewQueue:
    """Accepted contributions, oldest first, for the curator to review. Each waits until the
    curator's own node has committed it: a contribution sent to another node may take
    several blocks to reach it, more on a loaded machine, and a review it sees first is
    refused (`unknown_asset`). One that failed in its block is dropped. Thread-safe."""

    def __init__(self) -> None:
        self._pending: deque[tuple[bytes, str]] = deque()   # (contribution id, its tx hash)
        self._lock = threading.Lock()

    def add(self, contribution: bytes, tx_hash: str) -> None:
        with self._lock:
            self._pending.append((contribution, tx_hash))

    def next(self, curator_node: RpcClient) -> bytes | None:
        """The oldest contribution to review now, or None (none committed yet)."""
        with self._lock:
            if not self._pending:
                return None
            contribution, tx_hash = self._pending[0]
        try:
            result = curator_node.get("/tx", hash=tx_hash)
        except RpcClientError:
            return None  # not committed there yet (or the node did not answer): ask next turn
        with self._lock:
            self._pending.popleft()  # only the curator's worker takes from the queue
        return contribution if result["tx_result"]["code"] == 0 else None


@dataclass
class World:
    datanet: bytes
    uses: list[tuple[bytes, int]]                       # (asset, price)
    reviews: ReviewQueue = field(default_factory=ReviewQueue)


def setup_assets(senders: list[Sender], chain_id: str) -> World:
    """One block: a datanet curated by the first sender, a model on it, an agent on that."""
    from state.asset_records import compute_asset_id
    from state.tx import sign_tx
    owner = senders[0]
    with RpcClient(owner.node_rpc, timeout=60) as c:
        def commit(kind: str, fields: list) -> bytes:
            raw = sign_tx(SigningKey(owner.seed), chain_id, owner.nonce, 1000, kind, fields)
            res = c.broadcast_tx_commit(raw, timeout_ms=30_000)
            if not res.get("committed") or res["tx_result"]["code"] != 0:
                raise RuntimeError(f"load setup: {kind} failed: {res}")
            owner.nonce += 1
            return compute_asset_id(bytes.fromhex(res["hash"]))
        datanet = commit("create_datanet", ["load-datanet", "ipfs://load", 500_000, 1_000, [owner.address]])
        model = commit("register_model", ["load-model", "ipfs://load/model", 10_000, [[datanet, 400_000]]])
        agent = commit("register_agent", ["load-agent", "ipfs://load/agent", 20_000, [[model, 300_000]]])
    return World(datanet, [(model, 10_000), (agent, 20_000)])
