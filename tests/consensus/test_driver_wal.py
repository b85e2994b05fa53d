"""The driver (inputs -> effects, in order) and WAL replay rebuilding the exact state."""
from __future__ import annotations

import random

import msgpack
import pytest

from consensus.driver import Driver
from consensus.messages import (
    Broadcast, Decide, EvidenceFound, GetValue, OwnProposal, OwnVote, ProposalReceived,
    ScheduleTimeout, StartHeight, Timeout, TimeoutElapsed, ValueBytes, ValueReady, VoteReceived,
)
from consensus.params import ConsensusParams, TimeoutKind
from consensus.signer import MemoryLastSignStore, Signer
from consensus.state_machine import Step
from consensus.types import Proposal, Vote, VoteType
from consensus.votekeeper import Threshold
from consensus.wal import MemoryWal, decode_record, encode_record, replay
from consensus_helpers import (
    CHAIN, LateInputLogDriver, Lockstep, keys, signed_proposal, signed_vote, value, valset,
)

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


def test_an_own_message_is_in_the_wal_and_synced_before_its_broadcast_is_returned():
    net = Lockstep([1, 1, 1, 1])
    net.start()
    net.drain()
    broadcasts = [e for fx in net.effects for e in fx if isinstance(e, Broadcast)]
    assert len(broadcasts) >= 4 * 2 + 1
    assert net.durable_at_broadcast == [True] * len(broadcasts)


class EventLog(MemoryWal):
    """An input log and a last-sign store writing to one timeline of events."""

    def __init__(self, events: list):
        super().__init__()
        self.events = events

    def append(self, record) -> None:
        super().append(record)
        self.events.append(("append", record))

    def sync(self) -> None:
        super().sync()
        self.events.append(("sync",))


class EventStore(MemoryLastSignStore):
    def __init__(self, events: list):
        super().__init__()
        self.events = events

    def save(self, record) -> None:
        super().save(record)
        self.events.append(("save", record["height"], record["round"], record["step"]))


def test_each_input_is_logged_before_it_acts_and_the_log_is_synced_before_each_signature():
    net = Lockstep([1, 1, 1, 1])
    events: list = []
    i = 1
    d = net.drivers[i] = Driver(CHAIN, None, Signer(net.keys[i], CHAIN, EventStore(events)),
                                wal=EventLog(events))
    net.wals[i] = d.wal
    fed = []
    net.start()
    while net.queue:
        j, inp = net.queue.pop(0)
        if j == i:
            fed.append(inp)
            events.append(("apply", inp))
        net.apply(j, inp)
    assert d.decision is not None
    saves = [k for k, e in enumerate(events) if e[0] == "save"]
    assert len(saves) >= 2  # a prevote and a precommit at least
    for k in saves:
        before = events[:k]
        last_apply = max(n for n, e in enumerate(before) if e[0] == "apply")
        # the input being applied is in the log, and the log was synced after it
        assert ("append", before[last_apply][1]) in before[last_apply:]
        assert before[-1] == ("sync",)  # so is everything appended before it
    # every logged input was fed, in order, before anything it caused was signed
    logged = [e[1] for e in events if e[0] == "append" and not isinstance(e[1], (OwnVote, OwnProposal))]
    assert logged == [r for r in d.wal.records if not isinstance(r, (OwnVote, OwnProposal))]
    assert logged[0] == StartHeight(1, net.vs) and set(map(id, logged[1:])) <= set(map(id, fed))


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
    n = len(net.wals[0].records)
    d.apply(StartHeight(2, net.vs.advance()))
    # logged when applied (inside StartHeight, after it)
    assert net.wals[0].records[n:] == [StartHeight(2, net.vs.advance()), VoteReceived(early)]
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
            OwnVote(signed_vote(ks[1], PV, 3, 4, value("q"))),
            ValueBytes(3, value("q"), b"block" * 1_000_000)]  # a block may exceed 2 MB
    for r in recs:
        assert decode_record(encode_record(r)) == r
    for bad in (b"", b"\x93\x09\x01\x02", b"\x92\x03\xc0", b"\x93\x02\xc4\x01x\x01",
                encode_record(ValueBytes(3, b"short", b"")),
                msgpack.packb([3, b"x" * (3 << 20)])):
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
        wal = [decode_record(encode_record(r)) for r in net.wals[i].records]  # as bytes
        fresh = Driver(CHAIN, None, Signer(net.keys[i], CHAIN, net.stores[i]))
        replay(wal, fresh)
        assert fresh.snapshot() == d.snapshot()
        checked += 1
    assert checked > 15


