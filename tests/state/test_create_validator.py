"""create_validator(consensus_pubkey, amount)."""
from __future__ import annotations

from ledger_helpers import ALICE, BOB, START_BALANCE, addr, apply_ok, assert_rejected, balance, view
from state.address import address_from_pubkey
from state.devchain import seeded_key
from state.errors import Code
from state.staking import get_operator, get_validator

NEW_KEY = seeded_key("alice/consensus")
NEW_PUB = bytes(NEW_KEY.verify_key)
NEW_ADDR = address_from_pubkey(NEW_PUB)


def create(chain, amount=5_000_000, key=ALICE, pub=NEW_PUB):
    chain.extra_consensus_keys[address_from_pubkey(pub)] = NEW_KEY
    return chain.tx(key, "create_validator", pub, amount)


def test_create_validator_bonds_from_balance(chain):
    fee = chain.ledger.params.min_fee
    apply_ok(chain, create(chain, 5_500_000))
    v = get_validator(view(chain), addr(ALICE))
    assert (v.consensus_pubkey, v.bonded, v.jailed, v.tombstoned) == (NEW_PUB, 5_500_000, False, False)
    assert get_operator(view(chain), NEW_ADDR) == addr(ALICE)
    assert balance(chain, ALICE) == START_BALANCE - 5_500_000 - fee


def test_create_validator_joins_the_set_at_h_plus_2(chain):
    result = apply_ok(chain, create(chain, 7_999_999))
    h = result.height
    assert chain.ledger.validator_set(h + 1).get(NEW_ADDR) is None
    member = chain.ledger.validator_set(h + 2).get(NEW_ADDR)
    assert member is not None and member.voting_power == 7        # bonded // 1,000,000
    assert result.next_validator_set.get(NEW_ADDR) == member
    apply_ok(chain)
    apply_ok(chain)   # the new validator signs the commit of h+2 in block h+3
    assert chain.ledger.validator_set(h + 2).get(NEW_ADDR) is not None


def test_create_validator_two_in_one_block(chain):
    other = seeded_key("bob/consensus")
    chain.extra_consensus_keys[address_from_pubkey(bytes(other.verify_key))] = other
    r = apply_ok(chain, create(chain), chain.tx(BOB, "create_validator", bytes(other.verify_key), 3_000_000))
    vs = chain.ledger.validator_set(r.height + 2)
    assert len(vs) == 6


def test_invalid_validator_exists(chain):
    apply_ok(chain, create(chain))
    other = bytes(seeded_key("alice/second").verify_key)
    assert_rejected(chain, chain.tx(ALICE, "create_validator", other, 2_000_000), Code.VALIDATOR_EXISTS, charged=True)


def test_invalid_consensus_key_in_use(chain):
    taken = bytes(chain.validators[0].consensus_key.verify_key)
    assert_rejected(chain, chain.tx(BOB, "create_validator", taken, 2_000_000), Code.CONSENSUS_KEY_IN_USE,
                    charged=True)


def test_invalid_bond_too_small(chain):
    assert_rejected(chain, create(chain, 999_999), Code.BOND_TOO_SMALL, charged=True)


def test_invalid_insufficient_funds(chain):
    assert_rejected(chain, create(chain, START_BALANCE), Code.INSUFFICIENT_FUNDS, charged=True)


def test_invalid_bad_pubkey(chain):
    assert_rejected(chain, chain.tx(ALICE, "create_validator", b"\x01" * 33, 2_000_000), Code.BAD_PUBKEY)


def test_invalid_zero_amount(chain):
    assert_rejected(chain, create(chain, 0), Code.ZERO_AMOUNT)


def test_invalid_amount_out_of_range(chain):
    assert_rejected(chain, create(chain, 2**63), Code.OUT_OF_RANGE)
