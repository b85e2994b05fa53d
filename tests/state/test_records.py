"""The records a block writes beside its state (state/records.py): the ledger reads them
back decoded, pruning forgets exactly what the pruned heights wrote, and the records a
state sync writes are all a restored ledger needs to go on with the next block."""
from __future__ import annotations

from ledger_helpers import ALICE, BOB, addr
from state.app import Ledger
from state.errors import Code
from state.records import LastBlock, TxRecord, prune_heights, restored_records
from state.store import Store
from state.tx import tx_id


def test_the_getters_return_what_the_block_wrote_decoded(chain):
    r = chain.apply([chain.tx(ALICE, "transfer", addr(BOB), 5)])
    ledger, tid = chain.ledger, r.tx_results[0].tx_id
    rec = ledger.tx_record(tid)
    assert isinstance(rec, TxRecord) and (rec.height, rec.index, rec.code, rec.log) == (r.height, 0, 0, "")
    last = ledger.last_block()
    assert isinstance(last, LastBlock)
    assert (last.height, last.time_ms, last.block_id) == (r.height, r.block.header.time_ms, r.block_id)
    assert ledger.block_record(r.height) == r.block.encode()
    ledger._valsets.clear()     # read the record, not the set the commit remembered
    assert ledger.validator_set(r.height + 2).hash() == r.next_validator_set.hash()


def test_pruning_forgets_the_heights_records_but_a_tx_record_that_moved_on(chain):
    early = chain.tx(ALICE, "transfer", addr(BOB), 5, nonce=1)
    first = chain.apply([early])                           # refused: nonce 0 comes first
    assert first.tx_results[0].code == Code.FUTURE_NONCE
    gone = chain.tx(ALICE, "transfer", addr(BOB), 1, nonce=9)
    chain.apply([gone])                                    # height 2: refused, recorded there
    third = chain.apply([chain.tx(ALICE, "transfer", addr(BOB), 1, nonce=0), early])
    assert chain.ledger.tx_record(tx_id(early)).height == third.height  # `early` moved on
    ledger, store, gone_id = chain.ledger, chain.ledger.store, tx_id(gone)
    assert ledger.block_record(2) is not None and ledger.tx_record(gone_id).height == 2

    stats = prune_heights(store, 3)

    assert stats["heights"] == 3 and store.base == 3
    for h in (1, 2):
        assert ledger.block_record(h) is None
    ledger._valsets.clear()
    assert ledger.validator_set(2) is None and ledger.validator_set(3) is not None
    assert ledger.tx_record(gone_id) is None
    assert ledger.tx_record(tx_id(early)) == (third.height, 1, 0, "")
    assert ledger.block_record(3) == third.block.encode() and ledger.last_block().height == 3


def test_a_ledger_restored_with_the_records_of_a_state_sync_goes_on_like_the_original(chain, tmp_path):
    chain.apply([chain.tx(ALICE, "transfer", addr(BOB), 5)])
    last = chain.apply()
    ledger, h = chain.ledger, last.height
    records = restored_records(h, last.block.header.time_ms, last.block_id,
                               tuple(ledger.validator_set(x) for x in (h, h + 1, h + 2)))
    store = Store(tmp_path / "restored")
    try:
        assert store.bulk_load(h, sorted(chain.state.items()), records) == ledger.app_hash
        restored = Ledger(store)
        assert restored.last_block() == ledger.last_block() and restored.height == h
        following = chain.make_block([chain.tx(BOB, "transfer", addr(ALICE), 7)])
        assert restored.commit(restored.execute_block(following)) == chain.commit(
            ledger.execute_block(following)).app_hash
        assert restored.tx_record(tx_id(following.txs[0])) == (h + 1, 0, 0, "")
    finally:
        store.close()
