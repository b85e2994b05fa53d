"""The driver (inputs -> effects, in order) and WAL replay rebuilding the exact state."""
from __future__ import annotations

import random

import pytest

from consensus.driver import Driver
from consensus.messages import (
    Broadcast, Decide, EvidenceFound, GetValue, OwnProposal, OwnVote, ProposalReceived,
    ScheduleTimeout, StartHeight, Timeout, TimeoutElapsed, ValueReady, VoteReceived, WalAppend,
)
from consensus.params import ConsensusParams, TimeoutKind
from consensus.signer import MemoryLastSignStore, Signer
from consensus.state_machine import Step
from consensus.types import Proposal, Vote, VoteType
from consensus.wal import decode_record, encode_record, replay
from consensus_helpers import CHAIN, Lockstep, keys, signed_proposal, signed_vote, value, valset

PV, PC = VoteType.PREVOTE, VoteType.PRECOMMIT


def test_four_unequal_validators_decide_and_the_commit_verifies():
    net = Lockstep([1, 2, 3, 4])
    net.start()
    net.drain()
    decided = {d[0].value_id for d in net.decisions}
    assert len(decided) == 1 and all(len(d) == 1 for d in net.decisions)
    for d in net.decisions:
        net.vs.verify_commit(CHAIN, d[0].commit)
        assert d[0].round == 0
    # after the decision the driver asks for the commit timeout, then waits
    assert any(isinstance(e, ScheduleTimeout) and e.timeout.kind == TimeoutKind.COMMIT
               for e in net.effects[0])


def test_consecutive_heights_rotate_proposers():
    net = Lockstep([1, 2, 3, 4])
    proposers = []
    vs = net.vs
    for h in (1, 2, 3):
        net.vs = vs
        net.start(h)
        net.drain()
        proposers.append(next(p.proposer for e in sum(net.effects, []) if isinstance(e, Broadcast)
                              for p in [e.message] if isinstance(p, Proposal) and p.height == h))
        vs = vs.advance()
    assert proposers == [valset(net.keys, [1, 2, 3, 4]).advance(i).proposer(i + 1, 0).address
                         for i in range(3)]


def test_wal_append_is_synced_and_comes_before_broadcast():
    net = Lockstep([1, 1, 1, 1])
    net.start()
    net.drain()
    for fx in net.effects:
        for i, e in enumerate(fx):
            if isinstance(e, Broadcast):
                prev = fx[i - 1]
                assert isinstance(prev, WalAppend) and prev.sync
                assert isinstance(prev.record, (OwnVote, OwnProposal))
                own = prev.record.vote if isinstance(prev.record, OwnVote) else prev.record.proposal
                assert own == e.message


def test_timeouts_come_from_params_and_grow_per_round():
    params = ConsensusParams(propose_ms=100, propose_delta_ms=10, prevote_ms=50,
                             prevote_delta_ms=5, precommit_ms=70, precommit_delta_ms=7)
    ks = keys(4)
    vs = valset(ks, [1, 1, 1, 1])
    proposer0 = vs.proposer(1, 0).address
    idx = next(i for i, k in enumerate(ks) if k.address != proposer0)
    d = Driver(CHAIN, params, Signer(ks[idx], CHAIN, MemoryLastSignStore()))
    fx = d.apply(StartHeight(1, vs))
    assert ScheduleTimeout(Timeout(TimeoutKind.PROPOSE, 1, 0), 100) in fx
    fx = d.apply(TimeoutElapsed(Timeout(TimeoutKind.PROPOSE, 1, 0)))
    assert [e.message.value_id for e in fx if isinstance(e, Broadcast)] == [None]  # prevote nil
    for k in ks:  # 2f+1 precommits (nil) of round 0: schedule timeout precommit
        if k is not ks[idx]:
            fx = d.apply(VoteReceived(signed_vote(k, PC, 1, 0, None)))
    assert [e for e in fx if isinstance(e, ScheduleTimeout)] == [
        ScheduleTimeout(Timeout(TimeoutKind.PRECOMMIT, 1, 0), 70)]
    fx = d.apply(TimeoutElapsed(Timeout(TimeoutKind.PRECOMMIT, 1, 0)))
    assert d.state.round == 1
    timeouts = [e for e in fx if isinstance(e, ScheduleTimeout)]
    assert timeouts[0].timeout == Timeout(TimeoutKind.PROPOSE, 1, 1)
    assert timeouts[0].duration_ms == (100 + 10 if ks[idx].address != vs.proposer(1, 1).address
                                       else 110)


