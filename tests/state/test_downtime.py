"""Downtime: a validator that signed fewer than min_signed_ppm of the last
signed_blocks_window commits is slashed slash_downtime_ppm and jailed."""
from __future__ import annotations

from ledger_helpers import SMALL_PARAMS, all_but, apply_ok, jail_for_downtime, view
from state.codec import decode_value
from state.keys import BURNED, signing_info_key
from state.staking import get_validator


def test_downtime_jails_and_slashes_after_window(make):
    chain = make(params=SMALL_PARAMS)
    v3 = chain.validators[3]
    bonded = get_validator(view(chain), v3.operator).bonded
    h = jail_for_downtime(chain, 3)
    # commits of heights 1..10 all lack it: judged when 10 commits are counted, in block 11
    assert h == SMALL_PARAMS.signed_blocks_window + 1
    v = get_validator(view(chain), v3.operator)
    slashed = bonded * SMALL_PARAMS.slash_downtime_ppm // 1_000_000
    assert v.jailed and not v.tombstoned and v.jailed_until == h + SMALL_PARAMS.downtime_jail_blocks
    assert v.bonded == bonded - slashed
    assert decode_value(chain.ledger.store.get(BURNED)) == slashed
    assert chain.ledger.validator_set(h + 1).get(v3.consensus_address) is not None
    assert chain.ledger.validator_set(h + 2).get(v3.consensus_address) is None
    assert chain.ledger.store.get(signing_info_key(v3.consensus_address)) is None


def test_downtime_exactly_half_signed_is_not_jailed(make):
    chain = make(params=SMALL_PARAMS)
    v3 = chain.validators[3]
    apply_ok(chain)
    for i in range(40):    # alternate: sign, miss -> exactly 50 % signed in every window
        apply_ok(chain, signers=all_but(chain, 3) if i % 2 else None)
    assert not get_validator(view(chain), v3.operator).jailed


def test_downtime_six_misses_in_window_jails(make):
    chain = make(params=SMALL_PARAMS)
    v3 = chain.validators[3]
    apply_ok(chain)
    for _ in range(4):                 # 4 signed commits (heights 1..4)
        apply_ok(chain)
    jailed_at = None
    for _ in range(6):                 # then 6 misses: 4 of 10 signed < 50 %
        r = apply_ok(chain, signers=all_but(chain, 3))
        if get_validator(view(chain), v3.operator).jailed and jailed_at is None:
            jailed_at = r.height
    assert jailed_at == chain.ledger.height


def test_downtime_signing_validators_write_nothing(make):
    """A validator that keeps signing costs no state write after its first block."""
    chain = make(params=SMALL_PARAMS)
    apply_ok(chain)
    apply_ok(chain)
    r = apply_ok(chain)
    assert not any(k.startswith(b"liv/") for k in r.changes)


def test_downtime_jailed_validator_not_judged_again(make):
    chain = make(params=SMALL_PARAMS)
    v3 = chain.validators[3]
    jail_for_downtime(chain, 3)
    bonded = get_validator(view(chain), v3.operator).bonded
    for _ in range(12):
        apply_ok(chain, signers=all_but(chain, 3))
    assert get_validator(view(chain), v3.operator).bonded == bonded


def test_downtime_rejoining_validator_starts_a_fresh_window(make):
    """Misses from an earlier membership do not count after the validator rejoins."""
    chain = make(params=SMALL_PARAMS)
    v3 = chain.validators[3]
    apply_ok(chain)
    for _ in range(5):                                    # 5 misses: not jailed yet
        apply_ok(chain, signers=all_but(chain, 3))
    assert not get_validator(view(chain), v3.operator).jailed
    bonded = get_validator(view(chain), v3.operator).bonded
    apply_ok(chain, chain.tx(v3.operator_key, "unstake", bonded), signers=all_but(chain, 3))
    for _ in range(4):                                    # out of the set
        apply_ok(chain, signers=all_but(chain, 3))
    assert chain.ledger.validator_set(chain.ledger.height).get(v3.consensus_address) is None
    r = apply_ok(chain, chain.tx(v3.operator_key, "stake", 5_000_000_000), signers=all_but(chain, 3))
    while chain.ledger.height < r.height + 2:
        apply_ok(chain, signers=all_but(chain, 3))
    # back in the set: a few misses now are judged on the new window only
    for _ in range(3):
        apply_ok(chain, signers=all_but(chain, 3))
    assert not get_validator(view(chain), v3.operator).jailed
    info = decode_value(chain.ledger.store.get(signing_info_key(v3.consensus_address)))
    assert info[0] > r.height and info[1] <= 3
