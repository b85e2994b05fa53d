"""Micro-benchmark of the state store and its Merkle tree.

Builds a store of N keys (default 1,000,000) with progress output, then commits blocks of
B changed keys (default 20,000: updates of existing keys, inserts and a few deletes) and
prints, per block and as medians: seconds for the tree (hash + update + new root), for
building the WriteBatch and for the synced write; nodes written; RSS. Yardsticks measured
in the same run (sha256 rate, a synced 20k-key plyvel batch) are printed as ratios.
The last line is one JSON object.

    .venv/bin/python testnet/bench_tree.py [--keys 1000000] [--block 20000] [--blocks 10]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
from hashlib import sha256
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import plyvel  # noqa: E402

from state.store import Store  # noqa: E402


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_key(i: int) -> bytes:
    # ledger-like keys: a table tag and a 20-byte id
    return b"acct/" + sha256(i.to_bytes(8, "big")).digest()[:20]


def make_value(i: int, version: int) -> bytes:
    return sha256(b"v%d/%d" % (i, version)).digest() + b"\x00" * 16  # 48 bytes


def yardstick_sha256(n: int = 300_000) -> float:
    data = b"x" * 64
    t = time.perf_counter()
    for _ in range(n):
        sha256(data).digest()
    return n / (time.perf_counter() - t)


def yardstick_leveldb(path: Path, keys: int) -> float:
    """Keys/s of a synced plyvel WriteBatch of `keys` random 33-byte keys, 56-byte values."""
    db = plyvel.DB(str(path), create_if_missing=True)
    rates = []
    for r in range(3):
        t = time.perf_counter()
        with db.write_batch(sync=True) as b:
            for i in range(keys):
                b.put(sha256(b"%d/%d" % (r, i)).digest() + b"k", b"v" * 56)
        rates.append(keys / (time.perf_counter() - t))
    db.close()
    return statistics.median(rates)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--block", type=int, default=20_000)
    ap.add_argument("--blocks", type=int, default=10)
    ap.add_argument("--insert-ppm", type=int, default=250_000, help="share of inserts in a block")
    ap.add_argument("--dir", default=None)
    args = ap.parse_args()

    root = Path(args.dir or tempfile.mkdtemp(prefix="bench_tree_"))
    rng = random.Random(7)
    try:
        sha_rate = yardstick_sha256()
        ldb_rate = yardstick_leveldb(root / "yardstick", args.block)
        print(f"yardsticks: sha256(64B) {sha_rate:,.0f}/s; synced LevelDB batch of "
              f"{args.block:,} keys {ldb_rate:,.0f} keys/s", flush=True)

        store = Store(root / "state")
        # Bulk build: Store.bulk_load streams the values out and builds the tree once.
        t_build = time.perf_counter()

        def progress(n: int) -> None:
            if n % 200_000 == 0 or n == args.keys:
                el = time.perf_counter() - t_build
                print(f"  build: {n:>9,} keys  {el:6.1f} s  {n / el:9,.0f} keys/s  "
                      f"RSS {rss_mb():6.0f} MB (peak {peak_rss_mb():.0f})", flush=True)

        height = 1
        store.bulk_load(height, ((make_key(i), make_value(i, 0)) for i in range(args.keys)),
                        {b"block/1": b"r"}, progress=progress)
        build_s = time.perf_counter() - t_build
        build_peak = peak_rss_mb()
        print(f"  built: {args.keys:,} keys in {build_s:.1f} s, RSS {rss_mb():.0f} MB "
              f"(peak {build_peak:.0f})", flush=True)

        version = {}
        next_key = args.keys
        rows = []
        for b in range(args.blocks):
            changes: dict[bytes, bytes | None] = {}
            inserts = args.block * args.insert_ppm // 1_000_000
            deletes = args.block // 200
            for _ in range(inserts):
                changes[make_key(next_key)] = make_value(next_key, 0)
                next_key += 1
            while len(changes) < args.block - deletes:
                i = rng.randrange(args.keys)
                version[i] = version.get(i, 0) + 1
                changes[make_key(i)] = make_value(i, version[i])
            while len(changes) < args.block:
                changes[make_key(rng.randrange(args.keys))] = None
            height += 1
            sha_now = yardstick_sha256(30_000)  # how busy the shared machine is right now
            t = time.perf_counter()
            c = time.thread_time()
            store.commit(height, changes, {b"block/%d" % height: b"r" * 200})
            cpu = time.thread_time() - c
            total = time.perf_counter() - t
            tm = store.last_commit_timings
            rows.append((total, tm["tree"], tm["batch"], tm["write"], tm["nodes"], sha_now, cpu))
            print(f"block {height}: {len(changes):,} changes  total {total:.3f} s  cpu {cpu:.3f}  "
                  f"tree {tm['tree']:.3f}  batch {tm['batch']:.3f}  write {tm['write']:.3f}  "
                  f"nodes {tm['nodes']:,}  RSS {rss_mb():.0f} MB  sha256 now {sha_now / 1e6:.2f}M/s",
                  flush=True)

        # a proof round trip on the final state, as a sanity check
        from state.proof import verify_proof
        v, p = store.prove(make_key(1))
        assert verify_proof(store.app_hash, make_key(1), v, p)
        store.close()

        med = [statistics.median(col) for col in zip(*rows)]
        per_key_us = med[0] / args.block * 1e6
        result = {
            "keys": args.keys,
            "block": args.block,
            "build_s": round(build_s, 2),
            "build_keys_per_s": round(args.keys / build_s),
            "block_s": round(med[0], 4),
            "block_cpu_s": round(med[6], 4),
            "block_min_s": round(min(r[0] for r in rows), 4),
            "block_cpu_min_s": round(min(r[6] for r in rows), 4),
            "tree_s": round(med[1], 4),
            "batch_s": round(med[2], 4),
            "write_s": round(med[3], 4),
            "nodes_per_block": int(med[4]),
            "us_per_key": round(per_key_us, 2),
            "sha256_per_s": round(sha_rate),
            "sha256_per_s_during_blocks": round(med[5]),
            "leveldb_sync_keys_per_s": round(ldb_rate),
            "write_vs_yardstick": round((args.block / med[3]) / ldb_rate, 3),
            "rss_mb": round(rss_mb()),
            "build_peak_rss_mb": round(build_peak),
            "peak_rss_mb": round(peak_rss_mb()),
            "proof_bytes": len(p),
        }
        print(f"fastest block: {min(r[0] for r in rows):.3f} s wall; "
              f"least CPU: {min(r[6] for r in rows):.3f} s")
        print(f"median block: {med[0]:.3f} s wall, {med[6]:.3f} s main-thread CPU (tree {med[1]:.3f}, batch {med[2]:.3f}, "
              f"write {med[3]:.3f}); {per_key_us:.1f} us per changed key; "
              f"peak RSS {peak_rss_mb():.0f} MB")
        print(json.dumps(result))
    finally:
        if not args.dir:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
