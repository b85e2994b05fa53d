"""node/block_cache.py: the height's blocks, and their txs by id for peers that fetch them
(indexed on the first ask, so the blocks remembered meanwhile are all found)."""
from dataclasses import dataclass

from node.block_cache import BlockCache
from state.tx import tx_id


@dataclass
class FakeBlock:
    height: int
    txs: list[bytes]

    def id(self) -> bytes:
        return bytes([self.height]) + b"".join(self.txs)[:8]


def test_txs_of_every_remembered_block_are_found_by_id_before_and_after_the_first_ask():
    cache = BlockCache()
    a, b = FakeBlock(5, [b"tx-a1", b"tx-a2"]), FakeBlock(5, [b"tx-b1"])
    cache.remember(a)
    assert cache.tx(tx_id(b"tx-a2")) == b"tx-a2"
    cache.remember(b)  # after the index was built
    assert cache.tx(tx_id(b"tx-b1")) == b"tx-b1" and cache.tx(tx_id(b"tx-a1")) == b"tx-a1"
    assert cache.tx(tx_id(b"nope")) is None
    assert cache.get(a.id()) is a and b.id() in cache


def test_keep_height_forgets_other_heights_blocks_and_their_txs():
    cache = BlockCache()
    old, new = FakeBlock(5, [b"tx-old"]), FakeBlock(6, [b"tx-new"])
    cache.remember(old)
    assert cache.tx(tx_id(b"tx-old")) == b"tx-old"  # indexed before the height moved on
    cache.remember(new)
    cache.keep_height(6)
    assert cache.tx(tx_id(b"tx-old")) is None and old.id() not in cache
    assert cache.tx(tx_id(b"tx-new")) == b"tx-new" and cache.get(new.id()) is new
