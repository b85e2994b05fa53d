"""`attrchain bench apply`: how fast one node applies blocks of signed transactions.

1. Yardstick: PyNaCl ed25519 verify rate on one core (150-byte messages), measured now.
2. Builds a state of >= --keys keys on disk (progress printed): genesis with --senders
   funded accounts and 4 validators; an attribution graph made by real transactions
   (datanets with curators, contributions accepted by reviews, models built on a datanet
   and one of its contributions, agents built on a model: agent -> model -> datanet, 3
   levels); then filler accounts, committed through blocks in chunks so the tree is
   persisted the same way as any state.
3. Applies --blocks blocks of --block-txs signed txs of a realistic mix (transfers; uses
   of agents and of models; contributions; reviews), each phase timed as a node runs it:
     decode   decode_tx of every tx (admission)
     verify   the signature of every tx, once (admission)
     execute  Ledger.execute_block with the admitted txs (header and last-commit checks,
              ante, kind processing; no re-decode, no re-verify)
     tree     the store's Merkle tree update and new root
     commit   building and writing the one synced LevelDB WriteBatch
   Txs are signed before each block, outside the timed phases.
4. Prints tx/s, microseconds per tx by phase, peak RSS, and as the last line one JSON
   object with tx_per_s, verify_per_s, ratio (= tx_per_s / verify_per_s), rss_mb.
"""
from __future__ import annotations

import json
import resource
import shutil
import statistics
import tempfile
import time
from hashlib import sha256

import click
from nacl.signing import SigningKey

MIX = (("transfer", 40), ("use_agent", 30), ("use_model", 10), ("contribute", 10), ("review", 10))


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_verify_rate(seconds: float = 1.5, clock=time.perf_counter) -> float:
    """PyNaCl VerifyKey.verify of 150-byte messages on this core (keys pre-built), per
    second of `clock` (wall clock by default; time.process_time for CPU time)."""
    from nacl.signing import VerifyKey
    keys = [SigningKey(sha256(b"yardstick%d" % i).digest()) for i in range(64)]
    items = []
    for i in range(512):
        k = keys[i % 64]
        msg = sha256(b"m%d" % i).digest() * 4 + b"x" * 22     # 150 bytes
        items.append((VerifyKey(bytes(k.verify_key)), msg, k.sign(msg).signature))
    n = 0
    t0, c0 = time.perf_counter(), clock()
    deadline = t0 + seconds
    while True:
        for vk, msg, sig in items:
            vk.verify(msg, sig)
        n += len(items)
        if time.perf_counter() >= deadline:
            break
    return n / (clock() - c0)


def key_of(label: str, i: int) -> SigningKey:
    return SigningKey(sha256(b"bench/%s/%d" % (label.encode(), i)).digest())


