"""`attrchain bench market`: the order book under load, and the cost of a `use` whatever
the number of holders.

1. Yardstick: PyNaCl ed25519 verify rate on one core, measured beside every block.
2. State (LevelDB, built through the ledger's own process functions and committed like
   any block's changes): model A with --orders resting orders (half asks of 5 shares at
   prices from 1,001 up, half bids of 5 shares at prices from 1,000 down, --per-level
   orders a price level) placed by 1,000 makers; model M1 with 1 holder and model Mn
   with --holders holders (1 share each but the creator's); then one LevelDB compaction,
   meant to keep the build's compaction out of the measured blocks (see docs/store.md:
   `compact_all` only flushes the memtable); then the garbage collector as a running node
   sets it once it is up (node/runtime/gc_tuning.py).
3. Measured: --blocks blocks of --block-txs signed txs, each 90 % placements by takers
   that fill 1-5 makers (buys at a high limit against the asks, sells at 1 against the
   bids, fee = min_fee per fill) and 10 % cancels of resting orders deep in the book,
   timed as a node runs them (decode, verify, execute, tree, commit: bench apply's
   phases); then blocks of --uses uses of M1 and of Mn, alternating which goes first
   (execute only, signatures pre-verified as for admitted txs; CPU time of the thread,
   so other processes on a shared core do not count; best of --rounds each).
4. Prints placements/s and fills/s (whole pipeline; cancels' time counted against the
   placements), the use cost with 1 and with --holders holders, each also as a ratio to
   the verify rate, and as its last line one JSON object. Rates are given twice: by wall
   clock (as bench apply), and by this process's CPU time for the blocks and for the
   yardstick alike, which other processes on a shared machine do not distort; the JSON's
   `placement_ratio` is the CPU-time one, `placement_ratio_wall` the other. Also the CPU
   time of a placement by phase: the main thread's, and the rest of the process's while
   the blocks ran (LevelDB's compaction thread).
"""
from __future__ import annotations

import json
import shutil
import statistics
import tempfile
import time
from hashlib import sha256
from types import SimpleNamespace

from collections import Counter

import click

from node.runtime.gc_tuning import tune_gc
from state.order_book import Status, get_order
from testnet.bench_apply import key_of, measure_verify_rate, run_timed_block

MAKERS = 1_000
TAKERS = 2_000
USERS = 2_000
ORDER_SHARES = 5
TAKER_SHARES = 200


