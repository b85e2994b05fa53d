"""node/runtime/evidence_pool.py: bounded, one copy each, refused items dropped for good."""
from node.runtime.evidence_pool import EvidencePool


def test_the_pool_is_bounded_and_keeps_one_copy_of_each_item():
    pool = EvidencePool(capacity=3)
    assert pool.add(b"a") and not pool.add(b"a")
    assert pool.add(b"b") and pool.add(b"c") and not pool.add(b"d")  # full
    assert pool.pending() == [b"a", b"b", b"c"] and len(pool) == 3


def test_items_the_ledger_refuses_are_dropped_and_included_ones_removed():
    pool = EvidencePool()
    for raw in (b"good-1", b"bad", b"good-2"):
        pool.add(raw)
    tried = []

    def accepts(items):  # the ledger's verdict on a block carrying `items`
        tried.append(list(items))
        return b"bad" not in items

    assert pool.accepted(accepts) == [b"good-1", b"good-2"]
    assert tried == [[b"good-1"], [b"good-1", b"bad"], [b"good-1", b"good-2"]]
    assert pool.pending() == [b"good-1", b"good-2"]  # "bad" is gone for good
    pool.remove_included([b"good-1", b"unknown"])
    assert pool.pending() == [b"good-2"]
    assert pool.add(b"bad")  # dropped means forgotten: a later copy may be tried again
