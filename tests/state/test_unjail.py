"""unjail(): bring a validator jailed for downtime back after downtime_jail_blocks."""
from __future__ import annotations

from ledger_helpers import (ALICE, SMALL_PARAMS, all_but, apply_ok, assert_rejected, double_sign, jail_for_downtime,
                      view)
from state.errors import Code
from state.staking import get_validator


def test_unjail_after_jail_time_rejoins_at_h_plus_2(make):
    chain = make(params=SMALL_PARAMS)
    v3 = chain.validators[3]
    h = jail_for_downtime(chain, 3)
    v = get_validator(view(chain), v3.operator)
    while chain.ledger.height + 1 < v.jailed_until:
        apply_ok(chain, signers=all_but(chain, 3))
    r = apply_ok(chain, chain.tx(v3.operator_key, "unjail"), signers=all_but(chain, 3))
    assert r.height == v.jailed_until
    assert not get_validator(view(chain), v3.operator).jailed
    assert chain.ledger.validator_set(r.height + 1).get(v3.consensus_address) is None
    assert chain.ledger.validator_set(r.height + 2).get(v3.consensus_address) is not None
    assert h < r.height
    # back in the set it starts a fresh window: it is not jailed again at once
    for _ in range(3):
        apply_ok(chain)
    assert not get_validator(view(chain), v3.operator).jailed


def test_invalid_not_jailed(chain):
    assert_rejected(chain, chain.tx(chain.validators[0].operator_key, "unjail"), Code.NOT_JAILED, charged=True)


def test_invalid_jail_not_expired(make):
    chain = make(params=SMALL_PARAMS)
    jail_for_downtime(chain, 3)
    assert_rejected(chain, chain.tx(chain.validators[3].operator_key, "unjail"), Code.JAIL_NOT_EXPIRED,
                    charged=True, signers=all_but(chain, 3))


def test_invalid_bond_too_small(make):
    chain = make(params=SMALL_PARAMS)
    v3 = chain.validators[3]
    jail_for_downtime(chain, 3)
    bonded = get_validator(view(chain), v3.operator).bonded
    apply_ok(chain, chain.tx(v3.operator_key, "unstake", bonded - 999_999), signers=all_but(chain, 3))
    while chain.ledger.height + 1 < get_validator(view(chain), v3.operator).jailed_until:
        apply_ok(chain, signers=all_but(chain, 3))
    assert_rejected(chain, chain.tx(v3.operator_key, "unjail"), Code.BOND_TOO_SMALL, charged=True,
                    signers=all_but(chain, 3))


def test_invalid_not_a_validator(chain):
    assert_rejected(chain, chain.tx(ALICE, "unjail"), Code.NOT_A_VALIDATOR, charged=True)


def test_invalid_extra_field(chain):
    assert_rejected(chain, chain.tx(chain.validators[0].operator_key, "unjail", 1), Code.EXTRA_FIELD)


def test_invalid_tombstoned(make):
    chain = make(params=SMALL_PARAMS)
    for _ in range(3):
        apply_ok(chain)
    apply_ok(chain, chain.tx(ALICE, "evidence", *double_sign(chain, 2, 2)))
    signers = None
    for _ in range(3):
        apply_ok(chain, signers=signers)
        signers = all_but(chain, 2)
    assert_rejected(chain, chain.tx(chain.validators[2].operator_key, "unjail"), Code.TOMBSTONED,
                    charged=True, signers=all_but(chain, 2))