def test_proposals_from_others_than_the_proposer_and_stale_inputs_are_ignored():
    ks = keys(4)
    vs = valset(ks, [1, 1, 1, 1])
    d = Driver(CHAIN, None, Signer(ks[0], CHAIN, MemoryLastSignStore()))
    d.apply(StartHeight(1, vs))
    not_proposer = next(k for k in ks if k.address != vs.proposer(1, 0).address)
    before = d.snapshot()
    assert d.apply(ProposalReceived(signed_proposal(not_proposer, 1, 0, value("x")), True)) == []
    assert d.apply(TimeoutElapsed(Timeout(TimeoutKind.PROPOSE, 7, 0))) == []
    assert d.apply(ValueReady(1, 5, value("x"))) == []
    assert d.snapshot() == before
    with pytest.raises(ValueError):
        d.apply(StartHeight(1, vs))


def test_inputs_for_the_next_height_wait_for_start_height():
    net = Lockstep([1, 1, 1, 1])
    d = net.drivers[0]
    d.apply(StartHeight(1, net.vs))
    early = signed_vote(net.keys[1], PV, 2, 0, value("y"))
    assert d.apply(VoteReceived(early)) == []
    fx = d.apply(StartHeight(2, net.vs.advance()))
    assert WalAppend(VoteReceived(early), False) in fx  # logged when applied
    assert early in d.keeper.all_votes()


def test_equivocation_produces_evidence_effect():
    net = Lockstep([1, 1, 1, 1])
    d = net.drivers[0]
    d.apply(StartHeight(1, net.vs))
    d.apply(VoteReceived(signed_vote(net.keys[2], PV, 1, 0, value("a"))))
    fx = d.apply(VoteReceived(signed_vote(net.keys[2], PV, 1, 0, value("b"))))
    ev = [e for e in fx if isinstance(e, EvidenceFound)]
    assert len(ev) == 1 and ev[0].evidence.validator == net.keys[2].address


def test_non_validator_follows_but_never_signs():
    net = Lockstep([1, 1, 1, 1])
    observer = Driver(CHAIN, None, None, address=keys(5)[4].address)
    observer.apply(StartHeight(1, net.vs))
    net.start()
    seen = []
    while net.queue:
        j, inp = net.queue.pop(0)
        net.apply(j, inp)
        if j == 0:
            seen.extend(observer.apply(inp))
    assert not any(isinstance(e, Broadcast) for e in seen)
    assert observer.decision is not None


def test_wal_records_roundtrip_and_reject_garbage():
    ks = keys(2)
    vs = valset(ks, [1, 2])
    recs = [StartHeight(3, vs), ProposalReceived(signed_proposal(ks[0], 3, 1, value("p")), False),
            VoteReceived(signed_vote(ks[1], PC, 3, 1, None)),
            TimeoutElapsed(Timeout(TimeoutKind.PREVOTE, 3, 2)), ValueReady(3, 2, value("v")),
            OwnProposal(signed_proposal(ks[1], 3, 4, value("q"), 2)),
            OwnVote(signed_vote(ks[1], PV, 3, 4, value("q")))]
    for r in recs:
        assert decode_record(encode_record(r)) == r
    for bad in (b"", b"\x93\x09\x01\x02", b"\x92\x03\xc0", b"\x93\x02\xc4\x01x\x01"):
        with pytest.raises(ValueError):
            decode_record(bad)


def _random_run(seed: int):
    """Shuffled delivery with losses, and timeouts firing whenever nothing else happens
    (or early, at random); yields after every input until everyone decided."""
    rng = random.Random(seed)
    net = Lockstep([3, 1, 4, 2])
    net.start()
    kinds = {Step.PROPOSE: TimeoutKind.PROPOSE, Step.PREVOTE: TimeoutKind.PREVOTE,
             Step.PRECOMMIT: TimeoutKind.PRECOMMIT}
    for _ in range(400):
        if all(d.decision is not None for d in net.drivers):
            return
        if net.queue and rng.random() < 0.9:
            j, inp = net.queue.pop(rng.randrange(len(net.queue)))
            if rng.random() < 0.15:
                continue  # lost
            net.apply(j, inp)
        else:
            k = rng.randrange(4)
            d = net.drivers[k]
            if d.state.step in kinds:
                net.apply(k, TimeoutElapsed(Timeout(kinds[d.state.step], d.height, d.state.round)))
        yield net


@pytest.mark.parametrize("seed", range(6))
def test_replay_of_wal_prefixes_rebuilds_exactly_the_state(seed):
    checked = 0
    for step, net in enumerate(_random_run(seed)):
        if step % 5:
            continue
        i = 1
        d = net.drivers[i]
        wal = [e.record for e in net.effects[i] if isinstance(e, WalAppend)]
        wal = [decode_record(encode_record(r)) for r in wal]  # through the byte format
        fresh = Driver(CHAIN, None, Signer(net.keys[i], CHAIN, net.stores[i]))
        replay(wal, fresh)
        assert fresh.snapshot() == d.snapshot()
        checked += 1
    assert checked > 15


