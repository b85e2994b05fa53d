"""`attrchain bench prune`: a soak of many blocks under load, showing that pruning keeps
disk use flat.

A DevChain (state/devchain.py: real signed txs, real blocks with commits, the ledger and
the LevelDB store a node uses) applies --blocks blocks of --block-txs transfers among
--accounts funded accounts (so the live state keeps its size, as on a busy chain whose
users are not all new), and after each block runs the node's own Pruner
(node/runtime/pruning.py) with [storage] keep_recent = --keep-recent and its compaction. The
default, 1,800 blocks, is 30 minutes of a chain at one block per second, run as fast as
this machine applies them. Every --every blocks it prints height, retained base, disk
use of the store directory (bytes of its files) and the time; the last line is JSON with
the disk figures. `--keep-recent 0` runs the same load as an archive node, for contrast.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import time

import click


def disk_bytes(path: str) -> int:
    return sum(e.stat().st_size for e in os.scandir(path) if e.is_file())


@click.command("prune")
@click.option("--blocks", default=1800, show_default=True, help="blocks to apply")
@click.option("--block-txs", default=200, show_default=True, help="transfers per block")
@click.option("--accounts", default=2000, show_default=True, help="funded accounts sending and receiving")
@click.option("--keep-recent", default=100, show_default=True, help="[storage] keep_recent; 0 = archive")
@click.option("--compact-interval", default=200, show_default=True, help="[storage] compact_interval")
@click.option("--every", default=100, show_default=True, help="print a line every this many blocks")
def command(blocks: int, block_txs: int, accounts: int, keep_recent: int, compact_interval: int,
            every: int) -> None:
    """Soak: many blocks under load with pruning; prints disk use over time."""
    from node.config import StorageSection
    from node.runtime.pruning import Pruner
    from state.devchain import DevChain, seeded_key
    from state.store import Store

    keys = [seeded_key(f"soak/{i}") for i in range(accounts)]
    addrs = [bytes(k.verify_key) for k in keys]
    from state.address import address_from_pubkey
    addrs = [address_from_pubkey(a) for a in addrs]
    tmp = tempfile.mkdtemp(prefix="bench-prune-")
    path = os.path.join(tmp, "state.db")
    store = Store(path)
    try:
        chain = DevChain(store, chain_id="attrchain-soak", accounts=[(k, 10**15) for k in keys])
        pruner = Pruner(store, StorageSection(keep_recent=keep_recent, compact_interval=compact_interval))
        click.echo(f"soak: {blocks} blocks of {block_txs} transfers among {accounts} accounts, "
                   f"keep_recent={keep_recent or 'everything'}, compact every {compact_interval} pruned heights")
        samples = []
        t0 = time.perf_counter()
        sender = 0
        for b in range(1, blocks + 1):
            txs = []
            for _ in range(block_txs):
                s = sender % accounts
                sender += 1
                txs.append(chain.tx(keys[s], "transfer", addrs[(s * 7 + b) % accounts], 1))
            chain.apply(txs, verified=True)
            pruner.after_commit()
            if pruner.compaction_due():
                store.compact()
            if b % every == 0 or b == blocks:
                size = disk_bytes(path)
                samples.append((b, size))
                click.echo(f"  height {store.height:5d}  base {store.base:5d}  disk {size / 2**20:8.1f} MiB"
                           f"  t={time.perf_counter() - t0:7.1f} s")
        half = [s for b, s in samples if b > blocks // 2]
        out = {"blocks": blocks, "block_txs": block_txs, "keep_recent": keep_recent,
               "disk_mib_first": round(samples[0][1] / 2**20, 1),
               "disk_mib_last": round(samples[-1][1] / 2**20, 1),
               "disk_mib_max_second_half": round(max(half) / 2**20, 1),
               "disk_mib_min_second_half": round(min(half) / 2**20, 1),
               "seconds": round(time.perf_counter() - t0, 1)}
        click.echo(json.dumps(out))
    finally:
        store.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    command()