class Bench:
    def __init__(self, path: str, senders: int, echo) -> None:
        from state.address import address_from_pubkey
        from state.devchain import DevChain
        from state.params import Params
        from state.store import Store
        self.echo = echo
        self.addr = lambda k: address_from_pubkey(bytes(k.verify_key))
        t = time.perf_counter()
        self.senders = [key_of("sender", i) for i in range(senders)]
        self.creators = [key_of("creator", i) for i in range(50)]
        accounts = [(k, 10**12) for k in self.senders + self.creators]
        params = Params(max_block_txs=100_000)
        self.chain = DevChain(Store(path), chain_id="attrchain-bench", accounts=accounts, params=params)
        self.ledger = self.chain.ledger
        self.keys = len(self.chain.genesis.initial_state())
        echo(f"  genesis: {len(accounts):,} funded accounts, 4 validators "
             f"({time.perf_counter() - t:.1f} s)")
        self.datanets: list[bytes] = []
        self.models: list[bytes] = []
        self.agents: list[bytes] = []
        self.contributions: list[bytes] = []
        self.pending: list[tuple[int, bytes]] = []     # (datanet index, contribution id) to review
        self.content_counter = 0

    # --- building the state ----------------------------------------------------------------
    def apply_checked(self, txs: list[bytes]):
        result = self.ledger.execute_block(self.chain.make_block(txs))
        bad = [(r.kind, r.code.name, r.log) for r in result.tx_results if not r.ok]
        if bad:
            raise click.ClickException(f"setup tx failed: {bad[:3]}")
        get = self.ledger.store.get
        self.keys += sum(1 for k, v in result.changes.items() if v is not None and get(k) is None)
        self.chain.commit(result)
        return result

    def next_contribution(self, sender: SigningKey, d: int) -> tuple[bytes, bytes]:
        from state.asset_records import compute_contribution_id
        self.content_counter += 1
        content = sha256(b"content%d" % self.content_counter).digest()
        raw = self.chain.tx(sender, "contribute", self.datanets[d], content, 1_000 + self.content_counter % 977,
                            "ipfs://c")
        return raw, compute_contribution_id(self.datanets[d], content)

    def build_graph(self, per_datanet: int, models: int, agents: int) -> None:
        from state.asset_records import compute_asset_id
        from state.tx import tx_id
        c = self.chain
        txs = [c.tx(k, "create_datanet", f"datanet {i}", "ipfs://d", 200_000, 1_000, [self.addr(k)])
               for i, k in enumerate(self.creators)]
        self.apply_checked(txs)
        self.datanets = [compute_asset_id(tx_id(t)) for t in txs]
        txs, ids = [], []
        for d in range(len(self.datanets)):
            for j in range(per_datanet):
                raw, cid = self.next_contribution(self.senders[(d * per_datanet + j) % len(self.senders)], d)
                txs.append(raw)
                ids.append((d, cid))
        self.apply_checked(txs)
        self.apply_checked([c.tx(self.creators[d], "review", cid, True, 1 + (n * 7919) % 1_000_000)
                            for n, (d, cid) in enumerate(ids)])
        self.contributions = [cid for _, cid in ids]
        txs = []
        for m in range(models):
            d = m % len(self.datanets)
            contribution = self.contributions[d * per_datanet + m % per_datanet]
            sources = [[self.datanets[d], 400_000], [contribution, 100_000]]
            if m >= len(self.datanets):           # some models also build on a parent model
                parent_tx = txs[m - len(self.datanets)]
                sources.append([compute_asset_id(tx_id(parent_tx)), 200_000])
            txs.append(c.tx(self.creators[m % len(self.creators)], "register_model", f"model {m}", "ipfs://m",
                            10_000 + m, sources))
        # parents must exist first: register in two blocks
        first, second = txs[:len(self.datanets)], txs[len(self.datanets):]
        self.apply_checked(first)
        if second:
            self.apply_checked(second)
        self.models = [compute_asset_id(tx_id(t)) for t in txs]
        txs = [c.tx(self.creators[a % len(self.creators)], "register_agent", f"agent {a}", "ipfs://a",
                    50_000 + a, [[self.models[a % len(self.models)], 500_000]]) for a in range(agents)]
        self.apply_checked(txs)
        self.agents = [compute_asset_id(tx_id(t)) for t in txs]

    def fill(self, target_keys: int, chunk: int) -> None:
        """Filler accounts (1 uopen each) added to the changes of empty blocks, so they are
        committed, hashed into the tree and persisted like any state."""
        from state.codec import decode_value, encode_value
        from state.keys import GENESIS_SUPPLY, account_key
        i = 0
        t0 = time.perf_counter()
        one = encode_value([1, 0])
        while self.keys < target_keys:
            n = min(chunk, target_keys - self.keys)
            result = self.ledger.execute_block(self.chain.make_block([]))
            for j in range(i, i + n):
                result.changes[account_key(sha256(b"filler%d" % j).digest()[:20])] = one
            supply = decode_value(self.ledger.store.get(GENESIS_SUPPLY))
            result.changes[GENESIS_SUPPLY] = encode_value(supply + n)   # keep the supply invariant true
            self.chain.commit(result)
            i += n
            self.keys += n
            self.echo(f"  state: {self.keys:,} keys  (+{n:,} in {self.ledger.store.last_commit_timings['tree']:.2f} s "
                      f"tree, {time.perf_counter() - t0:.0f} s so far, RSS {peak_rss_mb():.0f} MB)")

    # --- the measured workload ----------------------------------------------------------------
    def make_txs(self, n: int, block_no: int) -> list[bytes]:
        c = self.chain
        txs = []
        kinds = [k for k, w in MIX for _ in range(w)]
        senders = self.senders
        for i in range(n):
            kind = kinds[(i * 37 + block_no) % len(kinds)]
            s = senders[(block_no * n + i) % len(senders)]
            if kind == "transfer":
                to = self.addr(senders[(block_no * n + i * 7 + 1) % len(senders)])
                if to == self.addr(s):
                    to = b"\x01" * 20
                txs.append(c.tx(s, "transfer", to, 1_000 + i))
            elif kind == "use_agent":
                txs.append(c.tx(s, "use", self.agents[(i * 13 + block_no) % len(self.agents)], 10**9))
            elif kind == "use_model":
                txs.append(c.tx(s, "use", self.models[(i * 11 + block_no) % len(self.models)], 10**9))
            elif kind == "contribute":
                d = (i * 3 + block_no) % len(self.datanets)
                raw, cid = self.next_contribution(s, d)
                txs.append(raw)
                self.pending.append((d, cid))
            else:  # review one contribution made in an earlier block, by its datanet's curator
                if self.pending_ready:
                    d, cid = self.pending_ready.pop()
                    txs.append(c.tx(self.creators[d], "review", cid, (i % 5) != 0, 1 + i % 1_000_000
                                    if (i % 5) != 0 else 0))
                else:
                    txs.append(c.tx(s, "transfer", b"\x02" * 20, 1))
        return txs

    def run_block(self, txs: list[bytes]) -> dict:
        return run_timed_block(self.chain, txs)[0]


