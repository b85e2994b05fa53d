"""Types: canonical encodings, defensive decoding, weighted round robin, commits, evidence."""
from __future__ import annotations

from collections import Counter

import msgpack
import pytest
from hypothesis import given, settings, strategies as st

from consensus.crypto import address_from_pubkey, verify_signature
from consensus.types import (
    Commit, CommitSig, DuplicateVoteEvidence, InvalidCommit, InvalidEvidence, Proposal,
    Validator, ValidatorSet, Vote, VoteType,
)
from consensus_helpers import CHAIN, keys, signed_proposal, signed_vote, value, valset

K = keys(4)


def test_address_is_sha256_prefix_and_verify_never_raises():
    a = address_from_pubkey(K[0].pub_key)
    assert len(a) == 20 and a == K[0].address
    assert verify_signature(b"short", b"m", b"s") is False
    assert verify_signature(K[0].pub_key, b"m", b"\x00" * 64) is False
    assert verify_signature(None, None, None) is False  # type: ignore[arg-type]


def test_vote_roundtrip_and_sign_bytes_bind_chain_and_kind():
    v = signed_vote(K[0], VoteType.PREVOTE, 5, 2, value("a"))
    assert Vote.decode(v.encode()) == v
    assert v.verify(CHAIN, K[0].pub_key)
    assert not v.verify("other-chain", K[0].pub_key)
    assert not v.verify(CHAIN, K[1].pub_key)
    nil = signed_vote(K[0], VoteType.PRECOMMIT, 5, 2, None)
    assert Vote.decode(nil.encode()).value_id is None
    # a vote's and a proposal's sign bytes never coincide (domain tags)
    p = Proposal(5, 2, value("a"), -1, K[0].address)
    assert p.sign_bytes(CHAIN) != v.sign_bytes(CHAIN)
    assert msgpack.unpackb(v.sign_bytes(CHAIN))[:2] == ["attrchain/vote/v1", CHAIN]


def test_proposal_roundtrip_and_pol_round_bound():
    p = signed_proposal(K[1], 3, 4, value("b"), pol=2)
    assert Proposal.decode(p.encode()) == p
    assert p.verify(CHAIN, K[1].pub_key)
    bad = msgpack.packb([3, 4, value("b"), 4, K[1].address, b"\x00" * 64])  # pol == round
    with pytest.raises(ValueError, match="pol round"):
        Proposal.decode(bad)


@pytest.mark.parametrize("fields", [
    [1, 1, 0, None, b"a" * 20],                          # too few fields
    [3, 1, 0, None, b"a" * 20, b"s" * 64],               # bad type
    [1, 0, 0, None, b"a" * 20, b"s" * 64],               # height 0
    [1, 1, -1, None, b"a" * 20, b"s" * 64],              # negative round
    [1, 1, 0, b"short", b"a" * 20, b"s" * 64],           # value id size
    [1, 1, 0, None, b"a" * 19, b"s" * 64],               # address size
    [1, 1, 0, None, b"a" * 20, b"s" * 63],               # signature size
    [True, 1, 0, None, b"a" * 20, b"s" * 64],            # bool is not an int
    [1, 1.0, 0, None, b"a" * 20, b"s" * 64],             # float
    [1, 1, 0, "x" * 32, b"a" * 20, b"s" * 64],           # str is not bytes
    {"type": 1},                                         # a map, not an array
])
def test_vote_decode_rejects_malformed(fields):
    with pytest.raises(ValueError):
        Vote.decode(msgpack.packb(fields, use_bin_type=True))


def test_decode_rejects_oversized_and_garbage():
    with pytest.raises(ValueError, match="exceeds"):
        Vote.decode(b"\x90" * 5000)
    with pytest.raises(ValueError):
        Vote.decode(b"\xc1")
    with pytest.raises(ValueError):
        Vote.decode("not bytes")  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_decoders_raise_only_value_error(data):
    for decode in (Vote.decode, Proposal.decode, Commit.decode, ValidatorSet.decode,
                   DuplicateVoteEvidence.decode):
        try:
            decode(data)
        except ValueError:
            pass


def test_validator_set_canonical_order_and_checks():
    vs = valset(K, [1, 2, 3, 4])
    assert [v.address for v in vs] == sorted(k.address for k in K)
    assert vs.total_power == 10 and vs.get(K[2].address).voting_power == 3
    assert vs.get(b"\x00" * 20) is None
    assert ValidatorSet.decode(vs.encode()) == vs
    with pytest.raises(ValueError, match="duplicate"):
        ValidatorSet([vs.validators[0], vs.validators[0]])
    with pytest.raises(ValueError, match="address"):
        Validator(K[0].address, K[1].pub_key, 1)
    with pytest.raises(ValueError):
        Validator(K[0].address, K[0].pub_key, 0)
    reordered = msgpack.unpackb(vs.encode())[::-1]
    with pytest.raises(ValueError, match="canonical"):
        ValidatorSet.decode(msgpack.packb(reordered, use_bin_type=True))


