"""The height's blocks and their txs (node/runtime/block_cache.py): what peers fetch by id to
rebuild a compact proposal once the mempool has dropped those txs."""
from __future__ import annotations

from dataclasses import dataclass

from node.runtime.block_cache import BlockCache, tx_finder
from state.tx import tx_id


@dataclass
class FakeBlock:
    height: int
    txs: list[bytes]

    def id(self) -> bytes:
        return bytes([self.height]) + b"".join(self.txs)[:8]


class FakeMempool:
    def __init__(self, txs: list[bytes]):
        self.txs = {tx_id(t): t for t in txs}

    def raw(self, i: bytes) -> bytes | None:
        return self.txs.get(i)


def test_only_the_new_heights_blocks_and_their_txs_are_kept():
    cache = BlockCache()
    old, early = FakeBlock(4, [b"a", b"b"]), FakeBlock(5, [b"c"])  # 5's proposal came during 4's commit timeout
    cache.remember(old)
    cache.remember(early)
    assert old.id() in cache and cache.tx(tx_id(b"a")) == b"a"
    cache.keep_height(5)
    assert old.id() not in cache and cache.get(old.id()) is None
    assert cache.tx(tx_id(b"a")) is None and cache.tx(tx_id(b"b")) is None
    assert cache.get(early.id()) is early and cache.tx(tx_id(b"c")) == b"c"


def test_a_tx_is_found_in_the_mempool_or_else_in_a_block_of_this_height():
    cache = BlockCache()
    cache.remember(FakeBlock(5, [b"in-block"]))
    find = tx_finder(FakeMempool([b"pending"]), cache)
    assert find(tx_id(b"pending")) == b"pending"
    assert find(tx_id(b"in-block")) == b"in-block"
    assert find(tx_id(b"unknown")) is None


def test_txs_of_every_remembered_block_are_found_by_id_before_and_after_the_first_ask():
    cache = BlockCache()
    a, b = FakeBlock(5, [b"tx-a1", b"tx-a2"]), FakeBlock(5, [b"tx-b1"])
    cache.remember(a)
    assert cache.tx(tx_id(b"tx-a2")) == b"tx-a2"
    cache.remember(b)  # after the index was built
    assert cache.tx(tx_id(b"tx-b1")) == b"tx-b1" and cache.tx(tx_id(b"tx-a1")) == b"tx-a1"
    assert cache.tx(tx_id(b"nope")) is None
    assert cache.get(a.id()) is a and b.id() in cache

