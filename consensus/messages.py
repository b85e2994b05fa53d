"""What the node feeds the driver (inputs: facts) and what the driver asks the node to do
(effects, returned in the order they must run). See docs/consensus.md."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Union

from consensus.params import TimeoutKind
from consensus.types import Commit, DuplicateVoteEvidence, Proposal, ValidatorSet, Vote


@dataclass(frozen=True, slots=True)
class Timeout:
    kind: TimeoutKind
    height: int
    round: int


# ---------------------------------------------------------------- inputs
@dataclass(frozen=True, slots=True)
class StartHeight:
    """Begin `height` with its validator set (after the previous block is committed)."""
    height: int
    validator_set: ValidatorSet


@dataclass(frozen=True, slots=True)
class ProposalReceived:
    """A proposal whose signature the node checked, with the node's verdict valid(v) on
    the value it names (the node has the full value, e.g. the block)."""
    proposal: Proposal
    valid: bool


@dataclass(frozen=True, slots=True)
class VoteReceived:
    """A vote whose signature the node checked against the height's validator set."""
    vote: Vote


@dataclass(frozen=True, slots=True)
class TimeoutElapsed:
    """A timeout the driver scheduled has fired."""
    timeout: Timeout


@dataclass(frozen=True, slots=True)
class ValueReady:
    """The answer to GetValue: the id of the value this node proposes."""
    height: int
    round: int
    value_id: bytes


Input = Union[StartHeight, ProposalReceived, VoteReceived, TimeoutElapsed, ValueReady]


# ---------------------------------------------------------------- WAL-only records
@dataclass(frozen=True, slots=True)
class OwnProposal:
    """A proposal this node signed (WAL record, synced before its Broadcast; replay
    re-uses it instead of re-signing)."""
    proposal: Proposal


@dataclass(frozen=True, slots=True)
class OwnVote:
    vote: Vote


@dataclass(frozen=True, slots=True)
class ValueBytes:
    """The node's bytes of the value `value_id` (its block), written by the node's InputLog
    just before the ValueReady or valid ProposalReceived that names it: the driver knows
    only ids, but after a crash the node must be able to finish a decided height, and to
    resend its own proposal, from its own disk. Replay ignores it."""
    height: int
    value_id: bytes
    data: bytes


WalRecord = Union[StartHeight, ProposalReceived, VoteReceived, TimeoutElapsed, ValueReady,
                  OwnProposal, OwnVote, ValueBytes]


class InputLog(Protocol):
    """The node's write-ahead log, as the driver sees it: the one path into it
    (CometBFT writes a received message to its WAL before handling it, and flushes and
    fsyncs the WAL before the privval signs). The driver calls `append(input)` for each
    input it will act on, before any rule fires, `sync()` before it asks the signer to
    sign (the signer's saved record then never names a message whose cause a power cut
    could erase), and `append(OwnVote|OwnProposal)` then `sync()` for each message it
    signed, before it returns that message's Broadcast."""

    def append(self, record: WalRecord) -> None:
        """Write the record (it need not be durable yet)."""

    def sync(self) -> None:
        """Make every record appended so far durable (flush + fsync)."""


# ---------------------------------------------------------------- effects
# (The WAL is not written by effects: inputs and own messages go through `InputLog`.)
@dataclass(frozen=True, slots=True)
class Broadcast:
    """Send a signed proposal or vote of this node to all peers."""
    message: Proposal | Vote


@dataclass(frozen=True, slots=True)
class ScheduleTimeout:
    """Feed TimeoutElapsed(timeout) after `duration_ms`."""
    timeout: Timeout
    duration_ms: int


@dataclass(frozen=True, slots=True)
class GetValue:
    """Build a value (block) for (height, round) and answer with ValueReady."""
    height: int
    round: int


@dataclass(frozen=True, slots=True)
class Decide:
    """The height is decided: commit the value with this Commit, then after
    params.commit_ms (the COMMIT timeout scheduled next) feed StartHeight(height + 1)."""
    height: int
    round: int
    value_id: bytes
    commit: Commit


@dataclass(frozen=True, slots=True)
class EvidenceFound:
    """A validator equivocated; include the evidence in a block / gossip it."""
    evidence: DuplicateVoteEvidence


Effect = Union[Broadcast, ScheduleTimeout, GetValue, Decide, EvidenceFound]
