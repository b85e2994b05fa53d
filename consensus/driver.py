"""The driver (Malachite's core-driver): turns the node's inputs into round state machine
inputs using the vote keeper and the proposals seen, and the machine's outputs into
effects for the node (signing through the Signer on the way).

    driver = Driver(chain_id, params, signer, wal=input_log)
    effects = driver.apply(StartHeight(h, valset))
    effects = driver.apply(VoteReceived(vote))      # etc., one input at a time

No I/O of its own: the executor (consensus/executor.py) runs the returned effects in
order. The WAL is written through one path, the `InputLog` port the node passed in, during
`apply`: each input the driver will act on goes to `wal.append` before any rule fires,
`wal.sync()` runs before the signer is asked to sign (the signer saves its record before
it returns), and each message signed is appended and synced before its `Broadcast` is
returned. So the input that led to a signature is durable before the signature is, and a
power cut can only take inputs that signed nothing (CometBFT: the WAL write precedes
handleMsg, and signVote calls wal.FlushAndSync() before the privval signs). It must be a
port called inside `apply`, not an effect run after it: the signature is made inside
`apply`, and an input logged only afterwards can be lost while the signature it caused
is kept (tests/consensus/consensus_helpers.py `LateInputLogDriver`, seed 1384).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Iterator

import msgpack

from consensus import state_machine as sm
from consensus.messages import (
    Broadcast, Decide, Effect, EvidenceFound, GetValue, Input, InputLog, OwnProposal, OwnVote,
    ProposalReceived, ScheduleTimeout, StartHeight, Timeout, TimeoutElapsed, ValueReady,
    VoteReceived,
)
from consensus.params import ConsensusParams, TimeoutKind
from consensus.signer import DoubleSignError, Signer, vote_step
from consensus.state_machine import RoundState, Step
from consensus.types import DOMAIN_VOTE, Commit, Proposal, ValidatorSet, Vote, VoteType
from consensus.votekeeper import AddResult, Threshold, VoteKeeper

_EMPTY: list[Effect] = []


class Driver:
    # Overridable in tests (the simulator's "teeth" break a rule through these).
    votekeeper_class = VoteKeeper

    def rules(self, state: RoundState, inp: sm.RoundInput) -> sm.Transition:
        return sm.apply(state, inp, self._is_proposer)

    def __init__(self, chain_id: str, params: ConsensusParams | None = None,
                 signer: Signer | None = None, *, address: bytes | None = None,
                 wal: InputLog | None = None):
        self.chain_id = chain_id
        self.params = params or ConsensusParams()
        self.signer = signer
        self.wal = wal  # None: inputs are not logged (replay, tests)
        self.address: bytes | None = signer.address if signer is not None else address
        self.height = 0
        self.valset: ValidatorSet | None = None
        self.state: RoundState | None = None
        self.keeper: VoteKeeper | None = None
        # round -> value id -> (proposal, valid); insertion order = arrival order
        self.proposals: dict[int, dict[bytes, tuple[Proposal, bool]]] = {}
        self.own: list[Proposal | Vote] = []   # messages this node signed at this height
        self.decision: Decide | None = None
        self.future: list[Input] = []          # inputs for height + 1, applied at StartHeight
        self.is_validator = False
        self.sign_refusals = 0
        self._fx: list[Effect] = []

    # ------------------------------------------------------------ the one entry point
    def apply(self, inp: Input) -> list[Effect]:
        """Apply one input; return the effects to run, in order."""
        self._fx = fx = []
        t = type(inp)
        if t is VoteReceived:
            self._on_vote(inp)
        elif t is ProposalReceived:
            self._on_proposal(inp)
        elif t is TimeoutElapsed:
            self._on_timeout(inp)
        elif t is ValueReady:
            self._on_value(inp)
        elif t is StartHeight:
            self._on_start_height(inp)
        else:
            raise TypeError(f"not a consensus input: {inp!r}")
        self._fx = _EMPTY
        return fx

    def final_commit(self) -> Commit | None:
        """The decision's Commit with every precommit for it received so far, late ones
        included (CometBFT builds the next block's LastCommit the same way, from what
        arrives during the commit timeout), so a live validator slower than the first
        2/3 is still credited for signing. None before a decision."""
        d = self.decision
        if d is None:
            return None
        return Commit.from_votes(self.keeper.precommits_for(d.round, d.value_id))

    # ------------------------------------------------------------ inputs
    def _on_vote(self, inp: VoteReceived) -> None:
        v = inp.vote
        if v.height != self.height:
            self._buffer(inp, v.height)
            return
        if v.round > self.state.round + self.params.max_round_lead:
            return
        k = self.keeper
        n_evidence = len(k.evidence)
        res = k.add(v)
        if res >= AddResult.DUPLICATE:
            return  # the same vote again, or not counted: changes nothing
        wal = self.wal
        if wal is not None:  # counted: logged before any rule can fire on it
            wal.append(inp)
        if len(k.evidence) != n_evidence:
            self._fx.append(EvidenceFound(k.evidence[-1]))
        if res == AddResult.CROSSED:
            self._advance()

    def _on_proposal(self, inp: ProposalReceived) -> None:
        p = inp.proposal
        if p.height != self.height:
            self._buffer(inp, p.height)
            return
        if not -1 <= p.pol_round < p.round or p.round > self.state.round + self.params.max_round_lead:
            return
        if p.proposer != self.valset.proposer(self.height, p.round).address:
            return  # only the round's proposer may propose (lines 22, 28, 36, 49)
        per_round = self.proposals.get(p.round)
        if per_round is None:
            per_round = self.proposals[p.round] = {}
        if p.value_id in per_round or len(per_round) >= self.params.max_proposals_per_round:
            return
        self._log(inp)
        per_round[p.value_id] = (p, bool(inp.valid))
        self._advance()

    def _on_timeout(self, inp: TimeoutElapsed) -> None:
        t = inp.timeout
        if t.height != self.height or t.kind == TimeoutKind.COMMIT or self.state is None:
            return  # COMMIT is the node's cue to start the next height
        self._log(inp)
        self._feed(sm.Timeout(t.kind, t.round))
        self._advance()

    def _on_value(self, inp: ValueReady) -> None:
        if inp.height != self.height or self.state is None or inp.round != self.state.round:
            return
        self._log(inp)
        self._feed(sm.ProposeValue(inp.round, inp.value_id))
        self._advance()

    def _on_start_height(self, inp: StartHeight) -> None:
        if inp.height <= self.height:
            raise ValueError(f"StartHeight({inp.height}) but already at height {self.height}")
        self._log(inp)
        self.height = inp.height
        self.valset = inp.validator_set
        self.is_validator = (self.address is not None and self.signer is not None
                             and inp.validator_set.get(self.address) is not None)
        self.state = RoundState(inp.height)
        self.keeper = self.votekeeper_class(inp.validator_set)
        self.proposals = {}
        self.own = []
        self.decision = None
        pending, self.future = self.future, []
        self._feed(sm.NewRound(0))  # line 10
        self._advance()
        for p in pending:  # inputs that arrived early; each is logged as it is applied
            if type(p) is VoteReceived:
                self._on_vote(p)
            else:
                self._on_proposal(p)

    def _log(self, inp: Input) -> None:
        if self.wal is not None:
            self.wal.append(inp)

    def _buffer(self, inp: Input, height: int) -> None:
        if height == self.height + 1 and len(self.future) < self.params.max_future_inputs:
            self.future.append(inp)

    # ------------------------------------------------------------ rules
    def _is_proposer(self, round: int) -> bool:
        return self.is_validator and self.valset.proposer(self.height, round).address == self.address

    def _candidates(self) -> Iterator[sm.RoundInput]:
        """Round inputs whose quorum/proposal condition holds now (the machine checks the
        step guards). Lines 49 and 55 look at any round; the rest at round_p."""
        s, k = self.state, self.keeper
        r, step = s.round, s.step
        if s.decision is None:
            for rr, v in k.precommit_quorums:  # line 49
                entry = self.proposals.get(rr, {}).get(v)
                if entry is not None and entry[1]:
                    yield sm.ProposalAndPrecommitValue(rr, v)
        if k.max_skip_round > r:  # line 55
            yield sm.SkipRound(k.max_skip_round)
        props = self.proposals.get(r)
        if step == Step.PROPOSE and props:
            for p, valid in list(props.values()):
                if p.pol_round == -1:  # line 22
                    yield sm.ProposalInput(r, p.value_id, valid)
                elif k.has(p.pol_round, Threshold.POLKA_VALUE, p.value_id):  # line 28
                    yield sm.ProposalAndPolkaPrevious(r, p.value_id, valid, p.pol_round)
        if step == Step.PREVOTE and not s.prevote_timeout_scheduled and k.has(r, Threshold.POLKA_ANY):
            yield sm.PolkaAny(r)  # line 34
        if step >= Step.PREVOTE and not s.polka_current_done and props:
            for v in k.polka_values(r):  # line 36
                entry = props.get(v)
                if entry is not None and entry[1]:
                    yield sm.ProposalAndPolkaCurrent(r, v)
        if step == Step.PREVOTE and k.has(r, Threshold.POLKA_NIL):
            yield sm.PolkaNil(r)  # line 44
        if not s.precommit_timeout_scheduled and k.has(r, Threshold.PRECOMMIT_ANY):
            yield sm.PrecommitAny(r)  # line 47

    def _advance(self) -> None:
        """Fire enabled rules until none changes the state (the paper's upon-rules run
        atomically, one at a time, in any order)."""
        changed = True
        while changed and self.state.step != Step.COMMIT:
            changed = False
            for inp in self._candidates():
                if self._feed(inp):
                    changed = True
                    break

    def _feed(self, inp: sm.RoundInput) -> bool:
        s0 = self.state
        s1, outs = self.rules(s0, inp)
        self.state = s1
        for o in outs:
            self._output(o)
        return s1 is not s0

    # ------------------------------------------------------------ outputs -> effects
    def _output(self, o: sm.RoundOutput) -> None:
        t = type(o)
        h = self.height
        if t is sm.VoteOut:
            if not self.is_validator:
                return
            signed = self._sign(Vote(o.type, h, o.round, o.value_id, self.address))
            if signed is not None:
                if (signed.value_id != o.value_id and signed.type == VoteType.PRECOMMIT
                        and signed.value_id is not None):
                    # we had precommitted this value before a crash (so we had locked
                    # it, line 38): take the lock back, or we could later contradict it
                    self.state = replace(self.state, locked_value=signed.value_id,
                                         locked_round=o.round)
                self._log_own(OwnVote(signed))
                self._fx.append(Broadcast(signed))
                self.own.append(signed)
                self.keeper.add(signed)  # our own vote counts too
        elif t is sm.TimeoutOut:
            self._fx.append(ScheduleTimeout(Timeout(o.kind, h, o.round),
                                            self.params.timeout_ms(o.kind, o.round)))
        elif t is sm.ProposeOut:
            if not self.is_validator:
                return
            signed = self._sign(Proposal(h, o.round, o.value_id, o.pol_round, self.address))
            if signed is not None:
                self._log_own(OwnProposal(signed))
                self._fx.append(Broadcast(signed))
                self.own.append(signed)
                self.proposals.setdefault(o.round, {})[o.value_id] = (signed, True)
        elif t is sm.GetValueOut:
            self._fx.append(GetValue(h, o.round))
        elif t is sm.DecideOut:
            commit = Commit.from_votes(self.keeper.precommits_for(o.round, o.value_id))
            self.decision = Decide(h, o.round, o.value_id, commit)
            self._fx.append(self.decision)
            self._fx.append(ScheduleTimeout(Timeout(TimeoutKind.COMMIT, h, o.round),
                                            self.params.commit_ms))
        else:
            raise TypeError(f"unknown output {o!r}")

    def _log_own(self, record: OwnVote | OwnProposal) -> None:
        """A message we signed is in the log, synced, before its Broadcast is returned
        (replay re-uses it rather than asking the signer again)."""
        if self.wal is not None:
            self.wal.append(record)
            self.wal.sync()

    def _sign(self, msg: Vote | Proposal) -> Vote | Proposal | None:
        if self.wal is not None:
            # every input that led here must outlive the signature the signer is about
            # to save: otherwise a power cut can leave a lock (line 38) without its POL
            self.wal.sync()
        try:
            if type(msg) is Vote:
                return self.signer.sign_vote(msg)
            return self.signer.sign_proposal(msg)
        except DoubleSignError:
            self.sign_refusals += 1  # never sign a conflict
            if type(msg) is Vote:
                return self._previous_vote(msg)
            return None

    def _previous_vote(self, want: Vote) -> Vote | None:
        """The vote the signer already signed at `want`'s position, if it kept it. A node
        whose WAL is behind its signer may want another vote there; staying silent
        instead could stall the round (no 2f+1 of anything), while sending the vote it
        signed before is what it would have sent had the crash not happened. (Since the
        WAL is synced before signing, a power cut alone no longer puts the WAL behind;
        a lost or damaged WAL file still can.)"""
        previous = getattr(self.signer, "previous", None)
        found = None if previous is None else previous(want.height, want.round,
                                                       vote_step(want.type))
        if found is None:
            return None
        sign_bytes, signature = found
        try:
            f = msgpack.unpackb(sign_bytes, raw=False)
            if (f[0], f[1], f[2], f[3], f[4], f[6]) != (
                    DOMAIN_VOTE, self.chain_id, int(want.type), want.height, want.round,
                    want.validator):
                return None
            return Vote(want.type, want.height, want.round, f[5], want.validator, signature)
        except Exception:  # noqa: BLE001 -- a record we cannot read: stay silent
            return None

    # ------------------------------------------------------------ for the node
    def restart_effects(self) -> list[Effect]:
        """After `replay`: what a restarted node must do again (resend its own messages,
        re-arm the timeouts of the current step, re-decide if it crashed mid-commit)."""
        s = self.state
        if s is None:
            return []
        fx: list[Effect] = [Broadcast(m) for m in self.own]
        h, r = self.height, s.round
        if s.step == Step.COMMIT:
            fx.append(self.decision)
            fx.append(ScheduleTimeout(Timeout(TimeoutKind.COMMIT, h, self.decision.round),
                                      self.params.commit_ms))
            return fx
        if s.step == Step.PROPOSE:
            fx.append(ScheduleTimeout(Timeout(TimeoutKind.PROPOSE, h, r),
                                      self.params.timeout_ms(TimeoutKind.PROPOSE, r)))
            if (self._is_proposer(r) and s.valid_value is None
                    and not any(type(m) is Proposal and m.round == r for m in self.own)):
                fx.append(GetValue(h, r))
        if s.step == Step.PREVOTE and s.prevote_timeout_scheduled:
            fx.append(ScheduleTimeout(Timeout(TimeoutKind.PREVOTE, h, r),
                                      self.params.timeout_ms(TimeoutKind.PREVOTE, r)))
        if s.precommit_timeout_scheduled:
            fx.append(ScheduleTimeout(Timeout(TimeoutKind.PRECOMMIT, h, r),
                                      self.params.timeout_ms(TimeoutKind.PRECOMMIT, r)))
        return fx

    def gossip_messages(self) -> list[Proposal | Vote]:
        """What to resend when no progress was made for a while. Tendermint's liveness
        needs every message a correct process received to reach every correct process
        (the paper's gossip assumption), so this is not only our own messages: the
        proposals and all votes of the current and previous round (a peer still in the
        previous round needs them to reach the line-47 quorum) and of the valid and
        locked rounds (the POL a re-proposal refers to, line 28)."""
        s = self.state
        if s is None:
            return []
        rounds = sorted({r for r in (s.round, s.round - 1, s.valid_round, s.locked_round)
                         if r >= 0})
        out: list[Proposal | Vote] = []
        for r in rounds:
            out.extend(self.messages_of_round(r))
        return out

    def pol_votes(self, proposal: Proposal) -> list[Vote]:
        """The prevotes that justify a proposal's pol_round (send them with it: a peer
        needs them for line 28, as CometBFT gossips the proposal's POL)."""
        if proposal.pol_round < 0 or self.keeper is None:
            return []
        return [v for v in self.keeper.votes_of(proposal.pol_round)
                if v.type == VoteType.PREVOTE and v.value_id == proposal.value_id]

    def messages_of_round(self, round: int) -> list[Proposal | Vote]:
        """The proposals and votes known for `round` at this height (to resend, or to
        answer a peer that is behind in rounds)."""
        out: list[Proposal | Vote] = [p for p, _ in self.proposals.get(round, {}).values()]
        if self.keeper is not None:
            out.extend(self.keeper.votes_of(round))
        return out

    def snapshot(self) -> tuple:
        """Everything replay must rebuild, in canonical form (the future-height buffer is
        not part of it: it is not logged, peers resend)."""
        k = self.keeper
        return (
            self.height,
            None if self.valset is None else self.valset.encode(),
            self.state,
            () if k is None else tuple(v.encode() for v in k.all_votes()),
            () if k is None else tuple(e.encode() for e in k.evidence),
            tuple((r, v, p.encode(), ok) for r in sorted(self.proposals)
                  for v, (p, ok) in sorted(self.proposals[r].items())),
            tuple(m.encode() for m in self.own),
            self.decision,
        )
