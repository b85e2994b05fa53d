"""`attrchain light bench`: what verification costs, against this machine's own yardstick.

Generates chains in memory (real ed25519 keys and signed commits), then times the light
client over them: sequential vs skipping on a static set, skipping with bisection when
the set rotates, for several set sizes. The yardstick, measured in the same run, is
PyNaCl's verifies/s; sequential verification is signature-bound, so its `ratio` compares
the headers/s achieved with verifies/s divided by the n signatures one header needs.
Last line: a JSON object.
"""
from __future__ import annotations

import hashlib
import json
import os
import time

import click
import trio

from consensus.crypto import Ed25519Key
from consensus.types import Commit, Validator, ValidatorSet, Vote, VoteType
from node.light.client import LightClient
from node.light.provider import SignedHeader
from node.light.types import LightBlock
from state.block import Header
from state.simple_merkle import EMPTY_HASH

CHAIN = "bench-chain"
T0 = 1_700_000_000_000


def _key(label: str) -> Ed25519Key:
    return Ed25519Key(hashlib.sha256(label.encode()).digest())


def make_chain(heights: int, n: int, rotate_every: int = 0) -> dict[int, LightBlock]:
    """Equal powers; every `rotate_every` heights one validator is replaced (0 = never)."""
    def members(h: int) -> list[int]:
        k = (h - 1) // rotate_every if rotate_every else 0
        return list(range(k, k + n))
    keys: dict[int, Ed25519Key] = {}

    def vs(h: int) -> tuple[ValidatorSet, list[Ed25519Key]]:
        ks = [keys.setdefault(m, _key(f"b{m}")) for m in members(h)]
        return ValidatorSet(Validator.from_pub_key(k.pub_key, 10) for k in ks), ks

    blocks: dict[int, LightBlock] = {}
    for h in range(1, heights + 1):
        s, ks = vs(h)
        prev = blocks.get(h - 1)
        hd = Header(CHAIN, h, T0 + h * 1000, b"" if prev is None else prev.id(),
                    EMPTY_HASH if prev is None else prev.commit.hash(), EMPTY_HASH, EMPTY_HASH,
                    s.hash(), vs(h + 1)[0].hash(), bytes(32), ks[0].address)
        votes = []
        for k in ks:
            v = Vote(VoteType.PRECOMMIT, h, 0, hd.id(), k.address)
            votes.append(Vote(VoteType.PRECOMMIT, h, 0, hd.id(), k.address, k.sign(v.sign_bytes(CHAIN))))
        blocks[h] = LightBlock(hd, Commit.from_votes(votes), s)
    return blocks


class _Memory:
    supports_tx_index = True
    name = "memory"

    def __init__(self, blocks: dict[int, LightBlock]):
        self.blocks = blocks

    async def latest_height(self) -> int:
        return max(self.blocks)

    async def signed_header(self, height: int) -> SignedHeader:
        lb = self.blocks[height]
        return SignedHeader(lb.header, lb.commit, lb.validators)


def _verifies_per_s(seconds: float = 0.5) -> float:
    k = _key("yardstick")
    msg = os.urandom(100)
    sig = k.sign(msg)
    from nacl.signing import VerifyKey
    vk = VerifyKey(k.pub_key)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for _ in range(200):
            vk.verify(msg, sig)
        n += 200
    return n / (time.perf_counter() - t0)


def _run(blocks: dict[int, LightBlock], sequential: bool) -> tuple[float, int, int]:
    top = max(blocks)
    client = LightClient(CHAIN, _Memory(blocks), sequential=sequential,
                         clock=lambda: T0 + (top + 1) * 1000, trusting_period_ms=10**12)

    async def go() -> None:
        client.store.save(blocks[1])          # the anchor (its own check is not timed)
        await client.verify_to(top)
    t0 = time.perf_counter()
    trio.run(go)
    return time.perf_counter() - t0, client.fetched, len(client.store)


@click.command("bench")
@click.option("--heights", type=int, default=200, show_default=True)
@click.option("--sizes", default="4,32,100", show_default=True, help="validator set sizes")
def bench_command(heights: int, sizes: str) -> None:
    """Time header verification (sequential, skipping, bisection) against PyNaCl verifies/s."""
    rows = []
    for n in [int(x) for x in sizes.split(",")]:
        static = make_chain(heights, n)
        rotating = make_chain(heights, n, rotate_every=max(1, heights // (2 * n)))
        yard = _verifies_per_s()
        for name, blocks, seq in (("sequential", static, True), ("skipping", static, False),
                                  ("skipping_rotating", rotating, False)):
            secs, fetched, kept = _run(blocks, seq)
            row = {"validators": n, "mode": name, "target": heights, "fetched": fetched,
                   "verified_kept": kept, "ms_to_target": round(secs * 1000, 1),
                   "verifies_per_s": round(yard)}
            line = (f"n={n:4d} {name:18s} reached height {heights} fetching {fetched:4d} headers "
                    f"in {secs * 1000:8.1f} ms")
            if seq:
                # sequential: one full 2/3 check (n signatures) per header -- the floor is
                # verifies/s / n headers per second
                headers_per_s = fetched / secs
                floor = yard / n
                row.update(headers_per_s=round(headers_per_s, 1), floor_headers_per_s=round(floor, 1),
                           ratio=round(headers_per_s / floor, 3))
                line += (f" ({headers_per_s:.0f} headers/s; signature floor {floor:.0f}/s at "
                         f"{yard:,.0f} verifies/s: ratio {headers_per_s / floor:.2f})")
            rows.append(row)
            click.echo(line)
    big = max(r["validators"] for r in rows)
    skip = next(r for r in rows if r["mode"] == "skipping" and r["validators"] == big)
    seq = next(r for r in rows if r["mode"] == "sequential" and r["validators"] == big)
    click.echo(json.dumps({"rows": rows, "validators": big,
                           "skip_speedup": round(seq["ms_to_target"] / skip["ms_to_target"], 1)}))
