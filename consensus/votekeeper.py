"""The vote keeper (Malachite's core-votekeeper): tallies one height's votes by voting
power, per round and vote type, and reports each threshold the first time it is crossed.

Thresholds (paper notation, power-weighted: 2f+1 = more than 2/3 of the total power,
f+1 = more than 1/3):
  POLKA_ANY / PRECOMMIT_ANY   2f+1 prevotes / precommits for anything (lines 34, 47)
  POLKA_NIL                   2f+1 prevotes for nil (line 44)
  POLKA_VALUE / PRECOMMIT_VALUE  2f+1 for one value (lines 28, 36 / 49)
  SKIP                        f+1 of the power voted in a round (line 55)
A validator's second, different vote at the same round and type is not counted; the pair
is kept as DuplicateVoteEvidence.
"""
from __future__ import annotations

from enum import IntEnum

from consensus.types import DuplicateVoteEvidence, ValidatorSet, Vote, VoteType


class Threshold(IntEnum):
    POLKA_ANY = 1
    POLKA_NIL = 2
    POLKA_VALUE = 3
    PRECOMMIT_ANY = 4
    PRECOMMIT_VALUE = 5
    SKIP = 6


class AddResult(IntEnum):
    ADDED = 0       # counted; crossed no new threshold
    CROSSED = 1     # counted; crossed at least one threshold for the first time
    DUPLICATE = 2   # the same vote again: nothing changes
    EQUIVOCATION = 3  # a conflicting second vote: not counted, evidence kept
    REJECTED = 4    # not a validator of this height


class RoundVotes:
    """Votes of one round. Index 0 = prevotes, 1 = precommits."""

    __slots__ = ("votes", "tally", "total", "voters_power", "voters", "crossed")

    def __init__(self) -> None:
        self.votes: tuple[dict[bytes, Vote], dict[bytes, Vote]] = ({}, {})
        self.tally: tuple[dict[bytes | None, int], dict[bytes | None, int]] = ({}, {})
        self.total = [0, 0]
        self.voters: set[bytes] = set()
        self.voters_power = 0
        self.crossed: set[tuple[Threshold, bytes | None]] = set()


class VoteKeeper:
    def __init__(self, valset: ValidatorSet):
        self.height_powers = {v.address: v.voting_power for v in valset}
        self.total_power = valset.total_power
        self.rounds: dict[int, RoundVotes] = {}
        self.evidence: list[DuplicateVoteEvidence] = []
        self._evidence_keys: set[tuple[bytes, int, int]] = set()
        # (round, value) pairs with 2f+1 precommits, in the order they were reached
        self.precommit_quorums: list[tuple[int, bytes]] = []
        self.max_skip_round = -1

    # -- the hot path: one call per received vote
    def add(self, vote: Vote) -> AddResult:
        power = self.height_powers.get(vote.validator)
        if power is None:
            return AddResult.REJECTED
        rv = self.rounds.get(vote.round)
        if rv is None:
            rv = self.rounds[vote.round] = RoundVotes()
        i = 0 if vote.type == VoteType.PREVOTE else 1
        votes = rv.votes[i]
        prev = votes.get(vote.validator)
        if prev is not None:
            if prev.value_id == vote.value_id:
                return AddResult.DUPLICATE
            key = (vote.validator, vote.round, i)
            if key not in self._evidence_keys:
                self._evidence_keys.add(key)
                self.evidence.append(DuplicateVoteEvidence.of(prev, vote))
            return AddResult.EQUIVOCATION
        votes[vote.validator] = vote
        value = vote.value_id
        tally = rv.tally[i]
        t = tally.get(value, 0) + power
        tally[value] = t
        total = rv.total[i] + power
        rv.total[i] = total
        crossed = False
        two_thirds = 2 * self.total_power
        if 3 * t > two_thirds:
            if value is None:
                kind = Threshold.POLKA_NIL if i == 0 else None
            else:
                kind = Threshold.POLKA_VALUE if i == 0 else Threshold.PRECOMMIT_VALUE
            if kind is not None and (kind, value) not in rv.crossed:
                rv.crossed.add((kind, value))
                crossed = True
                if kind == Threshold.PRECOMMIT_VALUE:
                    self.precommit_quorums.append((vote.round, value))
        if 3 * total > two_thirds:
            kind = Threshold.POLKA_ANY if i == 0 else Threshold.PRECOMMIT_ANY
            if (kind, None) not in rv.crossed:
                rv.crossed.add((kind, None))
                crossed = True
        if vote.validator not in rv.voters:
            rv.voters.add(vote.validator)
            rv.voters_power += power
            if 3 * rv.voters_power > self.total_power and (Threshold.SKIP, None) not in rv.crossed:
                rv.crossed.add((Threshold.SKIP, None))
                if vote.round > self.max_skip_round:
                    self.max_skip_round = vote.round
                crossed = True
        return AddResult.CROSSED if crossed else AddResult.ADDED

    # -- queries used by the driver's rule checks
    def has(self, round: int, kind: Threshold, value: bytes | None = None) -> bool:
        rv = self.rounds.get(round)
        return rv is not None and (kind, value) in rv.crossed

    def polka_values(self, round: int) -> list[bytes]:
        """Values with 2f+1 prevotes in `round` (at most one unless > 1/3 is faulty)."""
        rv = self.rounds.get(round)
        if rv is None:
            return []
        return sorted(v for k, v in rv.crossed if k == Threshold.POLKA_VALUE)

    def precommits_for(self, round: int, value: bytes) -> list[Vote]:
        rv = self.rounds.get(round)
        if rv is None:
            return []
        return [v for v in rv.votes[1].values() if v.value_id == value]

    def all_votes(self) -> list[Vote]:
        """Every counted vote, in a canonical order (for snapshots and gossip)."""
        out: list[Vote] = []
        for r in sorted(self.rounds):
            rv = self.rounds[r]
            for i in (0, 1):
                out.extend(rv.votes[i][a] for a in sorted(rv.votes[i]))
        return out
