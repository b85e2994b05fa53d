"""The mempool's waiting room: gossiped txs a few nonces ahead of their sender's chain.

Gossip does not keep a sender's order and never delivers a tx twice, so such a tx waits
here (bounded by `max_waiting`, oldest out first) until the mempool's chain for its
sender reaches its nonce (node/runtime/mempool.py, module doc).
"""
from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING, Callable, Iterable

if TYPE_CHECKING:
    from node.runtime.mempool import PendingTx


class WaitingTxs:
    def __init__(self, max_waiting: int):
        self.max_waiting = max_waiting
        # tx id -> the waiting tx, oldest first; (sender, nonce) -> its id
        self._by_id: OrderedDict[bytes, PendingTx] = OrderedDict()
        self._at: dict[tuple[bytes, int], bytes] = {}

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, tx_id: bytes) -> PendingTx | None:
        return self._by_id.get(tx_id)

    def values(self) -> Iterable[PendingTx]:
        return self._by_id.values()

    def add(self, tx: PendingTx) -> None:
        if tx.tx_id in self._by_id or (tx.sender, tx.nonce) in self._at:
            return  # the first tx seen for a nonce keeps its place
        while len(self._by_id) >= self.max_waiting:
            self._pop(next(iter(self._by_id)))
        self._by_id[tx.tx_id] = tx
        self._at[(tx.sender, tx.nonce)] = tx.tx_id

    def take(self, sender: bytes, nonce: int) -> PendingTx | None:
        """The tx waiting for (sender, nonce), out of the room; None if none waits."""
        tx_id = self._at.get((sender, nonce))
        return None if tx_id is None else self._pop(tx_id)

    def drop_stale(self, account_nonce: Callable[[bytes], int]) -> None:
        """Out: the txs whose nonce a commit used (below their sender's account nonce)."""
        for t in list(self._by_id.values()):
            if t.nonce < account_nonce(t.sender):
                self._pop(t.tx_id)

    def senders(self) -> list[bytes]:
        """The senders with a waiting tx, sorted (no set order leaks out)."""
        return sorted({t.sender for t in self._by_id.values()})

    def _pop(self, tx_id: bytes) -> PendingTx:
        tx = self._by_id.pop(tx_id)
        del self._at[(tx.sender, tx.nonce)]
        return tx
