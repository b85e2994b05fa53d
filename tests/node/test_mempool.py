import hashlib

import pytest

from node.runtime.mempool import Mempool, PendingTx, TxRejected


class FakeChecker:
    """txs are b'sender:nonce:fee:pad'; balances bound how many a sender may have pending."""

    def __init__(self):
        self.nonces: dict[bytes, int] = {}
        self.verifications = 0
        self.broke: set[bytes] = set()
        self.kind_fails: set[bytes] = set()
        self.rechecks = 0

    def verify(self, raw, known_id=None):
        self.verifications += 1
        try:
            s, n, f, _ = raw.split(b":", 3)
            return PendingTx(hashlib.sha256(raw).digest(), raw, s, int(n), int(f))
        except ValueError:
            raise TxRejected("malformed", "bad tx") from None

    def account_nonce(self, sender):
        return self.nonces.get(sender, 0)

    def check_state(self, tx):  # admission: the ante and the kind
        self.recheck(tx)
        if tx.sender in self.kind_fails:
            raise TxRejected("kind_failed", "its kind fails")

    def recheck(self, tx):  # after a commit: the ante only
        self.rechecks += 1
        if tx.sender in self.broke:
            raise TxRejected("insufficient_funds", "broke")


def tx(s, n, f, pad=b""):
    return b"%s:%d:%d:%s" % (s, n, f, pad)


def make(max_txs=100, max_bytes=10_000):
    c = FakeChecker()
    return c, Mempool(c, max_txs=max_txs, max_bytes=max_bytes, max_tx_bytes=1000)


def test_admits_in_nonce_order_and_rejects_gaps_and_duplicates():
    c, mp = make()
    mp.add(tx(b"a", 0, 5))
    mp.add(tx(b"a", 1, 5))
    with pytest.raises(TxRejected) as e:
        mp.add(tx(b"a", 3, 5))
    assert e.value.code == "nonce_gap"
    with pytest.raises(TxRejected) as e:
        mp.add(tx(b"a", 1, 5))
    assert e.value.code == "duplicate"
    with pytest.raises(TxRejected) as e:
        mp.add(tx(b"a", 1, 6))
    assert e.value.code == "nonce_too_low"
    assert len(mp) == 2 and mp.rejected == {"nonce_gap": 1, "duplicate": 1, "nonce_too_low": 1}


def test_too_large_rejected_before_verification():
    c, mp = make()
    with pytest.raises(TxRejected) as e:
        mp.add(tx(b"a", 0, 1, b"x" * 2000))
    assert e.value.code == "tx_too_large" and c.verifications == 0


def test_full_evicts_lowest_fee_tail_and_refuses_cheap_newcomer():
    c, mp = make(max_txs=3)
    mp.add(tx(b"a", 0, 10))
    mp.add(tx(b"a", 1, 1))  # lowest fee, tail of a's chain
    mp.add(tx(b"b", 0, 5))
    with pytest.raises(TxRejected) as e:
        mp.add(tx(b"c", 0, 1))
    assert e.value.code == "mempool_full"
    t = mp.add(tx(b"c", 0, 7))
    assert len(mp) == 3 and t.tx_id in mp
    assert [x.nonce for x in mp.by_sender[b"a"]] == [0]
    assert mp.evicted == 1


def test_byte_limit_counts():
    c, mp = make(max_bytes=40)
    mp.add(tx(b"a", 0, 1, b"x" * 20))
    with pytest.raises(TxRejected):
        mp.add(tx(b"b", 0, 1, b"y" * 20))
    mp.add(tx(b"b", 0, 2, b"y" * 20))
    assert mp.total_bytes == len(tx(b"b", 0, 2, b"y" * 20))


def test_reap_highest_fee_first_keeps_sender_nonce_order_and_limits():
    c, mp = make()
    mp.add(tx(b"a", 0, 1))
    mp.add(tx(b"a", 1, 100))
    mp.add(tx(b"b", 0, 50))
    mp.add(tx(b"c", 0, 2))
    order = [(t.sender, t.nonce) for t in mp.reap(10, 10_000)]
    assert order == [(b"b", 0), (b"c", 0), (b"a", 0), (b"a", 1)]
    assert len(mp.reap(2, 10_000)) == 2
    one = len(tx(b"b", 0, 50))
    assert [t.sender for t in mp.reap(10, one)] == [b"b"]


def test_update_removes_committed_and_rechecks():
    c, mp = make()
    ids = [mp.add(tx(b"a", n, 1)).tx_id for n in range(3)]
    mp.add(tx(b"b", 0, 1))
    mp.add(tx(b"b", 1, 1))
    c.nonces[b"a"] = 1
    c.broke.add(b"b")
    dropped = mp.update([ids[0]])
    assert dropped == 2 and b"b" not in mp.by_sender
    assert [t.nonce for t in mp.by_sender[b"a"]] == [1, 2]
    assert set(mp.by_id) == set(ids[1:])


def test_update_drops_stale_nonce_from_other_tx():
    c, mp = make()
    mp.add(tx(b"a", 0, 1))
    mp.add(tx(b"a", 1, 1))
    c.nonces[b"a"] = 1  # nonce 0 was used by a different tx included elsewhere
    assert mp.update([]) == 1
    assert [t.nonce for t in mp.by_sender[b"a"]] == [1]


def test_recheck_is_the_ante_only_and_keeps_a_tx_whose_kind_now_fails():
    c, mp = make()
    mp.add(tx(b"a", 0, 1))
    c.kind_fails.add(b"a")
    with pytest.raises(TxRejected) as e:
        mp.add(tx(b"a", 1, 1))  # admission runs the kind
    assert e.value.code == "kind_failed"
    rechecks = c.rechecks
    assert mp.update([]) == 0 and len(mp) == 1  # the recheck does not
    assert c.rechecks == rechecks + 1


async def test_the_recheck_runs_in_its_own_task_after_the_commit():
    import trio

    from node.runtime.metrics import NodeMetrics
    from node.runtime.tx_intake import TxIntake

    c, mp = make()
    for s in (b"a", b"b", b"c"):
        mp.add(tx(s, 0, 1))
    intake = TxIntake(mp, NodeMetrics())
    c.broke.add(b"b")
    rechecks = c.rechecks
    async with trio.open_nursery() as nursery:
        await nursery.start(intake.run_recheck)
        intake.committed([])  # what the consensus task calls: no recheck inline
        assert c.rechecks == rechecks and len(mp) == 3
        with trio.fail_after(5):
            while mp.rechecks_pending:
                await trio.sleep(0)
        nursery.cancel_scope.cancel()
    assert c.rechecks == rechecks + 3 and sorted(mp.by_sender) == [b"a", b"c"]
