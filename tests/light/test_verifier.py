"""The pure verifier: each rule of CometBFT's light/verifier.go, one refusal per reason."""
from __future__ import annotations

import dataclasses
from fractions import Fraction

import pytest

from chaingen import GENESIS_MS, GenChain, key, rotating_chain, sign_commit, static_chain, valset
from consensus.types import Commit, CommitSig
from node.light import verifier
from node.light.errors import VerificationError
from node.light.types import LightBlock, check_trust_level

CHAIN = "light-test"
NOW = GENESIS_MS + 100_000
KW = dict(now_ms=NOW, trusting_period_ms=1_000_000, max_clock_drift_ms=10_000)


def resign(chain: GenChain, lb: LightBlock, signers=None, **header_changes) -> LightBlock:
    """The same block with header fields changed, re-signed by `signers` (default its set)."""
    hd = dataclasses.replace(lb.header, **header_changes)
    keys = chain.keys_at(lb.height) if signers is None else signers
    return LightBlock(hd, sign_commit(hd.chain_id, hd, keys), lb.validators)


def refused(code: str, fn, *args, **kw) -> VerificationError:
    with pytest.raises(VerificationError) as e:
        fn(*args, **kw)
    assert e.value.code == code, e.value
    return e.value


def test_adjacent_and_skipping_accept_an_honest_chain():
    c = static_chain(CHAIN, 10)
    verifier.verify_adjacent(c.blocks[1], c.blocks[2], CHAIN, **KW)
    verifier.verify_non_adjacent(c.blocks[1], c.blocks[10], CHAIN, **KW)
    assert verifier.verify_commit_trusting(c.set_at(1), CHAIN, c.blocks[10].commit) == 40


def test_commit_without_two_thirds_of_the_power_is_refused():
    c = static_chain(CHAIN, 3)
    lb = c.blocks[2]
    two_of_four = LightBlock(lb.header, sign_commit(CHAIN, lb.header, c.keys_at(2)[:2]), lb.validators)
    e = refused("insufficient_power", verifier.verify_adjacent, c.blocks[1], two_of_four, CHAIN, **KW)
    assert "20" in e.reason and "40" in e.reason
    # exactly 2/3 is not more than 2/3
    c6 = static_chain(CHAIN, 3, n=6)
    lb6 = c6.blocks[2]
    four_of_six = LightBlock(lb6.header, sign_commit(CHAIN, lb6.header, c6.keys_at(2)[:4]), lb6.validators)
    refused("insufficient_power", verifier.verify_light_block, four_of_six, CHAIN)
    five_of_six = LightBlock(lb6.header, sign_commit(CHAIN, lb6.header, c6.keys_at(2)[:5]), lb6.validators)
    verifier.verify_light_block(five_of_six, CHAIN)


def test_forged_signature_and_unknown_signer_are_refused():
    c = static_chain(CHAIN, 2)
    lb = c.blocks[2]
    sigs = list(lb.commit.signatures)
    sigs[0] = CommitSig(sigs[0].validator, bytes(64))
    forged = LightBlock(lb.header, Commit(lb.commit.height, lb.commit.round, lb.commit.value_id,
                                          tuple(sigs)), lb.validators)
    refused("bad_signature", verifier.verify_light_block, forged, CHAIN)
    outsider = LightBlock(lb.header, sign_commit(CHAIN, lb.header, c.keys_at(2) + [key("outsider")]),
                          lb.validators)
    refused("unknown_validator", verifier.verify_light_block, outsider, CHAIN)


def test_header_of_another_chain_is_refused_even_if_well_signed():
    other = static_chain("other-chain", 3)
    refused("wrong_chain", verifier.verify_light_block, other.blocks[2], CHAIN)
    mine = static_chain(CHAIN, 3)
    refused("wrong_chain", verifier.verify_adjacent, mine.blocks[2], other.blocks[3], CHAIN, **KW)


def test_commit_for_another_header_and_wrong_set_are_refused():
    c = static_chain(CHAIN, 3)
    lb = c.blocks[2]
    swapped = LightBlock(dataclasses.replace(lb.header, app_hash=bytes(32)), lb.commit, lb.validators)
    refused("commit_mismatch", verifier.verify_light_block, swapped, CHAIN)
    other_set = LightBlock(lb.header, lb.commit, valset([key(f"x{i}") for i in range(4)]))
    refused("validators_mismatch", verifier.verify_light_block, other_set, CHAIN)