def test_hash_ignores_priorities_but_not_power():
    vs = valset(K, [1, 2, 3, 4])
    assert vs.advance(3).hash() == vs.hash()
    assert valset(K, [1, 2, 3, 5]).hash() != vs.hash()


def test_weighted_round_robin_is_proportional_and_deterministic():
    vs = valset(K, [1, 2, 3, 4])
    picks = Counter(vs.proposer(1, r).voting_power for r in range(1000))
    assert picks == {1: 100, 2: 200, 3: 300, 4: 400}  # exact over a multiple of the total
    again = valset(K, [1, 2, 3, 4])
    assert [again.proposer(1, r) for r in range(50)] == [vs.proposer(1, r) for r in range(50)]
    # the next height continues the sequence: its round 0 is this height's round 1
    assert vs.advance().proposer(2, 0) == vs.proposer(1, 1)


def test_equal_power_rotates_and_ties_go_to_lower_address():
    vs = valset(K, [5, 5, 5, 5])
    first = [vs.proposer(1, r).address for r in range(4)]
    assert first == sorted(first)  # all tie at the start: lower address first
    assert len(set(first)) == 4


def test_update_adds_removes_and_new_validator_waits():
    vs = valset(K[:3], [4, 4, 4])
    new = Validator.from_pub_key(K[3].pub_key, 4)
    vs2 = vs.update([new])
    assert len(vs2) == 4 and vs2.get(K[3].address) is not None
    assert vs2.proposer(1, 0).address != K[3].address  # starts at -(P + P/8)
    vs3 = vs2.update([(K[0].address, 0)])
    assert vs3.get(K[0].address) is None and vs3.total_power == 12
    with pytest.raises(ValueError):
        vs.update([(b"\x01" * 20, 0)])


def _commit(ks, powers_signing, h=7, r=1, v=None):
    v = v or value("block")
    votes = [signed_vote(k, VoteType.PRECOMMIT, h, r, v) for k in ks]
    return Commit.from_votes(votes)


def test_commit_verifies_with_more_than_two_thirds_of_power():
    vs = valset(K, [1, 2, 3, 4])
    c = _commit([K[3], K[2]], None)  # power 7 of 10
    vs.verify_commit(CHAIN, c)
    assert Commit.decode(c.encode()) == c
    with pytest.raises(InvalidCommit) as e:
        vs.verify_commit(CHAIN, _commit([K[3], K[1]], None))  # power 6 of 10: not > 2/3
    assert e.value.code == "insufficient_power"


def test_commit_rejects_bad_signature_unknown_and_duplicate_validators():
    vs = valset(K, [1, 2, 3, 4])
    c = _commit([K[1], K[2], K[3]], None)
    with pytest.raises(InvalidCommit) as e:
        vs.verify_commit("other-chain", c)
    assert e.value.code == "bad_signature"
    other = keys(5)[4]
    c2 = Commit(c.height, c.round, c.value_id,
                c.signatures + (CommitSig(other.address, b"\x00" * 64),))
    with pytest.raises(InvalidCommit) as e:
        vs.verify_commit(CHAIN, c2)
    assert e.value.code == "unknown_validator"
    c3 = Commit(c.height, c.round, c.value_id, c.signatures + c.signatures[:1])
    with pytest.raises(InvalidCommit) as e:
        vs.verify_commit(CHAIN, c3)
    assert e.value.code == "duplicate_signature"
    # a commit for another value does not verify with these signatures
    with pytest.raises(InvalidCommit):
        vs.verify_commit(CHAIN, Commit(c.height, c.round, value("other"), c.signatures))
    with pytest.raises(ValueError, match="ordered"):
        Commit.decode(msgpack.packb([7, 1, c.value_id,
                                     [[s.validator, s.signature] for s in c.signatures[::-1]]],
                                    use_bin_type=True))


def test_duplicate_vote_evidence():
    a = signed_vote(K[0], VoteType.PREVOTE, 3, 1, value("x"))
    b = signed_vote(K[0], VoteType.PREVOTE, 3, 1, None)
    ev = DuplicateVoteEvidence.of(a, b)
    assert DuplicateVoteEvidence.of(b, a) == ev  # canonical order
    ev.verify(CHAIN, K[0].pub_key)
    assert DuplicateVoteEvidence.decode(ev.encode()) == ev
    cases = {
        "wrong_validator": (DuplicateVoteEvidence.of(a, b), K[1].pub_key),
        "different_step": (DuplicateVoteEvidence.of(
            a, signed_vote(K[0], VoteType.PREVOTE, 3, 2, None)), K[0].pub_key),
        "same_value": (DuplicateVoteEvidence(a, a), K[0].pub_key),
        "bad_signature": (DuplicateVoteEvidence.of(
            a, Vote(b.type, b.height, b.round, b.value_id, b.validator, b"\x01" * 64)),
            K[0].pub_key),
    }
    for code, (e, pub) in cases.items():
        with pytest.raises(InvalidEvidence) as exc:
            e.verify(CHAIN, pub)
        assert exc.value.code == code
    with pytest.raises(ValueError, match="canonical"):
        DuplicateVoteEvidence.decode(msgpack.packb([a.encode(), a.encode()], use_bin_type=True))