def test_restarted_node_continues_without_signing_anything_conflicting():
    net = Lockstep([1, 1, 1, 1])
    net.start()
    # run until node 2 has prevoted, then "crash" it and restart from its WAL
    while net.queue and not any(isinstance(e, WalAppend) and isinstance(e.record, OwnVote)
                                for e in net.effects[2]):
        j, inp = net.queue.pop(0)
        net.apply(j, inp)
    wal = [e.record for e in net.effects[2] if isinstance(e, WalAppend)]
    signed_before = [e.message for e in net.effects[2] if isinstance(e, Broadcast)]
    net.drivers[2] = replay(wal, Driver(CHAIN, None, Signer(net.keys[2], CHAIN, net.stores[2])))
    again = net.drivers[2].restart_effects()
    assert [e.message for e in again if isinstance(e, Broadcast)] == signed_before
    net.effects[2] = []
    net.drain()
    after = [e.message for e in net.effects[2] if isinstance(e, Broadcast)]
    by_step = {}
    for m in signed_before + after:
        key = (m.height, m.round, m.type if isinstance(m, Vote) else "proposal")
        by_step.setdefault(key, set()).add(m.sign_bytes(CHAIN))
    assert all(len(v) == 1 for v in by_step.values())
    assert {d[-1].value_id for d in net.decisions} and len({d[-1].value_id for d in net.decisions}) == 1


def test_lost_wal_tail_cannot_make_the_node_sign_a_conflict():
    """The WAL lost the proposal a node prevoted for (unsynced), but the last-sign store has
    the prevote: replay takes the timeout path to a nil prevote, which the signer refuses;
    the node sends the prevote it signed before instead of nothing (silence could stall
    the round), and never a conflicting one."""
    ks = keys(4)
    vs = valset(ks, [1, 1, 1, 1])
    me = next(i for i, k in enumerate(ks) if k.address != vs.proposer(1, 0).address)
    store = MemoryLastSignStore()
    d = Driver(CHAIN, None, Signer(ks[me], CHAIN, store))
    wal = [e.record for e in d.apply(StartHeight(1, vs)) if isinstance(e, WalAppend)]
    prop_key = next(k for k in ks if k.address == vs.proposer(1, 0).address)
    fx = d.apply(ProposalReceived(signed_proposal(prop_key, 1, 0, value("x")), True))
    prevote = next(e.message for e in fx if isinstance(e, Broadcast))
    assert prevote.value_id == value("x")
    # crash: only StartHeight survived. Replay, then the propose timeout fires.
    d2 = replay(wal, Driver(CHAIN, None, Signer(ks[me], CHAIN, store)))
    fx = d2.apply(TimeoutElapsed(Timeout(TimeoutKind.PROPOSE, 1, 0)))
    assert [e.message for e in fx if isinstance(e, Broadcast)] == [prevote]
    assert WalAppend(OwnVote(prevote), True) in fx
    assert d2.sign_refusals == 1 and d2.state.step == Step.PREVOTE


def test_a_precommit_signed_before_the_crash_restores_the_lock():
    ks = keys(4)
    vs = valset(ks, [1, 1, 1, 1])
    me = next(i for i, k in enumerate(ks) if k.address != vs.proposer(1, 0).address)
    store = MemoryLastSignStore()
    d = Driver(CHAIN, None, Signer(ks[me], CHAIN, store))
    wal = [e.record for e in d.apply(StartHeight(1, vs)) if isinstance(e, WalAppend)]
    prop_key = next(k for k in ks if k.address == vs.proposer(1, 0).address)
    x = value("x")
    d.apply(ProposalReceived(signed_proposal(prop_key, 1, 0, x), True))
    others = [k for i, k in enumerate(ks) if i != me]
    fx = []
    for k in others:
        fx += d.apply(VoteReceived(signed_vote(k, PV, 1, 0, x)))
    precommit = next(e.message for e in fx if isinstance(e, Broadcast) and e.message.type == PC)
    assert precommit.value_id == x and d.state.locked_value == x
    # power cut: the WAL kept only StartHeight. The replayed node times out twice and
    # wants to precommit nil; it sends its precommit for x and takes the lock back.
    d2 = replay(wal, Driver(CHAIN, None, Signer(ks[me], CHAIN, store)))
    d2.apply(TimeoutElapsed(Timeout(TimeoutKind.PROPOSE, 1, 0)))
    for k in others:
        d2.apply(VoteReceived(signed_vote(k, PV, 1, 0, None)))
    sent = [m for m in d2.own if m.type == PC]
    assert sent == [precommit]
    assert (d2.state.locked_value, d2.state.locked_round) == (x, 0)