def test_restarted_node_continues_without_signing_anything_conflicting():
    net = Lockstep([1, 1, 1, 1])
    net.start()
    # run until node 2 has prevoted, then "crash" it and restart from its WAL
    while net.queue and not any(isinstance(r, OwnVote) for r in net.wals[2].records):
        j, inp = net.queue.pop(0)
        net.apply(j, inp)
    wal = list(net.wals[2].records)
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
    """The WAL lost the proposal a node prevoted for (the file was damaged: a power cut
    alone can no longer do this, the log is synced before signing), but the last-sign
    store has the prevote: replay takes the timeout path to a nil prevote, which the
    signer refuses; the node sends the prevote it signed before instead of nothing
    (silence could stall the round), and never a conflicting one."""
    ks = keys(4)
    vs = valset(ks, [1, 1, 1, 1])
    me = next(i for i, k in enumerate(ks) if k.address != vs.proposer(1, 0).address)
    store = MemoryLastSignStore()
    d = Driver(CHAIN, None, Signer(ks[me], CHAIN, store), wal=MemoryWal())
    d.apply(StartHeight(1, vs))
    wal = list(d.wal.records)
    prop_key = next(k for k in ks if k.address == vs.proposer(1, 0).address)
    fx = d.apply(ProposalReceived(signed_proposal(prop_key, 1, 0, value("x")), True))
    prevote = next(e.message for e in fx if isinstance(e, Broadcast))
    assert prevote.value_id == value("x")
    # only StartHeight survived. Replay, then the propose timeout fires.
    d2 = replay(wal, Driver(CHAIN, None, Signer(ks[me], CHAIN, store), wal=MemoryWal()))
    fx = d2.apply(TimeoutElapsed(Timeout(TimeoutKind.PROPOSE, 1, 0)))
    assert [e.message for e in fx if isinstance(e, Broadcast)] == [prevote]
    assert OwnVote(prevote) in d2.wal.records[:d2.wal.synced]  # logged, synced, before it is sent
    assert d2.sign_refusals == 1 and d2.state.step == Step.PREVOTE


def test_a_precommit_signed_before_the_crash_restores_the_lock():
    ks = keys(4)
    vs = valset(ks, [1, 1, 1, 1])
    me = next(i for i, k in enumerate(ks) if k.address != vs.proposer(1, 0).address)
    store = MemoryLastSignStore()
    d = Driver(CHAIN, None, Signer(ks[me], CHAIN, store), wal=MemoryWal())
    d.apply(StartHeight(1, vs))
    wal = list(d.wal.records)
    prop_key = next(k for k in ks if k.address == vs.proposer(1, 0).address)
    x = value("x")
    d.apply(ProposalReceived(signed_proposal(prop_key, 1, 0, x), True))
    others = [k for i, k in enumerate(ks) if i != me]
    fx = []
    for k in others:
        fx += d.apply(VoteReceived(signed_vote(k, PV, 1, 0, x)))
    precommit = next(e.message for e in fx if isinstance(e, Broadcast) and e.message.type == PC)
    assert precommit.value_id == x and d.state.locked_value == x
    # the WAL kept only StartHeight (damaged). The replayed node times out twice and
    # wants to precommit nil; it sends its precommit for x and takes the lock back.
    d2 = replay(wal, Driver(CHAIN, None, Signer(ks[me], CHAIN, store)))
    d2.apply(TimeoutElapsed(Timeout(TimeoutKind.PROPOSE, 1, 0)))
    for k in others:
        d2.apply(VoteReceived(signed_vote(k, PV, 1, 0, None)))
    sent = [m for m in d2.own if m.type == PC]
    assert sent == [precommit]
    assert (d2.state.locked_value, d2.state.locked_round) == (x, 0)


