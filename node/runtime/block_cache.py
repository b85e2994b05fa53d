"""The blocks of the height being decided (ours and peers' proposals), by value id, with
their txs by id: the consensus task decides and logs them from here, and peers
rebuilding a compact proposal fetch its txs from here once the mempool dropped them."""
from __future__ import annotations

from typing import Callable

from node.runtime.mempool import Mempool
from state.block import Block
from state.tx import tx_id


class BlockCache:
    def __init__(self) -> None:
        self._blocks: dict[bytes, Block] = {}  # value id -> block
        self._txs: dict[bytes, bytes] = {}     # tx id -> tx of those blocks
        self._unindexed: list[Block] = []       # blocks whose txs are not in _txs yet

    def __contains__(self, value_id: bytes) -> bool:
        return value_id in self._blocks

    def get(self, value_id: bytes) -> Block | None:
        return self._blocks.get(value_id)

    def tx(self, tx_id_: bytes) -> bytes | None:
        if self._unindexed:  # indexed on the first ask: peers rarely need it (bench profile)
            for block in self._unindexed:
                for raw in block.txs:
                    self._txs[tx_id(raw)] = raw
            self._unindexed = []
        return self._txs.get(tx_id_)

    def remember(self, block: Block) -> None:
        self._blocks[block.id()] = block
        self._unindexed.append(block)

    def keep_height(self, height: int) -> None:
        """Forget every block but those of `height` (proposals for it may arrive during
        the commit timeout of the height before)."""
        kept = [b for b in self._blocks.values() if b.height == height]
        self._blocks, self._txs, self._unindexed = {}, {}, []
        for b in kept:
            self.remember(b)


def tx_finder(mempool: Mempool, blocks: BlockCache) -> Callable[[bytes], bytes | None]:
    """A tx's bytes by id: pending or waiting in the mempool, else in a block of this height."""
    def find(tx_id_: bytes) -> bytes | None:
        raw = mempool.raw(tx_id_)
        return raw if raw is not None else blocks.tx(tx_id_)
    return find
