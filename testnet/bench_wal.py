"""What logging blocks in the WAL costs a validator per height (issue 9 item 6).

Runs the node's real WAL path for one height of a 4-validator set, over and over: the
driver with its `WalInputLog` on a `Wal` file (fsyncs as in the node: before each
signature, and each own vote), fed StartHeight, a valid proposal of a block of `--txs`
signed transfers, three prevotes and three precommits; then the decided block is made
durable (node `_finish_decision`) and the log truncated. Once with the block logged
(`ValueBytes`, what the node does) and once without (the old WAL), alternating heights so
both see the same load. Prints medians per height and the difference, and the block
record's own cost (encode + write + fsync, less a vote-sized record's); last line JSON.

    .venv/bin/python testnet/bench_wal.py [--txs 5000] [--heights 40] [--dir /tmp]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nacl.signing import SigningKey  # noqa: E402

from consensus.crypto import Ed25519Key  # noqa: E402
from consensus.driver import Driver  # noqa: E402
from consensus.messages import (  # noqa: E402
    ProposalReceived, StartHeight, ValueBytes, VoteReceived,
)
from consensus.signer import MemoryLastSignStore, Signer  # noqa: E402
from consensus.types import Proposal, Validator, ValidatorSet, Vote, VoteType  # noqa: E402
from consensus.wal import encode_record  # noqa: E402
from node.runtime.core import WalInputLog  # noqa: E402
from node.runtime.durable import Wal  # noqa: E402
from state.block import Block, Header, compute_data_hash  # noqa: E402
from state.tx import sign_tx  # noqa: E402

CHAIN = "bench-wal"


def _vote(k: Ed25519Key, t: VoteType, height: int, vid: bytes) -> Vote:
    u = Vote(t, height, 0, vid, k.address)
    return Vote(t, height, 0, vid, k.address, k.sign(u.sign_bytes(CHAIN)))


def _proposal(k: Ed25519Key, height: int, vid: bytes) -> Proposal:
    u = Proposal(height, 0, vid, -1, k.address)
    return Proposal(height, 0, vid, -1, k.address, k.sign(u.sign_bytes(CHAIN)))


def make_block(height: int, n_txs: int, proposer: bytes) -> Block:
    sk = SigningKey(hashlib.sha256(b"sender").digest())
    txs = [sign_tx(sk, CHAIN, i, 1000, "transfer", [bytes(20), 1]) for i in range(n_txs)]
    h = bytes(32)
    return Block(Header(CHAIN, height, 1, h, h, compute_data_hash(txs), h, h, h, h, proposer), txs)


def one_height(directory: Path, ks, vs, me, height: int, block: Block, log_blocks: bool) -> float:
    wal = Wal(directory / f"cs-{height}.wal")
    blocks = {block.id(): block} if log_blocks else {}
    log = WalInputLog(wal, blocks.get)
    d = Driver(CHAIN, None, Signer(me, CHAIN, MemoryLastSignStore()), wal=log)
    proposer = next(k for k in ks if k.address == vs.proposer(height, 0).address)
    others = [k for k in ks if k is not me][:3]
    vid = block.id()
    inputs = [StartHeight(height, vs), ProposalReceived(_proposal(proposer, height, vid), True)]
    for t in (VoteType.PREVOTE, VoteType.PRECOMMIT):
        inputs += [VoteReceived(_vote(k, t, height, vid)) for k in others]
    t0 = time.perf_counter()
    for inp in inputs:
        d.apply(inp)  # writes the WAL itself, through `log` (own votes synced as it signs)
    assert d.decision is not None and d.decision.value_id == vid
    log.make_durable(vid)
    wal.truncate()
    elapsed = time.perf_counter() - t0
    wal.close()
    return elapsed


def direct_cost(directory: Path, block: Block, rounds: int) -> tuple[float, float]:
    """Medians of (encode the block + append it + fsync) and (append a vote-sized record +
    fsync): the first minus the second is the block's own cost when an fsync is due anyway."""
    wal = Wal(directory / "direct.wal")
    small = b"v" * 200
    big, base = [], []
    for _ in range(rounds):
        t0 = time.perf_counter()
        wal.append(encode_record(ValueBytes(block.height, block.id(), block.encode())), sync=True)
        big.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        wal.append(small, sync=True)
        base.append(time.perf_counter() - t0)
        wal.truncate()
    wal.close()
    return statistics.median(big), statistics.median(base)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--txs", type=int, default=5000)
    ap.add_argument("--heights", type=int, default=40)
    ap.add_argument("--dir", default=None, help="where the WAL files go (default: a temp dir)")
    a = ap.parse_args()
    ks = [Ed25519Key(hashlib.sha256(b"bench-wal-%d" % i).digest()) for i in range(4)]
    vs = ValidatorSet([Validator.from_pub_key(k.pub_key, 1) for k in ks])
    me = ks[0]
    block = make_block(1, a.txs, ks[1].address)
    size = len(block.encode())
    with tempfile.TemporaryDirectory(dir=a.dir) as tmp:
        times = {True: [], False: []}
        for i in range(2 * a.heights):
            logged = i % 2 == 0
            times[logged].append(one_height(Path(tmp), ks, vs, me, 1, block, logged))
        big, base = direct_cost(Path(tmp), block, a.heights)
    with_, without = statistics.median(times[True]), statistics.median(times[False])
    ms = lambda x: round(x * 1000, 3)  # noqa: E731
    print(f"block of {a.txs} txs, {size} bytes; {a.heights} heights each")
    print(f"WAL per height without the block: {ms(without)} ms, with it: {ms(with_)} ms "
          f"(medians; difference {ms(with_ - without)} ms)")
    print(f"block record encoded + written + fsynced: {ms(big)} ms; a vote-sized record + "
          f"fsync: {ms(base)} ms; the block's own cost: {ms(big - base)} ms")
    print(json.dumps({"txs": a.txs, "block_bytes": size, "heights": a.heights,
                      "height_ms_without": ms(without), "height_ms_with": ms(with_),
                      "height_added_ms": ms(with_ - without), "block_record_ms": ms(big),
                      "small_record_ms": ms(base), "block_added_ms": ms(big - base)}))


if __name__ == "__main__":
    main()