def run_timed_block(chain, txs: list[bytes]) -> tuple[dict, object]:
    """Apply one block of signed txs as a node does, timing each phase; returns (timings,
    the BlockResult)."""
    from state.tx import decode_tx, verify_signature
    ledger = chain.ledger
    block = chain.make_block(txs)
    t0, m0, p0 = time.perf_counter(), time.thread_time(), time.process_time()
    decoded = [decode_tx(raw) for raw in txs]
    t1, m1 = time.perf_counter(), time.thread_time()
    for stx in decoded:
        verify_signature(stx)
    t2, c2, m2 = time.perf_counter(), time.process_time(), time.thread_time()
    result = ledger.execute_block(block, admitted={stx.id: stx for stx in decoded})
    t3, c3, m3 = time.perf_counter(), time.process_time(), time.thread_time()
    chain.commit(result)
    t4, m4, p4 = time.perf_counter(), time.thread_time(), time.process_time()
    timings = ledger.store.last_commit_timings
    failed = [(r.kind, r.code.name, r.log) for r in result.tx_results if not r.ok]
    # CPU seconds by phase: this thread's, and the rest of the process's (LevelDB's
    # compaction thread) while the block ran
    store_cpu = {k: timings[k + "_cpu"] for k in ("tree", "batch", "write", "cache")}
    cpu = {"decode": m1 - m0, "verify": m2 - m1, "execute": m3 - m2, **store_cpu,
           "commit_other": (m4 - m3) - sum(store_cpu.values()), "background": (p4 - p0) - (m4 - m0)}
    return {"decode": t1 - t0, "verify": t2 - t1, "execute": t3 - t2, "tree": timings["tree"],
            "commit": (t4 - t3) - timings["tree"], "total": t4 - t0, "failed": failed,
            "changes": len(result.changes), "execute_cpu": c3 - c2, "cpu": cpu}, result


