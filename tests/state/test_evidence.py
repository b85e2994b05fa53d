"""evidence(vote_a, vote_b) and evidence included in blocks: double-sign slashing."""
from __future__ import annotations

import pytest

from ledger_helpers import ALICE, SMALL_PARAMS, apply_ok, assert_rejected, double_sign, sign_vote, view
from consensus.types import DuplicateVoteEvidence, Vote
from state.codec import decode_value
from state.devchain import seeded_key
from state.errors import BlockError, Code
from state.keys import BURNED
from state.staking import NEVER, get_unbonding, get_validator


def advance(chain, n):
    for _ in range(n):
        apply_ok(chain)


def test_evidence_slashes_and_tombstones(make):
    chain = make(params=SMALL_PARAMS)
    advance(chain, 3)
    v2 = chain.validators[2]
    bonded = get_validator(view(chain), v2.operator).bonded
    r = apply_ok(chain, chain.tx(ALICE, "evidence", *double_sign(chain, 2, 2)))
    v = get_validator(view(chain), v2.operator)
    cut = bonded * SMALL_PARAMS.slash_double_sign_ppm // 1_000_000
    assert v.bonded == bonded - cut and v.tombstoned and v.jailed and v.jailed_until == NEVER
    assert decode_value(chain.ledger.store.get(BURNED)) == cut
    assert chain.ledger.validator_set(r.height + 2).get(v2.consensus_address) is None
    assert ("slash_double_sign", v2.operator, cut) in r.tx_results[0].events


def test_evidence_in_block_slashes(make):
    chain = make(params=SMALL_PARAMS)
    advance(chain, 3)
    a, b = double_sign(chain, 1, 3)
    ev = DuplicateVoteEvidence.of(Vote.decode(a), Vote.decode(b)).encode()
    v1 = chain.validators[1]
    bonded = get_validator(view(chain), v1.operator).bonded
    apply_ok(chain, evidence=[ev])
    assert get_validator(view(chain), v1.operator).bonded == bonded - bonded // 20
    assert get_validator(view(chain), v1.operator).tombstoned


def test_evidence_slashes_unbonding_that_still_counted(make):
    chain = make(params=SMALL_PARAMS)
    advance(chain, 4)
    v2 = chain.validators[2]
    # unbonded at height 5; an infraction at height 6 still used that stake (set decided at 4)
    apply_ok(chain, chain.tx(v2.operator_key, "unstake", 40_000_000))
    apply_ok(chain)
    apply_ok(chain, chain.tx(ALICE, "evidence", *double_sign(chain, 2, 6)))
    assert get_unbonding(view(chain), v2.operator)[0][1] == 40_000_000 - 2_000_000


def test_evidence_does_not_slash_unbonding_done_before(make):
    chain = make(params=SMALL_PARAMS)
    advance(chain, 2)
    v2 = chain.validators[2]
    apply_ok(chain, chain.tx(v2.operator_key, "unstake", 40_000_000))   # height 3
    advance(chain, 3)
    # the infraction at height 6 used the set decided at 4: the unbonded stake was out
    apply_ok(chain, chain.tx(ALICE, "evidence", *double_sign(chain, 2, 6)))
    assert get_unbonding(view(chain), v2.operator)[0][1] == 40_000_000


def test_evidence_votes_in_any_order(make):
    chain = make(params=SMALL_PARAMS)
    advance(chain, 3)
    a, b = double_sign(chain, 2, 2)
    apply_ok(chain, chain.tx(ALICE, "evidence", b, a))
    assert get_validator(view(chain), chain.validators[2].operator).tombstoned


def test_invalid_tombstoned(make):
    chain = make(params=SMALL_PARAMS)
    advance(chain, 3)
    apply_ok(chain, chain.tx(ALICE, "evidence", *double_sign(chain, 2, 2)))
    # each double sign is punished once: a second evidence (other height) is refused
    assert_rejected(chain, chain.tx(ALICE, "evidence", *double_sign(chain, 2, 3)), Code.TOMBSTONED, charged=True)
    # the same evidence again too
    assert_rejected(chain, chain.tx(ALICE, "evidence", *double_sign(chain, 2, 2)), Code.TOMBSTONED, charged=True)


