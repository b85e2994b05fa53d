"""transfer(to, amount)."""
from __future__ import annotations

from ledger_helpers import ALICE, BOB, CAROL, START_BALANCE, addr, apply_ok, assert_rejected, balance, nonce
from state.errors import Code
from state.tx import MAX_AMOUNT


def test_transfer_moves_amount_and_charges_fee(chain):
    fee = chain.ledger.params.min_fee
    apply_ok(chain, chain.tx(ALICE, "transfer", addr(BOB), 123_456))
    assert balance(chain, ALICE) == START_BALANCE - 123_456 - fee
    assert balance(chain, BOB) == START_BALANCE + 123_456
    assert nonce(chain, ALICE) == 1 and nonce(chain, BOB) == 0


def test_transfer_to_new_account_creates_it(chain):
    new = b"\x42" * 20
    apply_ok(chain, chain.tx(ALICE, "transfer", new, 7))
    assert balance(chain, new) == 7 and nonce(chain, new) == 0


def test_transfer_several_in_one_block_in_nonce_order(chain):
    txs = [chain.tx(ALICE, "transfer", addr(BOB), 10) for _ in range(5)]
    apply_ok(chain, *txs)
    assert nonce(chain, ALICE) == 5
    assert balance(chain, BOB) == START_BALANCE + 50


def test_transfer_whole_balance_after_fee(chain):
    fee = chain.ledger.params.min_fee
    apply_ok(chain, chain.tx(ALICE, "transfer", addr(BOB), START_BALANCE - fee))
    assert balance(chain, ALICE) == 0


def test_transfer_higher_fee_goes_to_validators(chain):
    before = sum(balance(chain, v.operator) for v in chain.validators)
    apply_ok(chain, chain.tx(ALICE, "transfer", addr(BOB), 1, fee=40_003))
    # block 1 has no last commit: its fees wait in the fee pool, paid with block 2's
    apply_ok(chain, chain.tx(CAROL, "transfer", addr(BOB), 1, fee=1_000))
    after = sum(balance(chain, v.operator) for v in chain.validators)
    assert after - before == 41_003


def test_invalid_insufficient_funds(chain):
    fee = chain.ledger.params.min_fee
    assert_rejected(chain, chain.tx(ALICE, "transfer", addr(BOB), START_BALANCE - fee + 1),
                    Code.INSUFFICIENT_FUNDS, charged=True)


def test_invalid_fee_unpayable(chain):
    # the ante refuses it: no fee, no nonce
    assert_rejected(chain, chain.tx(ALICE, "transfer", addr(BOB), 1, fee=START_BALANCE + 1),
                    Code.INSUFFICIENT_FUNDS, charged=False)


def test_invalid_amount_overflow(chain):
    # amounts >= 2**63 never decode. (A balance can't overflow by transfer: genesis caps the
    # total supply below 2**63 and nothing issues more; the checked add is defence in depth.)
    assert_rejected(chain, chain.tx(ALICE, "transfer", addr(BOB), MAX_AMOUNT + 1), Code.OUT_OF_RANGE)


def test_invalid_zero_amount(chain):
    assert_rejected(chain, chain.tx(ALICE, "transfer", addr(BOB), 0), Code.ZERO_AMOUNT)


def test_invalid_negative_amount(chain):
    assert_rejected(chain, chain.tx(ALICE, "transfer", addr(BOB), -5), Code.OUT_OF_RANGE)


def test_invalid_amount_out_of_range(chain):
    assert_rejected(chain, chain.tx(ALICE, "transfer", addr(BOB), 2**63), Code.OUT_OF_RANGE)


def test_invalid_self_transfer(chain):
    assert_rejected(chain, chain.tx(ALICE, "transfer", addr(ALICE), 5), Code.SELF_REFERENCE)


def test_invalid_bad_address(chain):
    assert_rejected(chain, chain.tx(ALICE, "transfer", b"\x01" * 19, 5), Code.BAD_ADDRESS)


def test_invalid_wrong_type(chain):
    assert_rejected(chain, chain.tx(ALICE, "transfer", "open1xyz", 5), Code.WRONG_TYPE)
