"""The vote keeper (power-weighted thresholds, once each, equivocation) and the signer."""
from __future__ import annotations

import pytest

from consensus.signer import (
    LastSignState, MemoryLastSignStore, Signer, DoubleSignError, STEP_PRECOMMIT,
)
from consensus.types import Proposal, Vote, VoteType
from consensus.votekeeper import AddResult, Threshold, VoteKeeper
from consensus_helpers import CHAIN, keys, signed_vote, value, valset

K = keys(4)
PV, PC = VoteType.PREVOTE, VoteType.PRECOMMIT
A, B = value("a"), value("b")


def keeper(powers=(1, 2, 3, 4)):
    return VoteKeeper(valset(K, list(powers)))


def test_polka_by_power_not_by_count():
    k = keeper((1, 1, 1, 7))  # total 10: the big validator alone is 70%
    # three of four validators, but only 30% of the power: no threshold at all
    assert [k.add(signed_vote(K[i], PV, 1, 0, A)) for i in range(3)] == [AddResult.ADDED] * 3
    assert not k.has(0, Threshold.POLKA_VALUE, A)
    assert k.add(signed_vote(K[3], PV, 1, 0, A)) == AddResult.CROSSED
    assert k.has(0, Threshold.POLKA_VALUE, A) and k.has(0, Threshold.POLKA_ANY)
    assert k.polka_values(0) == [A]


def test_thresholds_are_reported_once():
    k = keeper((1, 1, 1, 1))
    results = [k.add(signed_vote(K[i], PC, 1, 0, A)) for i in range(4)]
    # f+1 (SKIP) at the 2nd vote, 2f+1 value and any at the 3rd, nothing new at the 4th
    assert results == [AddResult.ADDED, AddResult.CROSSED, AddResult.CROSSED, AddResult.ADDED]
    assert k.precommit_quorums == [(0, A)]
    assert len(k.precommits_for(0, A)) == 4


def test_polka_nil_and_any_with_split_votes():
    k = keeper((3, 3, 3, 3))
    k.add(signed_vote(K[0], PV, 1, 2, None))
    k.add(signed_vote(K[1], PV, 1, 2, A))
    assert k.add(signed_vote(K[2], PV, 1, 2, None)) == AddResult.CROSSED  # any: 9 of 12
    assert k.has(2, Threshold.POLKA_ANY) and not k.has(2, Threshold.POLKA_NIL)
    assert k.add(signed_vote(K[3], PV, 1, 2, None)) == AddResult.CROSSED  # nil: 9 of 12
    assert k.has(2, Threshold.POLKA_NIL)


def test_skip_threshold_is_f_plus_one_of_distinct_voters_in_a_round():
    k = keeper((1, 2, 3, 4))  # > 1/3 of 10 means >= 4
    k.add(signed_vote(K[2], PV, 1, 5, A))
    k.add(signed_vote(K[2], PC, 1, 5, None))  # the same validator again: still 3
    assert k.max_skip_round == -1
    assert k.add(signed_vote(K[0], PV, 1, 5, None)) == AddResult.CROSSED
    assert k.max_skip_round == 5


def test_duplicates_and_strangers_change_nothing():
    k = keeper()
    v = signed_vote(K[0], PV, 1, 0, A)
    assert k.add(v) == AddResult.ADDED
    assert k.add(v) == AddResult.DUPLICATE
    stranger = keys(5)[4]
    assert k.add(signed_vote(stranger, PV, 1, 0, A)) == AddResult.REJECTED
    assert k.all_votes() == [v]


def test_equivocation_is_kept_as_evidence_and_counted_once_per_value():
    k = keeper((1, 3, 3, 3))  # total 10, quorum > 6.67
    first = signed_vote(K[1], PV, 1, 0, A)
    second = signed_vote(K[1], PV, 1, 0, B)
    k.add(first)
    assert k.add(second) == AddResult.ADDED
    assert len(k.evidence) == 1
    ev = k.evidence[0]
    ev.verify(CHAIN, K[1].pub_key)
    k.add(signed_vote(K[1], PV, 1, 0, None))
    assert len(k.evidence) == 1  # one piece of evidence per validator, round and type
    # "any" counts the equivocator once: 3 of 10 so far
    assert not k.has(0, Threshold.POLKA_ANY)
    # each value counts it (the paper counts messages): B reaches 2f+1 with K2, K3
    k.add(signed_vote(K[2], PV, 1, 0, B))
    assert k.add(signed_vote(K[3], PV, 1, 0, B)) == AddResult.CROSSED
    assert k.has(0, Threshold.POLKA_VALUE, B)
    assert set(k.votes_of(0)) >= {first, second}


