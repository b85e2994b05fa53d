"""The mempool's recheck after a commit against a real ledger: the ante only (nonce in
sequence, fee payable), as the Cosmos SDK's ReCheckTx; admission keeps the full check."""
from __future__ import annotations

import pytest

from ledger_helpers import ALICE, BOB, START_BALANCE, addr, balance
from node.runtime.checker import LedgerChecker
from node.runtime.mempool import Mempool, TxRejected
from state.errors import Code


@pytest.fixture
def pool(chain):
    return Mempool(LedgerChecker(chain.ledger), max_txs=100, max_bytes=1_000_000, max_tx_bytes=100_000)


def transfer(chain, amount: int, nonce: int) -> bytes:
    return chain.tx(ALICE, "transfer", addr(BOB), amount, nonce=nonce)


def test_recheck_drops_consumed_nonce_and_unpayable_fee(chain, pool):
    fee = chain.ledger.params.min_fee
    pool.add(transfer(chain, 1, 0))
    pool.add(transfer(chain, 2, 1))
    # another tx with nonce 0 is committed and leaves Alice less than a fee
    chain.apply([transfer(chain, START_BALANCE - fee - (fee - 1), 0)])
    assert balance(chain, ALICE) == fee - 1
    assert pool.update([]) == 2 and len(pool) == 0


def test_recheck_keeps_a_tx_whose_kind_now_fails_and_the_block_charges_it(chain, pool):
    fee = chain.ledger.params.min_fee
    half = START_BALANCE // 2
    pool.add(transfer(chain, 1, 0))
    late = pool.add(transfer(chain, half, 1))
    chain.apply([transfer(chain, half, 0)])  # its nonce 0 spends half: `late` can pay its fee, not its transfer
    assert pool.update([]) == 1 and list(pool.by_id) == [late.tx_id]
    r = chain.apply([late.raw]).tx_results[0]
    assert r.code == Code.INSUFFICIENT_FUNDS and r.charged
    assert balance(chain, ALICE) == START_BALANCE - half - 2 * fee


def test_admission_still_refuses_a_kind_failure(chain, pool):
    with pytest.raises(TxRejected) as e:
        pool.add(transfer(chain, START_BALANCE, 0))
    assert e.value.code == "insufficient_funds" and len(pool) == 0


def test_recheck_rebuilds_the_admission_state_for_the_next_nonce(chain, pool):
    pool.add(transfer(chain, 1, 0))
    pool.add(transfer(chain, 1, 1))
    chain.apply([])  # a block without them: both stay, and admission goes on after them
    assert pool.update([]) == 0
    assert pool.add(transfer(chain, 1, 2)).nonce == 2


# -- the recheck off the consensus path (node/runtime/tx_intake.py run_recheck): between a commit
# and the recheck, an admission and a reap must see every chain judged against the new state
def test_admission_before_the_recheck_rechecks_its_sender_first(chain, pool):
    first = pool.add(transfer(chain, 1, 0))
    pool.add(transfer(chain, 1, 1))
    chain.apply([first.raw])
    pool.committed([first.tx_id])
    assert pool.rechecks_pending == 1
    # nonce 2 extends the chain only once nonce 1 is back on the admission state
    assert pool.add(transfer(chain, 1, 2)).nonce == 2
    assert pool.recheck() == 0 and pool.rechecks_pending == 0  # not rechecked twice
    assert [t.nonce for t in pool.by_sender[addr(ALICE)]] == [1, 2]


def test_reap_before_the_recheck_reaps_only_rechecked_txs(chain, pool):
    stale = pool.add(transfer(chain, 1, 0))
    bob = pool.add(chain.tx(BOB, "transfer", addr(ALICE), 1, nonce=0))
    chain.apply([transfer(chain, 2, 0)])  # another tx takes Alice's nonce 0
    pool.committed([])
    assert [t.tx_id for t in pool.reap(10, 1_000_000)] == [bob.tx_id]
    assert stale.tx_id not in pool and pool.rechecks_pending == 0
