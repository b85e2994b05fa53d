"""The vote keeper (Malachite's core-votekeeper): tallies one height's votes by voting
power, per round and vote type, and reports each threshold the first time it is crossed.

Thresholds (paper notation, power-weighted: 2f+1 = more than 2/3 of the total power,
f+1 = more than 1/3):
  POLKA_ANY / PRECOMMIT_ANY   2f+1 prevotes / precommits for anything (lines 34, 47)
  POLKA_NIL                   2f+1 prevotes for nil (line 44)
  POLKA_VALUE / PRECOMMIT_VALUE  2f+1 for one value (lines 28, 36 / 49)
  SKIP                        f+1 of the power voted in a round (line 55)
A validator's second, different vote at the same round and type is kept as
DuplicateVoteEvidence; it counts toward its own value's tally (never toward "any" or SKIP,
where each validator counts once), see MAX_CONFLICTING_VALUES.
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
    REJECTED = 3    # not a validator of this height, or too many conflicting votes


# An equivocating validator's votes for other values are counted for those values (the
# paper counts messages per value: a correct process that received both of a faulty
# process's votes counts each toward its own value, which liveness needs when a POL
# contains an equivocator's vote). Bounded so a faulty validator cannot grow memory.
MAX_CONFLICTING_VALUES = 3


class RoundVotes:
    """Votes of one round. Index 0 = prevotes, 1 = precommits."""

    __slots__ = ("votes", "conflicting", "tally", "total", "voters_power", "voters", "crossed")

    def __init__(self) -> None:
        self.votes: tuple[dict[bytes, Vote], dict[bytes, Vote]] = ({}, {})
        # (validator, type index) -> value -> vote, for votes after a validator's first
        self.conflicting: dict[tuple[bytes, int], dict[bytes | None, Vote]] = {}
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
            return self._add_conflicting(rv, i, prev, vote, power)
        votes[vote.validator] = vote
        crossed = self._count(rv, i, vote.round, vote.value_id, power)
        # "any" tallies and f+1 voters count each validator once
        total = rv.total[i] + power
        rv.total[i] = total
        if 3 * total > 2 * self.total_power:
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

    def _count(self, rv: RoundVotes, i: int, round: int, value: bytes | None, power: int) -> bool:
        """Add power to one value's tally; True if that crossed 2f+1 for the first time."""
        tally = rv.tally[i]
        t = tally.get(value, 0) + power
        tally[value] = t
        if 3 * t <= 2 * self.total_power:
            return False
        if value is None:
            if i == 1:
                return False  # 2f+1 precommits for nil: only PRECOMMIT_ANY matters
            kind = Threshold.POLKA_NIL
        else:
            kind = Threshold.POLKA_VALUE if i == 0 else Threshold.PRECOMMIT_VALUE
        if (kind, value) in rv.crossed:
            return False
        rv.crossed.add((kind, value))
        if kind == Threshold.PRECOMMIT_VALUE:
            self.precommit_quorums.append((round, value))
        return True

    def _add_conflicting(self, rv: RoundVotes, i: int, first: Vote, vote: Vote,
                         power: int) -> AddResult:
        key = (vote.validator, vote.round, i)
        if key not in self._evidence_keys:  # equivocation: keep it as evidence, once
            self._evidence_keys.add(key)
            self.evidence.append(DuplicateVoteEvidence.of(first, vote))
        others = rv.conflicting.get((vote.validator, i))
        if others is None:
            others = rv.conflicting[(vote.validator, i)] = {}
        elif vote.value_id in others:
            return AddResult.DUPLICATE
        if len(others) >= MAX_CONFLICTING_VALUES:
            return AddResult.REJECTED
        others[vote.value_id] = vote
        crossed = self._count(rv, i, vote.round, vote.value_id, power)
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
        """One precommit for `value` per validator that sent one (for a Commit)."""
        rv = self.rounds.get(round)
        if rv is None:
            return []
        out = [v for v in rv.votes[1].values() if v.value_id == value]
        out += [others[value] for (_, i), others in rv.conflicting.items()
                if i == 1 and value in others]
        return out

    def votes_of(self, round: int) -> list[Vote]:
        """Every vote kept for `round`, conflicting ones included (gossip spreads them)."""
        rv = self.rounds.get(round)
        if rv is None:
            return []
        out = list(rv.votes[0].values()) + list(rv.votes[1].values())
        for others in rv.conflicting.values():
            out.extend(others.values())
        return out

    def all_votes(self) -> list[Vote]:
        """Every kept vote, in a canonical order (for snapshots)."""
        out: list[Vote] = []
        for r in sorted(self.rounds):
            rv = self.rounds[r]
            for i in (0, 1):
                out.extend(rv.votes[i][a] for a in sorted(rv.votes[i]))
            for key in sorted(rv.conflicting):
                others = rv.conflicting[key]
                out.extend(others[v] for v in sorted(others, key=lambda x: x or b""))
        return out