def test_adjacent_needs_the_announced_set_and_the_hash_link():
    c = static_chain(CHAIN, 3)
    # block 3 signed by a set block 2 did not announce (all signatures valid)
    impostors = [key(f"imp{i}") for i in range(4)]
    fake = resign(c, c.blocks[3], impostors, validators_hash=valset(impostors).hash())
    fake = LightBlock(fake.header, fake.commit, valset(impostors))
    refused("next_validators_mismatch", verifier.verify_adjacent, c.blocks[2], fake, CHAIN, **KW)
    unlinked = resign(c, c.blocks[3], last_block_id=bytes(32))
    refused("broken_chain", verifier.verify_adjacent, c.blocks[2], unlinked, CHAIN, **KW)


def test_time_height_expiry_and_future():
    c = static_chain(CHAIN, 5)
    refused("height_not_increasing", verifier.verify_non_adjacent, c.blocks[4], c.blocks[2], CHAIN, **KW)
    stale = resign(c, c.blocks[4], time_ms=c.blocks[2].time_ms)
    refused("time_not_increasing", verifier.verify_non_adjacent, c.blocks[2], stale, CHAIN, **KW)
    expired = dict(KW, trusting_period_ms=NOW - c.blocks[1].time_ms)
    refused("trusted_header_expired", verifier.verify_non_adjacent, c.blocks[1], c.blocks[5], CHAIN, **expired)
    future = resign(c, c.blocks[5], time_ms=NOW + 10_001)
    refused("header_from_future", verifier.verify_non_adjacent, c.blocks[1], future, CHAIN, **KW)
    verifier.verify_non_adjacent(c.blocks[1], resign(c, c.blocks[5], time_ms=NOW + 10_000), CHAIN, **KW)


def test_skipping_needs_more_than_one_third_of_the_trusted_power():
    # one validator of four replaced per height: at h+2 half the trusted set remains,
    # at h+3 a quarter (10 of 40: not more than 1/3)
    c = rotating_chain(CHAIN, 8)
    verifier.verify_non_adjacent(c.blocks[1], c.blocks[3], CHAIN, **KW)     # 20/40 > 1/3
    e = refused("not_enough_trust", verifier.verify_non_adjacent, c.blocks[1], c.blocks[4], CHAIN, **KW)
    assert isinstance(e, verifier.NotEnoughTrust)
    assert "10 of 40" in e.reason
    # a stricter trust level refuses what 1/3 accepts
    refused("not_enough_trust", verifier.verify_non_adjacent, c.blocks[1], c.blocks[3], CHAIN,
            trust_level=Fraction(2, 3), **KW)


def test_trust_boundary_is_strict():
    # trusted set of 3 equal validators; the new header is signed by its own 3-member set
    # holding exactly one of them: 1/3 of the trusted power, not more -> refused
    a = [key(f"a{i}") for i in range(3)]
    b = [a[0], key("b1"), key("b2")]
    sets = {1: (a, [1, 1, 1]), 2: (a, [1, 1, 1]), 3: (b, [1, 1, 1]), 4: (b, [1, 1, 1])}
    c = GenChain(CHAIN, sets).build(3)
    refused("not_enough_trust", verifier.verify_non_adjacent, c.blocks[1], c.blocks[3], CHAIN, **KW)
    # weight the shared validator a little more: 2 of 4 trusted power -> accepted
    sets = {1: (a, [2, 1, 1]), 2: (a, [2, 1, 1]), 3: (b, [1, 1, 1]), 4: (b, [1, 1, 1])}
    c = GenChain(CHAIN, sets).build(3)
    assert verifier.verify_commit_trusting(c.set_at(1), CHAIN, c.blocks[3].commit) == 2
    verifier.verify_non_adjacent(c.blocks[1], c.blocks[3], CHAIN, **KW)


def test_trusting_count_ignores_unknown_but_refuses_forged_signers():
    c = rotating_chain(CHAIN, 4)
    lb = c.blocks[3]
    sigs = list(lb.commit.signatures)
    i = next(i for i, s in enumerate(sigs) if c.set_at(1).get(s.validator))
    sigs[i] = CommitSig(sigs[i].validator, bytes(64))
    forged = Commit(lb.commit.height, lb.commit.round, lb.commit.value_id, tuple(sigs))
    refused("bad_signature", verifier.verify_commit_trusting, c.set_at(1), CHAIN, forged)


def test_trust_level_bounds():
    assert check_trust_level(Fraction(1, 3)) == Fraction(1, 3)
    for bad in (Fraction(1, 4), Fraction(4, 3)):
        with pytest.raises(ValueError):
            check_trust_level(bad)


def test_light_block_round_trip_and_garbage():
    lb = static_chain(CHAIN, 2).blocks[2]
    assert LightBlock.decode(lb.encode()) == lb
    for junk in (b"", b"\x93\x01\x02\x03", lb.encode()[:-3]):
        with pytest.raises(ValueError):
            LightBlock.decode(junk)
