"""unstake(amount): move bond to an unbonding entry, paid out after unbonding_blocks."""
from __future__ import annotations

from ledger_helpers import ALICE, SMALL_PARAMS, apply_ok, assert_rejected, balance, view
from state.errors import Code
from state.keys import unbonding_queue_key
from state.staking import get_unbonding, get_validator


def test_unstake_releases_after_unbonding_blocks(make):
    chain = make(params=SMALL_PARAMS)
    v0 = chain.validators[0]
    bonded = get_validator(view(chain), v0.operator).bonded
    r = apply_ok(chain, chain.tx(v0.operator_key, "unstake", 10_000_000))
    h = r.height
    release = h + SMALL_PARAMS.unbonding_blocks
    assert get_validator(view(chain), v0.operator).bonded == bonded - 10_000_000
    assert get_unbonding(view(chain), v0.operator) == [[release, 10_000_000, h]]
    assert chain.ledger.validator_set(h + 2).power_of(v0.consensus_address) == (bonded - 10_000_000) // 1_000_000
    while chain.ledger.height < release - 1:
        apply_ok(chain)
    bal = balance(chain, v0.operator)
    r = chain.apply([])                 # block `release`: paid at its start
    assert r.height == release
    fees_back = 0                       # empty block: no fees
    assert balance(chain, v0.operator) == bal + 10_000_000 + fees_back
    assert get_unbonding(view(chain), v0.operator) == []
    assert chain.ledger.store.get(unbonding_queue_key(release)) is None


def test_unstake_several_entries_released_separately(make):
    chain = make(params=SMALL_PARAMS)
    v0 = chain.validators[0]
    apply_ok(chain, chain.tx(v0.operator_key, "unstake", 1_000_000))
    apply_ok(chain, chain.tx(v0.operator_key, "unstake", 2_000_000))
    entries = get_unbonding(view(chain), v0.operator)
    assert [e[1] for e in entries] == [1_000_000, 2_000_000]
    while chain.ledger.height < entries[0][0]:
        apply_ok(chain)
    assert [e[1] for e in get_unbonding(view(chain), v0.operator)] == [2_000_000]
    apply_ok(chain)
    assert get_unbonding(view(chain), v0.operator) == []


def test_unstake_everything_leaves_the_set(chain):
    v3 = chain.validators[3]
    bonded = get_validator(view(chain), v3.operator).bonded
    r = apply_ok(chain, chain.tx(v3.operator_key, "unstake", bonded))
    assert chain.ledger.validator_set(r.height + 1).get(v3.consensus_address) is not None
    assert chain.ledger.validator_set(r.height + 2).get(v3.consensus_address) is None
    assert len(chain.ledger.validator_set(r.height + 2)) == 3


def test_invalid_insufficient_bond(chain):
    v0 = chain.validators[0]
    bonded = get_validator(view(chain), v0.operator).bonded
    assert_rejected(chain, chain.tx(v0.operator_key, "unstake", bonded + 1), Code.INSUFFICIENT_BOND, charged=True)


def test_invalid_not_a_validator(chain):
    assert_rejected(chain, chain.tx(ALICE, "unstake", 1), Code.NOT_A_VALIDATOR, charged=True)


def test_invalid_zero_amount(chain):
    assert_rejected(chain, chain.tx(chain.validators[0].operator_key, "unstake", 0), Code.ZERO_AMOUNT)
