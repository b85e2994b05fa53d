"""stake(amount): add to the sender's own validator bond."""
from __future__ import annotations

from ledger_helpers import ALICE, SMALL_PARAMS, apply_ok, assert_rejected, balance, double_sign, view
from state.errors import Code
from state.staking import get_validator


def test_stake_increases_bond_and_power_at_h_plus_2(chain):
    v0 = chain.validators[0]
    before = get_validator(view(chain), v0.operator).bonded
    bal = balance(chain, v0.operator)
    r = apply_ok(chain, chain.tx(v0.operator_key, "stake", 3_000_000))
    assert get_validator(view(chain), v0.operator).bonded == before + 3_000_000
    h = r.height
    old_power = before // 1_000_000
    assert chain.ledger.validator_set(h + 1).power_of(v0.consensus_address) == old_power
    assert chain.ledger.validator_set(h + 2).power_of(v0.consensus_address) == old_power + 3
    # block h has no last commit when h == 1, so no fee came back yet
    assert balance(chain, v0.operator) == bal - 3_000_000 - chain.ledger.params.min_fee


def test_stake_below_one_power_unit_changes_bond_not_power(chain):
    v0 = chain.validators[0]
    r = apply_ok(chain, chain.tx(v0.operator_key, "stake", 999_999))
    assert chain.ledger.validator_set(r.height + 2) == chain.ledger.validator_set(r.height + 1).advance()


def test_invalid_not_a_validator(chain):
    assert_rejected(chain, chain.tx(ALICE, "stake", 5_000_000), Code.NOT_A_VALIDATOR, charged=True)


def test_invalid_insufficient_funds(chain):
    v0 = chain.validators[0]
    assert_rejected(chain, chain.tx(v0.operator_key, "stake", balance(chain, v0.operator)),
                    Code.INSUFFICIENT_FUNDS, charged=True)


def test_invalid_zero_amount(chain):
    assert_rejected(chain, chain.tx(chain.validators[0].operator_key, "stake", 0), Code.ZERO_AMOUNT)


def test_invalid_negative_amount(chain):
    assert_rejected(chain, chain.tx(chain.validators[0].operator_key, "stake", -1), Code.OUT_OF_RANGE)


def test_invalid_tombstoned(make):
    chain = make(params=SMALL_PARAMS)
    for _ in range(3):
        apply_ok(chain)
    apply_ok(chain, chain.tx(ALICE, "evidence", *double_sign(chain, 2, 2)))
    assert_rejected(chain, chain.tx(chain.validators[2].operator_key, "stake", 5_000_000), Code.TOMBSTONED,
                    charged=True)