def test_invalid_evidence_too_old(make):
    chain = make(params=SMALL_PARAMS)
    advance(chain, SMALL_PARAMS.evidence_max_age_blocks + 2)
    # next block is max_age + 3; evidence from height 2 is max_age + 1 blocks old
    assert_rejected(chain, chain.tx(ALICE, "evidence", *double_sign(chain, 2, 2)), Code.EVIDENCE_TOO_OLD,
                    charged=True)


def test_invalid_evidence_from_future(make):
    chain = make(params=SMALL_PARAMS)
    advance(chain, 2)
    assert_rejected(chain, chain.tx(ALICE, "evidence", *double_sign(chain, 2, 3)), Code.EVIDENCE_FROM_FUTURE,
                    charged=True)


def test_invalid_unknown_validator(make):
    chain = make(params=SMALL_PARAMS)
    advance(chain, 3)
    stranger = seeded_key("stranger")
    a = sign_vote(chain, stranger, 2, b"\x01" * 32)
    b = sign_vote(chain, stranger, 2, b"\x02" * 32)
    assert_rejected(chain, chain.tx(ALICE, "evidence", a, b), Code.UNKNOWN_VALIDATOR, charged=True)


def test_invalid_evidence_bad_signature(make):
    chain = make(params=SMALL_PARAMS)
    advance(chain, 3)
    a, b = double_sign(chain, 2, 2)
    va = Vote.decode(a)
    forged = Vote(va.type, va.height, va.round, va.value_id, va.validator, bytes(64)).encode()
    assert_rejected(chain, chain.tx(ALICE, "evidence", forged, b), Code.INVALID_EVIDENCE, charged=True)


def test_invalid_evidence_wrong_chain(make):
    chain = make(params=SMALL_PARAMS)
    advance(chain, 3)
    a, b = double_sign(chain, 2, 2, chain_id="other-chain")
    assert_rejected(chain, chain.tx(ALICE, "evidence", a, b), Code.INVALID_EVIDENCE, charged=True)


def test_invalid_evidence_same_value(make):
    chain = make(params=SMALL_PARAMS)
    advance(chain, 3)
    a = sign_vote(chain, chain.validators[2].consensus_key, 2, b"\x01" * 32)
    assert_rejected(chain, chain.tx(ALICE, "evidence", a, a), Code.INVALID_EVIDENCE)


def test_invalid_evidence_different_steps(make):
    chain = make(params=SMALL_PARAMS)
    advance(chain, 3)
    key = chain.validators[2].consensus_key
    a = sign_vote(chain, key, 2, b"\x01" * 32)
    b = sign_vote(chain, key, 2, b"\x02" * 32, round=1)
    c = sign_vote(chain, key, 3, b"\x02" * 32)
    d = sign_vote(chain, key, 2, b"\x02" * 32, vote_type=2)
    for other in (b, c, d):
        assert_rejected(chain, chain.tx(ALICE, "evidence", a, other), Code.INVALID_EVIDENCE)


def test_invalid_evidence_malformed_vote(make):
    chain = make(params=SMALL_PARAMS)
    a, _ = double_sign(chain, 2, 2)
    assert_rejected(chain, chain.tx(ALICE, "evidence", a, b"\x93\x01\x02\x03"), Code.INVALID_EVIDENCE)


def test_invalid_evidence_empty_vote(make):
    chain = make(params=SMALL_PARAMS)
    a, _ = double_sign(chain, 2, 2)
    assert_rejected(chain, chain.tx(ALICE, "evidence", a, b""), Code.OUT_OF_RANGE)


def test_invalid_block_evidence_rejects_the_block(make):
    chain = make(params=SMALL_PARAMS)
    advance(chain, 3)
    a, b = double_sign(chain, 2, 2, chain_id="other-chain")
    ev = DuplicateVoteEvidence.of(Vote.decode(a), Vote.decode(b)).encode()
    with pytest.raises(BlockError, match="bad_evidence"):
        chain.ledger.execute_block(chain.make_block([], evidence=[ev]))
    with pytest.raises(BlockError, match="bad_evidence"):
        chain.ledger.execute_block(chain.make_block([], evidence=[b"\x01"]))
    good = DuplicateVoteEvidence.of(*(Vote.decode(x) for x in double_sign(chain, 2, 2))).encode()
    with pytest.raises(BlockError, match="duplicate_evidence"):
        chain.ledger.execute_block(chain.make_block([], evidence=[good, good]))
