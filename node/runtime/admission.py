"""What a peer sends, vetted before it is relayed or reaches the consensus task.

The gossip checks run inside the transport's topic validator (p2p GossipCheck), so a
message refused here is never forwarded, and a blamed one penalises the peer that sent
it. Order, cheapest first: decode, the height window (our height + 1 and + 2; precommits
also for our height, which the commit timeout still gathers), the signature against the validator the message names (one
verification whatever the fields say), then the round window, then what costs more (the
proposer of a round: a walk that grows with the round). Signatures are also checked, and
blamed, for the two heights just committed (a peer's garbage cannot escape its penalty by
arriving a block late). A message we cannot judge (a height outside that range), one of a
committed height, or one we should not act on yet (a validly signed one of a round too
far ahead) is ignored: dropped, not relayed, nobody blamed. A bad signature is blamed
whatever its round, so a peer sending huge rounds with garbage signatures is banned.
"""
from __future__ import annotations

from typing import Any, Callable

from consensus.types import DuplicateVoteEvidence, InvalidEvidence, Proposal, Vote, VoteType
from node.runtime.chain import Chain
from node.runtime.consensus_api import ConsensusView
from node.runtime.mempool import TxRejected
from p2p.messages import CompactProposal, EvidenceMessage, VoteMessage
from p2p.transport import IGNORE, PeerId
from state.block import Header

Verdict = str | None  # None = accept; IGNORE; or a penalty reason
MAX_CHECKED_VOTES = 1024  # bounded: past it the memo is cleared and a vote verified again


class Admission:
    def __init__(self, chain: Chain, consensus: ConsensusView, catchup_wanted, round_lead: int,
                 verify_tx: Callable[[bytes], Any]):
        self.chain = chain
        self.consensus = consensus            # its round bounds the rounds we accept
        self.catchup_wanted = catchup_wanted  # set by a proposal from past our next height
        # the driver drops rounds further ahead than this; so do we, before any work
        self.round_lead = round_lead
        self.verify_tx = verify_tx            # the mempool checker's: raises TxRejected
        self._checked_votes: dict[bytes, Vote] = {}  # passed the gossip check, not yet received

    def max_round(self, height: int) -> int:
        """The highest round we accept at `height`: our round (0 at the next height) plus
        the driver's lead."""
        base = self.consensus.current_round if height == self.chain.height + 1 else 0
        return base + self.round_lead

    def height_in_window(self, height: int) -> bool:
        h = self.chain.height
        return h < height <= h + 2

    def height_judged(self, height: int) -> bool:
        """Heights whose signatures we still check (and blame) though we no longer act on
        them: the window plus the two heights just committed. A peer cannot dodge its
        penalty by sending garbage for a height that was committed while its message was
        in flight (a block a second: the attacker's own height read races the chain)."""
        h = self.chain.height
        return max(1, h - 1) <= height <= h + 2

    # -- votes
    def vote_verdict(self, raw: bytes) -> tuple[Vote | None, Verdict]:
        v, verdict = self._signed_vote(raw)
        return (v, verdict) if v is None else self._vote_in_window(v)

    def _signed_vote(self, raw: bytes) -> tuple[Vote | None, Verdict]:
        """Decode and verify: the vote, or None with IGNORE (a height we cannot judge) or a
        penalty reason."""
        try:
            v = Vote.decode(raw)
        except ValueError:
            return None, "malformed"
        vs = self.chain.validator_set(v.height) if self.height_judged(v.height) else None
        if vs is None:
            return None, IGNORE
        val = vs.get(v.validator)
        if val is None or not v.verify(self.chain.chain_id, val.pub_key):
            return None, "invalid"
        return v, None

    def _vote_in_window(self, v: Vote) -> tuple[Vote | None, Verdict]:
        # A precommit for the height we just committed still counts (the commit timeout
        # gathers them into our next last_commit) and must be relayed: a validator behind
        # a sentry is one hop late, and a sentry that dropped it would have it never counted.
        late_precommit = v.type == VoteType.PRECOMMIT and v.height == self.chain.height > 0
        if not (self.height_in_window(v.height) or late_precommit) or v.round > self.max_round(v.height):
            return None, IGNORE
        return v, None

    def check_vote(self, peer: PeerId, msg: VoteMessage) -> Verdict:
        """The gossip check. A vote it lets through is remembered (its exact bytes), so the
        receiver's re-check (`gossiped_vote_verdict`) does not decode and verify it again."""
        v, verdict = self.vote_verdict(msg.vote)
        if v is not None:
            if len(self._checked_votes) >= MAX_CHECKED_VOTES:
                self._checked_votes.clear()  # bounded: a forgotten vote is only verified again
            self._checked_votes[msg.vote] = v
        return verdict

    def gossiped_vote_verdict(self, raw: bytes) -> tuple[Vote | None, Verdict]:
        """The receiver's re-check of a gossiped vote: our height and round may have moved
        since the gossip check, its signature has not (the validator set of a height is fixed)."""
        v = self._checked_votes.pop(raw, None)
        return self.vote_verdict(raw) if v is None else self._vote_in_window(v)

    # -- proposals
    def proposal_verdict(self, cp: CompactProposal) -> tuple[tuple[Proposal, Header] | None, Verdict]:
        try:
            p = Proposal.decode(cp.proposal)
        except ValueError:
            return None, "malformed"
        if p.height > self.chain.height + 1:
            # peers propose past a height we have not committed: they decided it without us
            # (a restarted validator one or two heights behind would otherwise follow by the
            # idle poll only, never vote in time, and never catch up)
            self.catchup_wanted.set()
        vs = self.chain.validator_set(p.height) if self.height_judged(p.height) else None
        if vs is None:
            return None, IGNORE
        # The signature, with the key of the validator it names, before the round is
        # looked at and long before the round's proposer is computed.
        claimed = vs.get(p.proposer)
        if claimed is None or not p.verify(self.chain.chain_id, claimed.pub_key):
            return None, "invalid"
        if not self.height_in_window(p.height) or p.round > self.max_round(p.height):
            return None, IGNORE
        if vs.proposer(p.height, p.round).address != p.proposer:
            return None, "invalid"
        try:
            header = Header.decode(cp.header)
        except ValueError:
            return None, "malformed"
        if header.id() != p.value_id:
            return None, "invalid"
        return (p, header), None

    def check_proposal(self, peer: PeerId, cp: CompactProposal) -> Verdict:
        return self.proposal_verdict(cp)[1]

    # -- evidence
    def check_evidence(self, peer: PeerId, msg: EvidenceMessage) -> Verdict:
        try:
            ev = DuplicateVoteEvidence.decode(msg.evidence)
            vs = self.chain.validator_set(ev.height)
            val = vs.get(ev.validator) if vs else None
            if val is None:
                raise InvalidEvidence("unknown_validator", "not a validator at that height")
            ev.verify(self.chain.chain_id, val.pub_key)
        except (ValueError, InvalidEvidence):
            return "invalid"
        return None

    # -- transactions (TxGossip's check_tx: stateless, the signature verified once)
    def check_tx(self, raw: bytes) -> bool:
        try:
            self.verify_tx(raw)
        except TxRejected:
            return False
        return True
