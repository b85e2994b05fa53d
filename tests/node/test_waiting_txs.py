"""The mempool's waiting room on its own (node/runtime/waiting_txs.py): one tx per
(sender, nonce), the first seen; bounded, oldest out; stale ones leave after a commit."""
from __future__ import annotations

from node.runtime.mempool import PendingTx
from node.runtime.waiting_txs import WaitingTxs


def tx(sender: bytes, nonce: int, tag: bytes = b"") -> PendingTx:
    raw = b"%s:%d%s" % (sender, nonce, tag)
    return PendingTx(raw, raw, sender, nonce, 10)


def test_the_first_tx_seen_for_a_nonce_keeps_its_place():
    w = WaitingTxs(max_waiting=4)
    first, rival = tx(b"a", 3), tx(b"a", 3, b"-rival")
    w.add(first)
    w.add(rival)        # same sender and nonce, other bytes: ignored
    w.add(first)        # delivered again: still one
    assert len(w) == 1 and w.get(rival.tx_id) is None
    assert w.take(b"a", 3) == first and len(w) == 0
    assert w.take(b"a", 3) is None


def test_bounded_oldest_out_and_stale_ones_leave():
    w = WaitingTxs(max_waiting=2)
    for t in (tx(b"c", 5), tx(b"b", 2), tx(b"a", 4)):   # the third pushes out c:5
        w.add(t)
    assert w.take(b"c", 5) is None and w.senders() == [b"a", b"b"]
    w.drop_stale({b"a": 5, b"b": 0}.__getitem__)          # a's nonce 4 was committed
    assert [t.raw for t in w.values()] == [b"b:2"] and w.senders() == [b"b"]