@click.command()
@click.option("--keys", default=1_000_000, show_default=True, help="state size to build (keys)")
@click.option("--blocks", default=8, show_default=True, help="measured blocks")
@click.option("--block-txs", default=5_000, show_default=True, help="signed txs per block")
@click.option("--senders", default=20_000, show_default=True, help="funded sender accounts")
@click.option("--dir", "workdir", default=None, help="where to build the LevelDB (default: a temp dir)")
@click.option("--profile", "profile_out", default=None, help="write a cProfile of the measured blocks here")
def command(keys: int, blocks: int, block_txs: int, senders: int, workdir: str | None,
            profile_out: str | None) -> None:
    """Apply blocks of signed transactions on a large state and report tx/s against the
    PyNaCl verify rate measured in the same run."""
    echo = lambda s: click.echo(s, err=False)  # noqa: E731
    path = tempfile.mkdtemp(prefix="attrchain-bench-", dir=workdir)
    try:
        echo("yardstick: PyNaCl ed25519 verify on one core ...")
        verify_rate = measure_verify_rate()
        echo(f"  {verify_rate:,.0f} verifies/s ({1e6 / verify_rate:.1f} us each)")
        echo(f"building the state in {path} ...")
        bench = Bench(path, senders, echo)
        t = time.perf_counter()
        bench.build_graph(per_datanet=20, models=200, agents=200)
        echo(f"  graph: {len(bench.datanets)} datanets, {len(bench.contributions)} accepted contributions, "
             f"{len(bench.models)} models, {len(bench.agents)} agents ({time.perf_counter() - t:.1f} s)")
        bench.fill(keys, chunk=100_000)
        bench.pending_ready = []
        echo(f"applying {blocks} blocks of {block_txs:,} txs "
             f"(mix: {', '.join(f'{k} {w}%' for k, w in MIX)}) ...")
        runs = []
        profiler = None
        if profile_out:
            import cProfile
            profiler = cProfile.Profile()
        yardsticks = [verify_rate]
        for b in range(blocks):
            txs = bench.make_txs(block_txs, b)
            # the machine is shared: measure the yardstick beside every block, so noise hits both
            yardsticks.append(measure_verify_rate(0.3))
            if profiler:
                profiler.enable()
            r = bench.run_block(txs)
            if profiler:
                profiler.disable()
            bench.pending_ready = bench.pending
            bench.pending = []
            runs.append(r)
            echo(f"  block {bench.ledger.height}: {block_txs / r['total']:,.0f} tx/s  "
                 f"decode {r['decode']:.2f}  verify {r['verify']:.2f}  execute {r['execute']:.2f}  "
                 f"tree {r['tree']:.2f}  commit {r['commit']:.2f} s  ({r['changes']:,} keys changed, "
                 f"{len(r['failed'])} failed txs{': ' + str(r['failed'][:2]) if r['failed'] else ''})")
        if profiler:
            profiler.dump_stats(profile_out)
        total_txs = blocks * block_txs
        total_time = sum(r["total"] for r in runs)
        tx_per_s = total_txs / total_time
        phases = {p: round(1e6 * sum(r[p] for r in runs) / total_txs, 1)
                  for p in ("decode", "verify", "execute", "tree", "commit")}
        yardsticks.append(measure_verify_rate(1.0))
        verify_rate = statistics.median(yardsticks)
        rss = peak_rss_mb()
        echo(f"result: {tx_per_s:,.0f} tx/s over {total_txs:,} txs; us per tx: "
             + ", ".join(f"{p} {v}" for p, v in phases.items()))
        echo(f"  PyNaCl verify {verify_rate:,.0f}/s on one core (median of {len(yardsticks)} runs beside the blocks); "
             f"ratio {tx_per_s / verify_rate:.3f} (bar 0.20); peak RSS {rss:.0f} MB (bar 1024)")
        median_block = statistics.median(block_txs / r["total"] for r in runs)
        echo(f"  median block {median_block:,.0f} tx/s, ratio {median_block / verify_rate:.3f} "
             f"(the machine is shared: the headline above sums all blocks, slow ones included)")
        failed = sum(len(r["failed"]) for r in runs)
        echo(json.dumps({"tx_per_s": round(tx_per_s), "verify_per_s": round(verify_rate),
                         "ratio": round(tx_per_s / verify_rate, 3), "rss_mb": round(rss),
                         "us_per_tx": phases, "median_block_ratio": round(median_block / verify_rate, 3), "blocks": blocks, "block_txs": block_txs,
                         "state_keys_before": bench.keys, "failed_txs": failed}))
    finally:
        try:
            bench.ledger.store.close()
        except Exception:
            pass
        shutil.rmtree(path, ignore_errors=True)