class MarketBench:
    def __init__(self, path: str, echo) -> None:
        from state.address import address_from_pubkey
        from state.devchain import DevChain
        from state.params import Params
        from state.store import Store
        self.echo = echo
        self.addr = lambda k: address_from_pubkey(bytes(k.verify_key))
        self.makers = [key_of("maker", i) for i in range(MAKERS)]
        self.takers = [key_of("taker", i) for i in range(TAKERS)]
        self.users = [key_of("user", i) for i in range(USERS)]
        self.creator = key_of("creator", 0)
        accounts = [(k, 10**13) for k in self.makers + self.takers + self.users + [self.creator]]
        self.chain = DevChain(Store(path), chain_id="attrchain-bench-market", accounts=accounts,
                              params=Params(max_block_txs=100_000))
        self.ledger = self.chain.ledger
        self._maker_by_addr = {self.addr(k): k for k in self.makers}
        self.asks: list[bytes] = []       # resting order ids, in price order (best first)
        self.bids: list[bytes] = []

    def commit_built(self, build) -> None:
        """Run `build(ctx)` in the context of an empty block and commit its changes with it
        (the sets kept once a block brought in step, as at the end of any block)."""
        from state.context import Context
        from state.order_book import process_flush_open_orders
        from state.revenue import process_flush_ranks
        result = self.ledger.execute_block(self.chain.make_block([]))
        ctx = Context(lambda k: result.changes[k] if k in result.changes else self.ledger.store.get(k),
                      self.ledger._block_info(result.height, result.block.header.time_ms))
        build(ctx)
        process_flush_ranks(ctx)
        process_flush_open_orders(ctx)
        result.changes.update(ctx.changes())
        self.chain.commit(result)

    def build(self, orders: int, per_level: int, holders: int) -> None:
        from state.asset_records import AssetKind, new_built_asset, set_asset
        from state.market import process_place_order
        from state.revenue import process_issue_shares, process_move_shares
        creator = self.addr(self.creator)
        self.asset, self.m1, self.mn = (sha256(b"bench-market/" + n).digest() for n in (b"A", b"M1", b"Mn"))

        def assets(ctx) -> None:
            for aid, price in ((self.asset, 1_000), (self.m1, 1_000), (self.mn, 1_000)):
                set_asset(ctx, aid, new_built_asset(AssetKind.MODEL, creator, "bench", "", price, [], 1))
                process_issue_shares(ctx, aid, creator)
            half = orders // 2
            per_maker = -(-half * ORDER_SHARES // MAKERS)
            for k in self.makers:
                process_move_shares(ctx, self.asset, creator, self.addr(k), per_maker)
            for k in self.takers:
                process_move_shares(ctx, self.asset, creator, self.addr(k), TAKER_SHARES)
        t = time.perf_counter()
        self.commit_built(assets)
        expires = self.ledger.height + 1 + self.ledger.params.max_order_blocks // 2
        n = 0

        def place(ctx, side: str, count: int, out: list[bytes]) -> None:
            from state.order_book import compute_order_id
            nonlocal n
            for i in range(count):
                level = i // per_level
                price = 1_001 + level if side == "sell" else max(1, 1_000 - level)
                tx_id = sha256(b"bench-market/order%d" % n).digest()
                maker = self.makers[n % MAKERS]
                n += 1
                args = SimpleNamespace(asset=self.asset, side=side, shares=ORDER_SHARES, price=price,
                                       expires_at=expires)
                process_place_order(ctx, SimpleNamespace(args=args, sender=self.addr(maker), id=tx_id,
                                                         tx=SimpleNamespace(fee=1_000)))
                out.append(compute_order_id(tx_id))
        chunk = 20_000
        for side, out in (("sell", self.asks), ("buy", self.bids)):
            left = orders // 2
            while left:
                c = min(chunk, left)
                self.commit_built(lambda ctx: place(ctx, side, c, out))
                left -= c
        self.echo(f"  book: {len(self.asks):,} asks and {len(self.bids):,} bids resting "
                  f"({per_level} a level; {time.perf_counter() - t:.1f} s)")
        t = time.perf_counter()
        done = 1
        while done < holders:
            c = min(chunk, holders - done)

            def spread(ctx, start=done, count=c) -> None:
                for i in range(start, start + count):
                    process_move_shares(ctx, self.mn, creator, sha256(b"holder%d" % i).digest()[:20], 1)
            self.commit_built(spread)
            done += c
        self.echo(f"  Mn: {holders:,} holders ({time.perf_counter() - t:.1f} s)")
        # LevelDB compacts the build's ~200k writes in a background thread for seconds
        # after; left alone it runs during the measured blocks and its CPU time is counted
        # against them. Compact now, so the blocks pay (in CPU time) their own compaction.
        t = time.perf_counter()
        self.ledger.store.compact_all()
        self.echo(f"  compacted the built state ({time.perf_counter() - t:.1f} s)")

    def make_block_txs(self, count: int, block_no: int) -> tuple[list[bytes], int]:
        """(txs, placements): takers filling 1-5 makers, and cancels of deep orders."""
        c, fee = self.chain, self.ledger.params.min_fee
        txs, placements = [], 0
        for i in range(count):
            if i % 10 == 9:           # a cancel of an order far from the best price, still open
                book = self.asks if i % 20 == 19 else self.bids
                order = None
                while book and (order is None or order.status != Status.OPEN):
                    oid = book.pop()
                    order = get_order(SimpleNamespace(get_record=self._get_record), oid)
                if order is not None and order.status == Status.OPEN:
                    txs.append(c.tx(self._maker_by_addr[order.owner], "cancel_order", oid))
                    continue
            fills = 1 + (i * 7 + block_no) % 5
            taker = self.takers[(block_no * count + i) % TAKERS]
            side = "buy" if i % 2 == 0 else "sell"
            price = 10**6 if side == "buy" else 1
            txs.append(c.tx(taker, "place_order", self.asset, side, fills * ORDER_SHARES, price,
                            self.ledger.height + 10, fee=fills * fee))
            placements += 1
        return txs, placements

    def _get_record(self, key: bytes):
        from state.codec import decode_value
        v = self.ledger.store.get(key)
        return None if v is None else decode_value(v)

    def run_block(self, txs: list[bytes]) -> dict:
        c0 = time.process_time()
        timings, result = run_timed_block(self.chain, txs)
        timings["phases"] = timings["cpu"]            # CPU seconds by phase and thread
        timings["cpu"] = time.process_time() - c0
        timings["fills"] = sum(1 for r in result.tx_results for e in r.events if e[0] == "fill")
        timings["nodes"] = self.ledger.store.last_commit_timings["nodes"]    # tree nodes hashed and written
        timings["entries"] = self.ledger.store.last_commit_timings["entries"]  # LevelDB entries written
        timings["tables"] = Counter(k[:4] for k in result.changes)          # keys changed, by table
        return timings

    def use_us(self, asset: bytes, count: int) -> float:
        from state.tx import tx_id
        raws = [self.chain.tx(u, "use", asset, 10**6) for u in self.users[:count]]
        block = self.chain.make_block(raws)
        t = time.thread_time()         # CPU time: what the use costs, not how long others held the core
        result = self.ledger.execute_block(block, frozenset(tx_id(r) for r in raws))
        dt = time.thread_time() - t
        bad = [r.log for r in result.tx_results if not r.ok]
        if bad:
            raise click.ClickException(f"use failed: {bad[0]}")
        self.chain.commit(result)
        return dt / count * 1e6


@click.command("market")
@click.option("--orders", default=100_000, show_default=True, help="resting orders on the book")
@click.option("--per-level", default=10, show_default=True, help="resting orders a price level")
@click.option("--holders", default=100_000, show_default=True, help="holders of the many-holder model")
@click.option("--blocks", default=6, show_default=True, help="measured blocks of placements and cancels")
@click.option("--block-txs", default=2_000, show_default=True, help="signed txs a measured block")
@click.option("--uses", default=1_000, show_default=True, help="uses a measured use block")
@click.option("--rounds", default=8, show_default=True, help="use blocks of each model (best kept)")
@click.option("--dir", "workdir", default=None, help="where to build the LevelDB (default: a temp dir)")
@click.option("--profile", "profile_out", default=None, help="write a cProfile of the measured placement blocks here")
def command(orders: int, per_level: int, holders: int, blocks: int, block_txs: int, uses: int,
            rounds: int, workdir: str | None, profile_out: str | None) -> None:
    """Order-book placements and fills per second on a book of --orders resting orders, and
    the cost of a use with 1 and --holders holders, against the PyNaCl verify rate."""
    echo = click.echo
    path = tempfile.mkdtemp(prefix="attrchain-bench-market-", dir=workdir)
    bench = None
    try:
        yardsticks = [measure_verify_rate()]
        cpu_yardsticks = [measure_verify_rate(1.0, time.process_time)]
        echo(f"yardstick: {yardsticks[0]:,.0f} PyNaCl verifies/s on one core "
             f"({cpu_yardsticks[0]:,.0f} per CPU second)")
        echo(f"building the state in {path} ...")
        bench = MarketBench(path, echo)
        bench.build(orders, per_level, holders)
        tune_gc()     # the collector as a running node has it once it is up (node/runtime/gc_tuning.py)
        runs = []
        placements = 0
        profiler = None
        if profile_out:
            import cProfile
            profiler = cProfile.Profile()
        for b in range(blocks):
            txs, n = bench.make_block_txs(block_txs, b)
            yardsticks.append(measure_verify_rate(0.3))
            cpu_yardsticks.append(measure_verify_rate(0.3, time.process_time))
            if profiler:
                profiler.enable()
            r = bench.run_block(txs)
            if profiler:
                profiler.disable()
            if r["failed"]:
                raise click.ClickException(f"measured txs failed: {r['failed'][:3]}")
            runs.append(r)
            placements += n
            echo(f"  block {bench.ledger.height}: {n / r['total']:,.0f} placements/s, {r['fills'] / r['total']:,.0f} "
                 f"fills/s, {n / r['cpu']:,.0f} placements per CPU s  (decode {r['decode']:.2f}  verify {r['verify']:.2f}  execute {r['execute']:.2f}  "
                 f"tree {r['tree']:.2f}  commit {r['commit']:.2f} s; {r['fills']:,} fills, {r['changes']:,} keys)")
        if profiler:
            profiler.dump_stats(profile_out)
        total = sum(r["total"] for r in runs)
        cpu = sum(r["cpu"] for r in runs)
        execute_cpu = sum(r["execute_cpu"] for r in runs)
        fills = sum(r["fills"] for r in runs)
        execute = sum(r["execute"] for r in runs)
        tables = sum((r["tables"] for r in runs), Counter())
        echo("  keys changed per placement, by table (exact): " + ", ".join(
            f"{t.decode(errors='replace')} {n / placements:.2f}" for t, n in tables.most_common()))
        phases = {k: round(sum(r["phases"][k] for r in runs) / placements * 1e6, 1) for k in runs[0]["phases"]}
        echo("  CPU us per placement, main thread by phase, then LevelDB's thread: "
             + ", ".join(f"{k} {v}" for k, v in phases.items()))
        use_1, use_n = [], []
        for r in range(rounds):           # alternate which goes first: the machine is shared
            yardsticks.append(measure_verify_rate(0.3))
            pair = [(bench.m1, use_1), (bench.mn, use_n)]
            for asset, out in (pair if r % 2 == 0 else pair[::-1]):
                out.append(bench.use_us(asset, uses))
            echo(f"  use: {use_1[-1]:.1f} us with 1 holder, {use_n[-1]:.1f} us with {holders:,} holders")
        yardsticks.append(measure_verify_rate(1.0))
        cpu_yardsticks.append(measure_verify_rate(1.0, time.process_time))
        verify = statistics.median(yardsticks)
        verify_cpu = statistics.median(cpu_yardsticks)
        p_s, f_s = placements / total, fills / total
        p_cpu, f_cpu = placements / cpu, fills / cpu
        u1, un = min(use_1), min(use_n)
        echo(f"result: {p_s:,.0f} placements/s, {f_s:,.0f} fills/s over {placements:,} placements "
             f"({fills / placements:.1f} fills each; execute alone {placements / execute:,.0f} placements/s), wall clock")
        echo(f"  PyNaCl verify {verify:,.0f}/s (median of {len(yardsticks)} runs beside the blocks): "
             f"placement ratio {p_s / verify:.3f} by wall clock")
        echo(f"  by CPU time: {p_cpu:,.0f} placements/s, {f_cpu:,.0f} fills/s, verify {verify_cpu:,.0f}/s: "
             f"placement ratio {p_cpu / verify_cpu:.3f} (bar 0.2); the state transition alone (execute, "
             f"no tree or commit) {placements / execute_cpu:,.0f} placements/s, ratio "
             f"{placements / execute_cpu / verify_cpu:.3f}")
        echo(f"  use, execute CPU time, best of {rounds}: {u1:.1f} us with 1 holder ({1e6 / u1 / verify_cpu:.3f} of the "
             f"verify rate), {un:.1f} us with {holders:,} ({1e6 / un / verify_cpu:.3f}); cost ratio {un / u1:.3f} (bar 1.2)")
        echo(json.dumps({"placements_per_s": round(p_cpu), "fills_per_s": round(f_cpu),
                         "verify_per_s": round(verify_cpu), "placement_ratio": round(p_cpu / verify_cpu, 3),
                         "use_cost_ratio": round(un / u1, 3), "clock": "process CPU time",
                         "placements_per_s_wall": round(p_s), "fills_per_s_wall": round(f_s),
                         "verify_per_s_wall": round(verify), "placement_ratio_wall": round(p_s / verify, 3),
                         "use_us_1_holder": round(u1, 1), "use_us_many_holders": round(un, 1),
                         "use_ratio_1_holder": round(1e6 / u1 / verify_cpu, 3),
                         "use_ratio_many_holders": round(1e6 / un / verify_cpu, 3),
                         "execute_placements_per_s": round(placements / execute_cpu),
                         "execute_placement_ratio": round(placements / execute_cpu / verify_cpu, 3),
                         "keys_changed_per_placement": round(sum(r["changes"] for r in runs) / placements, 2),
                         "tree_nodes_per_placement": round(sum(r["nodes"] for r in runs) / placements, 2),
                         "leveldb_entries_per_placement": round(sum(r["entries"] for r in runs) / placements, 2),
                         "cpu_us_per_placement": phases,
                         "resting_orders": orders,
                         "holders": holders, "blocks": blocks, "block_txs": block_txs}))
    finally:
        if bench is not None:
            bench.ledger.store.close()
        shutil.rmtree(path, ignore_errors=True)


if __name__ == "__main__":
    command()