def test_signer_signs_and_persists_before_returning():
    store = MemoryLastSignStore()
    s = Signer(K[0], CHAIN, store)
    v = s.sign_vote(Vote(PC, 3, 1, A, K[0].address))
    assert v.verify(CHAIN, K[0].pub_key)
    rec = LastSignState.from_record(store.load())
    assert rec.position == (3, 1, STEP_PRECOMMIT) and rec.signature == v.signature


def test_signer_refuses_conflicts_and_regressions_but_repeats_the_same_message():
    store = MemoryLastSignStore()
    s = Signer(K[0], CHAIN, store)
    v = s.sign_vote(Vote(PV, 3, 1, A, K[0].address))
    assert s.sign_vote(Vote(PV, 3, 1, A, K[0].address)) == v  # same bytes: same signature
    saves = store.saves
    with pytest.raises(DoubleSignError) as e:
        s.sign_vote(Vote(PV, 3, 1, B, K[0].address))
    assert e.value.code == "conflict"
    with pytest.raises(DoubleSignError) as e:
        s.sign_vote(Vote(PV, 3, 1, None, K[0].address))
    with pytest.raises(DoubleSignError) as e:
        s.sign_proposal(Proposal(3, 0, A, -1, K[0].address))
    assert e.value.code == "regression"
    assert store.saves == saves  # refusals change nothing
    with pytest.raises(DoubleSignError):
        s.sign_vote(Vote(PV, 3, 2, A, K[1].address))  # not our address
    s.sign_vote(Vote(PC, 3, 1, None, K[0].address))  # a later step is fine


def test_a_restarted_signer_remembers_what_it_signed():
    store = MemoryLastSignStore()
    Signer(K[0], CHAIN, store).sign_proposal(Proposal(5, 0, A, -1, K[0].address))
    again = Signer(K[0], CHAIN, store)
    with pytest.raises(DoubleSignError):
        again.sign_proposal(Proposal(5, 0, B, -1, K[0].address))
    assert again.sign_proposal(Proposal(5, 0, A, -1, K[0].address)).value_id == A


def test_corrupt_last_sign_record_is_an_error():
    class Bad:
        def load(self):
            return {"height": "x"}

        def save(self, r):
            raise AssertionError

    with pytest.raises(ValueError, match="corrupt"):
        Signer(K[0], CHAIN, Bad())


def test_signer_resigns_an_earlier_message_of_the_height_but_nothing_conflicting():
    """A power cut after the signer saved a prevote and a precommit but before the WAL got
    them: the restarted node must be able to send that prevote again (or it would stay
    silent for the round), and still never anything conflicting."""
    store = MemoryLastSignStore()
    s = Signer(K[0], CHAIN, store)
    pv = s.sign_vote(Vote(PV, 4, 1, A, K[0].address))
    s.sign_vote(Vote(PC, 4, 1, A, K[0].address))
    again = Signer(K[0], CHAIN, store)  # restarted
    assert again.sign_vote(Vote(PV, 4, 1, A, K[0].address)) == pv
    with pytest.raises(DoubleSignError):
        again.sign_vote(Vote(PV, 4, 1, None, K[0].address))
    with pytest.raises(DoubleSignError):  # never signed there, and before the last: refused
        again.sign_vote(Vote(PV, 4, 0, A, K[0].address))
    # history keeps the last two rounds of the height, and resets at a new height
    for r in (2, 3, 4):
        again.sign_vote(Vote(PV, 4, r, B, K[0].address))
    assert sorted({e[0] for e in LastSignState.from_record(store.load()).history}) == [3, 4]
    again.sign_vote(Vote(PV, 5, 0, B, K[0].address))
    assert len(LastSignState.from_record(store.load()).history) == 1
