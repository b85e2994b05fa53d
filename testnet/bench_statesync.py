"""`attrchain bench statesync`: the time to join a chain whose state holds --keys keys
(default 1,000,000), by state sync and by replaying every block.

1. Builds the chain with real blocks (state/devchain.py: signed transfers to fresh
   addresses, --block-txs per block, each creating one account key) until the state holds
   >= --keys keys, then takes a snapshot of that height H (node/runtime/snapshots.py, the format a
   node serves) and adds 3 empty blocks (a joining node verifies headers H..H+2; the
   commit of the newest block, `top`, travels in no block, so both joins end at top - 1).
2. State sync: a serving side (the built chain opened as a node's Chain, with the snapshot
   and light-block handlers a node registers) and a joining side, each on its own libp2p
   transport over 127.0.0.1 TCP in this process. Timed: offers, manifest, light-client
   verification from trust height 1, every chunk fetched and checked, bulk restore and
   root check (node/runtime/statesync.py), then the blocks after H applied as block sync does
   (`Chain.apply_synced`: commit verified, every tx signature verified, executed).
3. Replay: a fresh node store from genesis applies every block 1..top-1 the same way
   (`Chain.apply_synced`, blocks read from the built chain's store: no network, which
   only favours replay).
Prints both times, their ratio, and as the last line a JSON object.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from hashlib import sha256
from pathlib import Path

import click
import trio

CHAIN_ID = "attrchain-sync-bench"


def build_chain(path: Path, keys: int, block_txs: int, senders: int, echo):
    """The chain built by blocks of transfers to fresh addresses; returns (genesis, H, top)."""
    from state.devchain import DevChain, seeded_key
    from state.store import Store

    keys_of = [seeded_key(f"sync-bench/sender/{i}") for i in range(senders)]
    store = Store(path / "state.db")
    chain = DevChain(store, chain_id=CHAIN_ID, accounts=[(k, 10**15) for k in keys_of])
    have = len(chain.genesis.initial_state())
    n = 0
    t0 = time.perf_counter()
    while have < keys:
        txs = []
        for i in range(min(block_txs, keys - have)):
            to = sha256(b"fresh%d" % n).digest()[:20]
            n += 1
            txs.append(chain.tx(keys_of[i % senders], "transfer", to, 1))
        chain.apply(txs, verified=True)
        have += len(txs)
        if store.height % 20 == 0:
            echo(f"  build: height {store.height}, ~{have:,} keys ({time.perf_counter() - t0:.0f} s)")
    snapshot_height = store.height
    from node.runtime.snapshots import write_snapshot
    height, app_hash, items = store.state_snapshot()
    manifest = write_snapshot(path / "snapshots", height, app_hash, items)
    for _ in range(3):
        chain.apply([])
    top = store.height
    store.close()
    echo(f"  built: {have:,} keys at height {snapshot_height}, top {top}, snapshot of "
         f"{len(manifest.chunk_hashes)} chunks ({time.perf_counter() - t0:.0f} s)")
    return chain.genesis, snapshot_height, top


def open_chain(state_dir: Path, genesis, seen: Path):
    from node.runtime.chain import Chain
    return Chain(state_dir, genesis, seen)


def replay(src, dst_dir: Path, genesis, top: int, start: int = 1) -> float:
    """Apply blocks start..top from chain `src` to a chain in dst_dir, as block sync does."""
    dst = open_chain(dst_dir / "state.db", genesis, dst_dir / "seen_commit.bin")
    t0 = time.perf_counter()
    try:
        for h in range(max(start, dst.height + 1), top + 1):
            dst.apply_synced(src.block(h), src.commit(h))
        assert dst.app_hash == src.store.app_hash_at(top)
    finally:
        dst.close()
    return time.perf_counter() - t0


async def state_sync(src, src_dir: Path, dst_dir: Path, genesis, top: int) -> tuple[float, float, int]:
    """(seconds to restore, seconds for the blocks after it, restored height) over libp2p."""
    from node.config import StateSyncSection
    from node.light.serve import register_light_handlers
    from node.runtime.mempool import TxRejected
    from node.runtime.snapshots import SnapshotStore, register_snapshot_handlers
    from node.runtime.statesync import maybe_state_sync
    from p2p.config import P2PConfig
    from p2p.ids import ChainTopics
    from p2p.libp2p_transport import open_libp2p_transport

    serve_cfg = P2PConfig(chain_id=CHAIN_ID, identity_seed=b"s" * 32)
    async with open_libp2p_transport(serve_cfg) as server:
        topics = ChainTopics(CHAIN_ID)

        def refuse(raw: bytes) -> None:
            raise TxRejected("read_only", "this bench's server takes no txs")
        register_light_handlers(server, topics, src, refuse)
        register_snapshot_handlers(server, topics, SnapshotStore(src_dir / "snapshots", keep=2))
        join_cfg = P2PConfig(chain_id=CHAIN_ID, identity_seed=b"j" * 32,
                             persistent_peers=(server.listen_addrs()[0],))
        async with open_libp2p_transport(join_cfg) as joiner:
            cfg = StateSyncSection(enable=True, trust_height=1, trust_hash=src.block(1).id().hex())
            now = src.block(top + 1).header.time_ms + 1000  # the chain's own clock (DevChain times)
            t0 = time.perf_counter()
            h = await maybe_state_sync(joiner, CHAIN_ID, dst_dir / "state.db", dst_dir / "seen_commit.bin",
                                       cfg, clock=lambda: now)
            restore_s = time.perf_counter() - t0
    blocks_s = replay(src, dst_dir, genesis, top, start=h + 1)
    return restore_s, blocks_s, h


@click.command("statesync")
@click.option("--keys", default=1_000_000, show_default=True, help="keys in the state to join")
@click.option("--block-txs", default=5000, show_default=True, help="transfers per block while building")
@click.option("--senders", default=1000, show_default=True)
def command(keys: int, block_txs: int, senders: int) -> None:
    """Join a chain of --keys state keys by state sync and by replay; print both times."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-statesync-"))
    try:
        src_dir = tmp / "source"
        src_dir.mkdir()
        click.echo(f"building a chain whose state holds >= {keys:,} keys ...")
        genesis, h, top = build_chain(src_dir, keys, block_txs, senders, click.echo)
        src = open_chain(src_dir / "state.db", genesis, src_dir / "seen_commit.bin")
        try:
            (tmp / "synced").mkdir()
            end = top - 1
            restore_s, after_s, got = trio.run(state_sync, src, src_dir, tmp / "synced", genesis, end)
            sync_s = restore_s + after_s
            click.echo(f"state sync: restored height {got} in {restore_s:.1f} s (libp2p, verified), "
                       f"then {end - got} blocks in {after_s:.1f} s: {sync_s:.1f} s")
            (tmp / "replayed").mkdir()
            click.echo(f"replay: {end} blocks ...")
            replay_s = replay(src, tmp / "replayed", genesis, end)
            click.echo(f"replay: {end} blocks in {replay_s:.1f} s")
        finally:
            src.close()
        out = {"keys": keys, "height": h, "top": top, "state_sync_s": round(sync_s, 2),
               "restore_s": round(restore_s, 2), "replay_s": round(replay_s, 2),
               "speedup": round(replay_s / sync_s, 1), "cpus": os.cpu_count()}
        click.echo(f"state sync is {replay_s / sync_s:.1f}x faster than replay")
        click.echo(json.dumps(out))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    command()
