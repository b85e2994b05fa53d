"""Consensus parameters: every duration the core asks for comes from here (milliseconds)."""
from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class TimeoutKind(IntEnum):
    PROPOSE = 1    # paper line 21 / 57
    PREVOTE = 2    # paper line 35 / 61
    PRECOMMIT = 3  # paper line 48 / 65
    COMMIT = 4     # CometBFT's timeout_commit: wait after a decision before the next height


@dataclass(frozen=True, slots=True)
class ConsensusParams:
    """Timeouts grow linearly with the round (paper: timeoutX(r) = base + r * delta), so
    after GST some round's timeouts exceed the message delay and a round can succeed."""

    propose_ms: int = 3000
    propose_delta_ms: int = 500
    prevote_ms: int = 1000
    prevote_delta_ms: int = 500
    precommit_ms: int = 1000
    precommit_delta_ms: int = 500
    commit_ms: int = 1000
    # Votes and proposals for rounds further ahead than this are dropped (memory bound
    # against a faulty validator flooding far rounds; honest rounds stay close).
    max_round_lead: int = 100
    # Inputs for height+1 kept while this height finishes (applied at StartHeight).
    max_future_inputs: int = 10_000
    # Distinct proposals kept per round (an equivocating proposer cannot flood memory).
    max_proposals_per_round: int = 4

    def __post_init__(self) -> None:
        for name in ("propose_ms", "propose_delta_ms", "prevote_ms", "prevote_delta_ms",
                     "precommit_ms", "precommit_delta_ms", "commit_ms", "max_round_lead",
                     "max_future_inputs", "max_proposals_per_round"):
            v = getattr(self, name)
            if type(v) is not int or v < 0:
                raise ValueError(f"{name} must be a non-negative integer")

    def timeout_ms(self, kind: TimeoutKind, round: int) -> int:
        if kind == TimeoutKind.PROPOSE:
            return self.propose_ms + round * self.propose_delta_ms
        if kind == TimeoutKind.PREVOTE:
            return self.prevote_ms + round * self.prevote_delta_ms
        if kind == TimeoutKind.PRECOMMIT:
            return self.precommit_ms + round * self.precommit_delta_ms
        return self.commit_ms