def _precommit_then_power_cut(driver_class):
    """A validator (one of 4 equal ones) prevotes the round-0 proposal x; the prevotes
    of two others complete the POL (line 36) and it precommits x and locks. The power
    fails right after the driver applied that last prevote: the signer has saved the
    precommit, none of the effects ran, the unsynced WAL tail is gone. Returns the driver
    before the cut, the one rebuilt from the WAL, and x."""
    ks = keys(4)
    vs = valset(ks, [1, 1, 1, 1])
    proposer = next(k for k in ks if k.address == vs.proposer(1, 0).address)
    me, a, b = [k for k in ks if k is not proposer]
    store, wal = MemoryLastSignStore(), MemoryWal()
    d = driver_class(CHAIN, None, Signer(me, CHAIN, store), wal=wal)
    x = value("x")
    for inp in (StartHeight(1, vs), ProposalReceived(signed_proposal(proposer, 1, 0, x), True),
                VoteReceived(signed_vote(a, PV, 1, 0, x))):
        d.apply(inp)
    assert d.state.locked_value is None
    d.apply(VoteReceived(signed_vote(b, PV, 1, 0, x)))  # completes the POL; effects lost
    wal.power_cut()
    precommit = d.own[-1]
    assert (precommit.type, precommit.value_id) == (PC, x) and d.state.locked_value == x
    assert store.record["sign_bytes"] == precommit.sign_bytes(CHAIN).hex()  # saved
    rebuilt = replay(list(wal.records), driver_class(CHAIN, None, Signer(me, CHAIN, store),
                                                     wal=MemoryWal()))
    return d, rebuilt, x


def test_power_cut_after_the_signer_saved_lost_the_pol_with_the_old_order():
    """The window the simulator found (seed 1384): with the input written as an effect
    after apply, the prevote that completed the POL is lost while the precommit it led to
    is saved. The restarted node holds a precommit for x but no POL for it; when it later
    must act on the lock (here: it takes the lock back on the way to a nil precommit) it
    is locked on x with nothing to justify x to anyone."""
    before, d, x = _precommit_then_power_cut(LateInputLogDriver)
    assert not d.keeper.has(0, Threshold.POLKA_VALUE, x) and d.state.locked_value is None
    assert d.snapshot() != before.snapshot()
    d.apply(TimeoutElapsed(Timeout(TimeoutKind.PREVOTE, 1, 0)))  # wants to precommit nil
    assert d.state.locked_value == x and not d.keeper.has(0, Threshold.POLKA_VALUE, x)


def test_power_cut_after_the_signer_saved_keeps_the_pol_with_the_fixed_order():
    """Same cut with inputs logged before they act and the log synced before signing:
    the WAL has every input up to the precommit, so replay rebuilds the state at the cut
    exactly (lock, POL, the precommit itself, re-signed to the same bytes), and the POL
    can be shown to anyone (a re-proposal of x carries these prevotes)."""
    before, d, x = _precommit_then_power_cut(Driver)
    assert d.snapshot() == before.snapshot()
    assert (d.state.locked_value, d.state.locked_round) == (x, 0)
    assert d.keeper.has(0, Threshold.POLKA_VALUE, x) and d.sign_refusals == 0
    pol = d.pol_votes(Proposal(1, 1, x, 0, d.address))
    assert len(pol) == 3 and {v.value_id for v in pol} == {x}
    fx = d.restart_effects()  # the precommit goes out again (it was never sent)
    assert [e.message.type for e in fx if isinstance(e, Broadcast)] == [PV, PC]


def test_final_commit_adds_precommits_that_arrive_after_the_decision():
    # a driver decides on the first 2/3 of precommits; the slowest validator's precommit
    # arrives during the commit timeout and must still reach the next block's LastCommit
    net = Lockstep([1, 1, 1, 1])
    assert all(d.final_commit() is None for d in net.drivers)
    net.start()
    net.drain()
    at_decision = [len(d.decision.commit.signatures) for d in net.drivers]
    assert min(at_decision) == 3  # someone decided before the last precommit arrived
    for d in net.drivers:
        final = d.final_commit()
        net.vs.verify_commit(CHAIN, final)
        assert (final.height, final.round, final.value_id) == (
            d.decision.height, d.decision.round, d.decision.value_id)
        assert len(final.signatures) == 4
