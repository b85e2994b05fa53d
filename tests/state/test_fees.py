"""Fees and protocol fees of block H go to the signers of H's last commit, pro rata by
their voting power in the set of H-1 (floor); the dust goes to the signer with the most
power (ties: smallest consensus address)."""
from __future__ import annotations

from ledger_helpers import ALICE, BOB, addr, all_but, apply_ok, balance
from state.codec import decode_value
from state.keys import FEE_POOL

STAKES = [1_000_000, 2_000_000, 3_000_000, 4_000_000]        # powers 1, 2, 3, 4


def operator_balances(chain):
    return [balance(chain, v.operator) for v in chain.validators]


def by_power(chain):
    """Dev validator indexes in the order of their power."""
    vs = chain.ledger.validator_set(chain.ledger.height)
    return {i: vs.power_of(v.consensus_address) for i, v in enumerate(chain.validators)}


def test_fees_first_block_waits_in_pool(make):
    chain = make(stakes=STAKES)
    before = operator_balances(chain)
    apply_ok(chain, chain.tx(ALICE, "transfer", addr(BOB), 1, fee=5_000))
    assert decode_value(chain.ledger.store.get(FEE_POOL)) == 5_000
    assert operator_balances(chain) == before
    apply_ok(chain)
    assert chain.ledger.store.get(FEE_POOL) is None
    after = operator_balances(chain)
    powers = by_power(chain)
    assert [a - b for a, b in zip(after, before)] == [5_000 * powers[i] // 10 for i in range(4)]


def test_fees_pro_rata_by_power_with_dust_to_largest(make):
    chain = make(stakes=STAKES)
    apply_ok(chain)
    before = operator_balances(chain)
    apply_ok(chain, chain.tx(ALICE, "transfer", addr(BOB), 1, fee=1_001))
    gained = [a - b for a, b in zip(operator_balances(chain), before)]
    powers = by_power(chain)
    biggest = max(powers, key=lambda i: powers[i])
    expected = [1_001 * powers[i] // 10 for i in range(4)]
    expected[biggest] += 1_001 - sum(expected)
    assert gained == expected and sum(gained) == 1_001


def test_fees_only_signers_are_paid(make):
    chain = make(stakes=STAKES)
    apply_ok(chain)
    powers = by_power(chain)
    smallest = min(powers, key=lambda i: powers[i])
    before = operator_balances(chain)
    apply_ok(chain, chain.tx(ALICE, "transfer", addr(BOB), 1, fee=1_001), signers=all_but(chain, smallest))
    gained = [a - b for a, b in zip(operator_balances(chain), before)]
    assert gained[smallest] == 0
    signed_power = 10 - powers[smallest]
    expected = {i: 1_001 * powers[i] // signed_power for i in range(4) if i != smallest}
    biggest = max(powers, key=lambda i: powers[i])
    expected[biggest] += 1_001 - sum(expected.values())
    assert all(gained[i] == expected[i] for i in expected)


def test_fees_dust_tie_goes_to_smallest_address(chain):
    apply_ok(chain)
    before = operator_balances(chain)
    apply_ok(chain, chain.tx(ALICE, "transfer", addr(BOB), 1, fee=1_003))
    gained = [a - b for a, b in zip(operator_balances(chain), before)]
    smallest = min(range(4), key=lambda i: chain.validators[i].consensus_address)
    assert gained == [250 + (3 if i == smallest else 0) for i in range(4)]


def test_fees_failed_tx_still_pays_fee(chain):
    apply_ok(chain)
    before = operator_balances(chain)
    r = chain.apply([chain.tx(ALICE, "stake", 5_000_000, fee=2_000)])
    assert r.tx_results[0].charged and not r.tx_results[0].ok
    assert sum(operator_balances(chain)) - sum(before) == 2_000
