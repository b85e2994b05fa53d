"""Consensus messages and validator sets (docs/interfaces.md, section consensus/).

Everything signed or hashed is a msgpack ARRAY, so its bytes are canonical. Sign bytes
start with a domain tag and the chain id, so a signature can never be replayed as another
kind of message or on another chain. `decode` functions check every field's type and bound
and raise ValueError on anything malformed.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import IntEnum
from typing import Iterable, Iterator

import msgpack

from consensus.crypto import (
    ADDRESS_SIZE,
    PUBKEY_SIZE,
    SIGNATURE_SIZE,
    address_from_pubkey,
    verify_signature,
)

VALUE_ID_SIZE = 32
MAX_HEIGHT = 2**63 - 1
MAX_ROUND = 2**31 - 1
MAX_VALIDATORS = 10_000
# CometBFT's MaxTotalVotingPower: int64 max / 8, so priorities never overflow int64.
MAX_TOTAL_VOTING_POWER = (2**63 - 1) // 8
PRIORITY_WINDOW_SIZE_FACTOR = 2

DOMAIN_VOTE = "attrchain/vote/v1"
DOMAIN_PROPOSAL = "attrchain/proposal/v1"

_MAX_MESSAGE_BYTES = 1024
_MAX_SET_BYTES = MAX_VALIDATORS * 128 + 64
_MAX_COMMIT_BYTES = MAX_VALIDATORS * 96 + 128


class ConsensusError(Exception):
    """An error with a stable `code` and a message naming the reason."""

    code = "consensus_error"

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.reason = message


class InvalidCommit(ConsensusError):
    pass


class InvalidEvidence(ConsensusError):
    pass


# ---------------------------------------------------------------- field checks
def _int(x: object, name: str, lo: int, hi: int) -> int:
    if type(x) is not int or not lo <= x <= hi:
        raise ValueError(f"{name} must be an integer in [{lo}, {hi}]")
    return x


def _bytes(x: object, name: str, size: int) -> bytes:
    if type(x) is not bytes or len(x) != size:
        raise ValueError(f"{name} must be {size} bytes")
    return x


def _opt_value_id(x: object, name: str) -> bytes | None:
    if x is None:
        return None
    return _bytes(x, name, VALUE_ID_SIZE)


def _unpack(data: object, max_size: int, name: str) -> object:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ValueError(f"{name}: input must be bytes")
    if len(data) > max_size:
        raise ValueError(f"{name}: {len(data)} bytes exceeds {max_size}")
    try:
        return msgpack.unpackb(
            bytes(data), raw=False, strict_map_key=True,
            use_list=True,
        )
    except Exception as e:  # noqa: BLE001 -- any msgpack failure is malformed input
        raise ValueError(f"{name}: not valid msgpack ({type(e).__name__})") from None


def _array(obj: object, n: int, name: str) -> list:
    if type(obj) is not list or len(obj) != n:
        raise ValueError(f"{name}: expected an array of {n} fields")
    return obj


def _pack(obj: object) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)


# ---------------------------------------------------------------- votes
class VoteType(IntEnum):
    PREVOTE = 1
    PRECOMMIT = 2


@dataclass(frozen=True, slots=True)
class Vote:
    """A prevote or precommit for `value_id` (None = nil) at (height, round).

    `signature` is b"" on an unsigned vote (only inside the signer); decode requires one.
    """

    type: VoteType
    height: int
    round: int
    value_id: bytes | None
    validator: bytes
    signature: bytes = b""

    def sign_bytes(self, chain_id: str) -> bytes:
        return _pack([DOMAIN_VOTE, chain_id, int(self.type), self.height, self.round,
                      self.value_id, self.validator])

    def encode(self) -> bytes:
        return _pack([int(self.type), self.height, self.round, self.value_id,
                      self.validator, self.signature])

    @classmethod
    def decode(cls, data: bytes) -> "Vote":
        f = _array(_unpack(data, _MAX_MESSAGE_BYTES, "vote"), 6, "vote")
        t = _int(f[0], "vote type", 1, 2)
        return cls(
            VoteType(t),
            _int(f[1], "height", 1, MAX_HEIGHT),
            _int(f[2], "round", 0, MAX_ROUND),
            _opt_value_id(f[3], "value id"),
            _bytes(f[4], "validator", ADDRESS_SIZE),
            _bytes(f[5], "signature", SIGNATURE_SIZE),
        )

    def verify(self, chain_id: str, pub_key: bytes) -> bool:
        """True iff signed by `pub_key` and `validator` is that key's address."""
        try:
            if address_from_pubkey(pub_key) != self.validator:
                return False
        except ValueError:
            return False
        return verify_signature(pub_key, self.sign_bytes(chain_id), self.signature)


@dataclass(frozen=True, slots=True)
class Proposal:
    """A proposal of `value_id` at (height, round); pol_round is the paper's validRound
    (-1 or a round < `round` in which the proposer saw a polka for the value)."""

    height: int
    round: int
    value_id: bytes
    pol_round: int
    proposer: bytes
    signature: bytes = b""

    def sign_bytes(self, chain_id: str) -> bytes:
        return _pack([DOMAIN_PROPOSAL, chain_id, self.height, self.round, self.value_id,
                      self.pol_round, self.proposer])

    def encode(self) -> bytes:
        return _pack([self.height, self.round, self.value_id, self.pol_round,
                      self.proposer, self.signature])

    @classmethod
    def decode(cls, data: bytes) -> "Proposal":
        f = _array(_unpack(data, _MAX_MESSAGE_BYTES, "proposal"), 6, "proposal")
        rnd = _int(f[1], "round", 0, MAX_ROUND)
        return cls(
            _int(f[0], "height", 1, MAX_HEIGHT),
            rnd,
            _bytes(f[2], "value id", VALUE_ID_SIZE),
            _int(f[3], "pol round", -1, rnd - 1),
            _bytes(f[4], "proposer", ADDRESS_SIZE),
            _bytes(f[5], "signature", SIGNATURE_SIZE),
        )

    def verify(self, chain_id: str, pub_key: bytes) -> bool:
        try:
            if address_from_pubkey(pub_key) != self.proposer:
                return False
        except ValueError:
            return False
        return verify_signature(pub_key, self.sign_bytes(chain_id), self.signature)


# ---------------------------------------------------------------- validator set
@dataclass(frozen=True, slots=True)
class Validator:
    address: bytes
    pub_key: bytes
    voting_power: int

    def __post_init__(self) -> None:
        _bytes(self.address, "validator address", ADDRESS_SIZE)
        _bytes(self.pub_key, "validator pub key", PUBKEY_SIZE)
        _int(self.voting_power, "voting power", 1, MAX_TOTAL_VOTING_POWER)
        if address_from_pubkey(self.pub_key) != self.address:
            raise ValueError("validator address is not the address of its pub key")

    @classmethod
    def from_pub_key(cls, pub_key: bytes, voting_power: int) -> "Validator":
        return cls(address_from_pubkey(pub_key), pub_key, voting_power)


def _trunc_div(a: int, b: int) -> int:
    """Go's integer division (toward zero), as CometBFT uses for rescaling."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


class ValidatorSet:
    """Validators in canonical (address) order, with CometBFT proposer priorities.

    The priorities stored are the state at the start of the set's height; the proposer of
    (height, round) is found after round+1 increments (CometBFT's weighted round robin:
    every increment adds each validator's power to its priority, the highest priority
    proposes -- ties go to the lower address -- and pays the total power). `advance()`
    gives the set for the next height (one increment), as CometBFT does after each block.
    """

    __slots__ = ("validators", "priorities", "total_power", "_by_address", "_proposers", "_walk")

    def __init__(self, validators: Iterable[Validator], priorities: Iterable[int] | None = None):
        vals = sorted(validators, key=lambda v: v.address)
        if not vals:
            raise ValueError("a validator set needs at least one validator")
        if len(vals) > MAX_VALIDATORS:
            raise ValueError(f"at most {MAX_VALIDATORS} validators")
        for v in vals:
            if not isinstance(v, Validator):
                raise ValueError("validators must be Validator instances")
        by_address = {v.address: v for v in vals}
        if len(by_address) != len(vals):
            raise ValueError("duplicate validator address")
        total = sum(v.voting_power for v in vals)
        if total > MAX_TOTAL_VOTING_POWER:
            raise ValueError("total voting power too large")
        prios = [0] * len(vals) if priorities is None else list(priorities)
        if len(prios) != len(vals):
            raise ValueError("one priority per validator")
        bound = PRIORITY_WINDOW_SIZE_FACTOR * MAX_TOTAL_VOTING_POWER
        for p in prios:
            _int(p, "proposer priority", -bound, bound)
        self.validators: tuple[Validator, ...] = tuple(vals)
        self.priorities: tuple[int, ...] = tuple(prios)
        self.total_power: int = total
        self._by_address = by_address
        self._proposers: list[Validator] = []  # cache: proposer of round i
        self._walk: list[int] | None = None  # priorities after len(_proposers) increments

    # -- lookups
    def __len__(self) -> int:
        return len(self.validators)

    def __iter__(self) -> Iterator[Validator]:
        return iter(self.validators)

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, ValidatorSet) and self.validators == other.validators
                and self.priorities == other.priorities)

    def __hash__(self) -> int:
        return hash((self.validators, self.priorities))

    def __repr__(self) -> str:
        return f"ValidatorSet({len(self)} validators, power {self.total_power})"

    def get(self, address: bytes) -> Validator | None:
        return self._by_address.get(address)

    def power_of(self, address: bytes) -> int:
        v = self._by_address.get(address)
        return v.voting_power if v is not None else 0

    def hash(self) -> bytes:
        """sha256 of [[address, pub_key, power], ...]; priorities are not part of it,
        so the hash names the membership and powers only (as CometBFT's does)."""
        return hashlib.sha256(
            _pack([[v.address, v.pub_key, v.voting_power] for v in self.validators])
        ).digest()

    # -- quorum arithmetic (integers only)
    def is_quorum(self, power: int) -> bool:
        """More than 2/3 of the total voting power (the paper's 2f+1)."""
        return 3 * power > 2 * self.total_power

    # -- weighted round robin
    def _rescaled_centered(self) -> list[int]:
        prios = list(self.priorities)
        diff_max = PRIORITY_WINDOW_SIZE_FACTOR * self.total_power
        diff = max(prios) - min(prios)
        if diff > diff_max:
            ratio = (diff + diff_max - 1) // diff_max
            prios = [_trunc_div(p, ratio) for p in prios]
        avg = sum(prios) // len(prios)
        return [p - avg for p in prios]

    def _increment(self, prios: list[int]) -> int:
        """One CometBFT increment in place; returns the proposer's index."""
        vals = self.validators
        best = 0
        for i, v in enumerate(vals):
            prios[i] += v.voting_power
            if prios[i] > prios[best]:  # strict: ties keep the lower address
                best = i
        prios[best] -= self.total_power
        return best

    def proposer(self, height: int, round: int) -> Validator:
        """The proposer of `round` at this set's height (`height` is the set's own height,
        accepted for symmetry with the paper's proposer(h, r))."""
        if type(round) is not int or round < 0:
            raise ValueError("round must be a non-negative integer")
        cache = self._proposers
        if round >= len(cache):
            # Costs O(n) per round not yet reached, paid once (the walk goes on from
            # where it stopped). Callers bound `round` before asking: the driver by
            # max_round_lead, the node's gossip admission by the same window.
            if self._walk is None:
                self._walk = self._rescaled_centered()
            prios = self._walk
            while len(cache) <= round:
                cache.append(self.validators[self._increment(prios)])
        return cache[round]

    def advance(self, times: int = 1) -> "ValidatorSet":
        """The same validators with priorities after `times` increments: the set for the
        next height (times=1)."""
        prios = self._rescaled_centered()
        for _ in range(times):
            self._increment(prios)
        return ValidatorSet(self.validators, prios)

    def update(self, changes: Iterable[Validator | tuple[bytes, int]]) -> "ValidatorSet":
        """Apply validator changes (CometBFT semantics): a Validator adds or re-powers;
        (address, 0) removes. A new validator starts at priority -(P + P/8), P the total
        after the change, so it cannot propose at once; existing ones keep theirs."""
        current = {v.address: (v, p) for v, p in zip(self.validators, self.priorities)}
        removals: set[bytes] = set()
        updates: dict[bytes, Validator] = {}
        for c in changes:
            if isinstance(c, Validator):
                updates[c.address] = c
            else:
                addr, power = c
                if power != 0:
                    raise ValueError("a removal is (address, 0)")
                if addr not in current:
                    raise ValueError("removing an unknown validator")
                removals.add(addr)
        merged = {a: vp[0] for a, vp in current.items()}
        merged.update(updates)
        total_before_removals = sum(v.voting_power for v in merged.values())
        new_prio = -(total_before_removals + (total_before_removals >> 3))
        vals, prios = [], []
        for addr in sorted(merged):
            if addr in removals:
                continue
            vals.append(merged[addr])
            prios.append(current[addr][1] if addr in current else new_prio)
        bound = PRIORITY_WINDOW_SIZE_FACTOR * MAX_TOTAL_VOTING_POWER
        clipped = ValidatorSet(vals, [max(min(p, bound), -bound) for p in prios])
        return ValidatorSet(clipped.validators, clipped._rescaled_centered())

    # -- commits
    def verify_commit(self, chain_id: str, commit: "Commit", *,
                      verify_signatures: bool = True) -> None:
        """Raise InvalidCommit unless the commit holds valid precommits of distinct
        validators of this set for its value, with more than 2/3 of the total power."""
        if not isinstance(commit, Commit):
            raise InvalidCommit("bad_commit", "not a Commit")
        power = 0
        seen: set[bytes] = set()
        for cs in commit.signatures:
            v = self._by_address.get(cs.validator)
            if v is None:
                raise InvalidCommit("unknown_validator",
                                    f"{cs.validator.hex()} is not in the validator set")
            if cs.validator in seen:
                raise InvalidCommit("duplicate_signature", f"{cs.validator.hex()} signs twice")
            seen.add(cs.validator)
            if verify_signatures:
                vote = Vote(VoteType.PRECOMMIT, commit.height, commit.round, commit.value_id,
                            cs.validator)
                if not verify_signature(v.pub_key, vote.sign_bytes(chain_id), cs.signature):
                    raise InvalidCommit("bad_signature",
                                        f"invalid precommit signature of {cs.validator.hex()}")
            power += v.voting_power
        if not self.is_quorum(power):
            raise InvalidCommit("insufficient_power",
                                f"signed power {power} is not more than 2/3 of {self.total_power}")

    # -- encoding
    def encode(self) -> bytes:
        return _pack([[v.address, v.pub_key, v.voting_power, p]
                      for v, p in zip(self.validators, self.priorities)])

    @classmethod
    def decode(cls, data: bytes) -> "ValidatorSet":
        obj = _unpack(data, _MAX_SET_BYTES, "validator set")
        if type(obj) is not list or not 0 < len(obj) <= MAX_VALIDATORS:
            raise ValueError("validator set: expected a non-empty array")
        vals, prios = [], []
        bound = PRIORITY_WINDOW_SIZE_FACTOR * MAX_TOTAL_VOTING_POWER
        for item in obj:
            f = _array(item, 4, "validator")
            vals.append(Validator(_bytes(f[0], "address", ADDRESS_SIZE),
                                  _bytes(f[1], "pub key", PUBKEY_SIZE),
                                  _int(f[2], "voting power", 1, MAX_TOTAL_VOTING_POWER)))
            prios.append(_int(f[3], "priority", -bound, bound))
        if [v.address for v in vals] != sorted(v.address for v in vals):
            raise ValueError("validator set: not in canonical address order")
        return cls(vals, prios)


# ---------------------------------------------------------------- commits
@dataclass(frozen=True, slots=True)
class CommitSig:
    validator: bytes
    signature: bytes


@dataclass(frozen=True, slots=True)
class Commit:
    """Precommits for one value at (height, round), sorted by validator address.
    Verifiable on its own: `valset.verify_commit(chain_id, commit)`."""

    height: int
    round: int
    value_id: bytes
    signatures: tuple[CommitSig, ...]

    def encode(self) -> bytes:
        return _pack([self.height, self.round, self.value_id,
                      [[s.validator, s.signature] for s in self.signatures]])

    def hash(self) -> bytes:
        return hashlib.sha256(self.encode()).digest()

    @classmethod
    def decode(cls, data: bytes) -> "Commit":
        f = _array(_unpack(data, _MAX_COMMIT_BYTES, "commit"), 4, "commit")
        sigs_raw = f[3]
        if type(sigs_raw) is not list or not 0 < len(sigs_raw) <= MAX_VALIDATORS:
            raise ValueError("commit: signatures must be a non-empty array")
        sigs = []
        for item in sigs_raw:
            s = _array(item, 2, "commit signature")
            sigs.append(CommitSig(_bytes(s[0], "validator", ADDRESS_SIZE),
                                  _bytes(s[1], "signature", SIGNATURE_SIZE)))
        addrs = [s.validator for s in sigs]
        if any(a >= b for a, b in zip(addrs, addrs[1:])):
            raise ValueError("commit: signatures not strictly ordered by validator")
        return cls(_int(f[0], "height", 1, MAX_HEIGHT), _int(f[1], "round", 0, MAX_ROUND),
                   _bytes(f[2], "value id", VALUE_ID_SIZE), tuple(sigs))

    @classmethod
    def from_votes(cls, votes: Iterable[Vote]) -> "Commit":
        """Build a commit from signed precommits for one value (any order)."""
        vs = sorted(votes, key=lambda v: v.validator)
        if not vs:
            raise ValueError("a commit needs at least one precommit")
        h, r, vid = vs[0].height, vs[0].round, vs[0].value_id
        for v in vs:
            if (v.type != VoteType.PRECOMMIT or v.height != h or v.round != r
                    or v.value_id != vid or vid is None):
                raise ValueError("commit votes must be precommits for one value")
        return cls(h, r, vid, tuple(CommitSig(v.validator, v.signature) for v in vs))


# ---------------------------------------------------------------- evidence
@dataclass(frozen=True, slots=True)
class DuplicateVoteEvidence:
    """Two signed votes of one validator at one height, round and type for different
    values. Canonical order: vote_a's value id sorts first (nil as b"")."""

    vote_a: Vote
    vote_b: Vote

    @classmethod
    def of(cls, v1: Vote, v2: Vote) -> "DuplicateVoteEvidence":
        a, b = sorted((v1, v2), key=lambda v: v.value_id or b"")
        return cls(a, b)

    def encode(self) -> bytes:
        return _pack([self.vote_a.encode(), self.vote_b.encode()])

    def hash(self) -> bytes:
        return hashlib.sha256(self.encode()).digest()

    @classmethod
    def decode(cls, data: bytes) -> "DuplicateVoteEvidence":
        f = _array(_unpack(data, 2 * _MAX_MESSAGE_BYTES + 16, "evidence"), 2, "evidence")
        if type(f[0]) is not bytes or type(f[1]) is not bytes:
            raise ValueError("evidence: votes must be bytes")
        ev = cls(Vote.decode(f[0]), Vote.decode(f[1]))
        if (ev.vote_a.value_id or b"") >= (ev.vote_b.value_id or b""):
            raise ValueError("evidence: votes not in canonical order or equal values")
        return ev

    @property
    def height(self) -> int:
        return self.vote_a.height

    @property
    def validator(self) -> bytes:
        return self.vote_a.validator

    def verify(self, chain_id: str, pub_key: bytes) -> None:
        a, b = self.vote_a, self.vote_b
        try:
            addr = address_from_pubkey(pub_key)
        except ValueError:
            raise InvalidEvidence("bad_pub_key", "public key must be 32 bytes") from None
        if a.validator != addr or b.validator != addr:
            raise InvalidEvidence("wrong_validator", "votes are not from this key's validator")
        if (a.height, a.round, a.type) != (b.height, b.round, b.type):
            raise InvalidEvidence("different_step", "votes differ in height, round or type")
        if a.value_id == b.value_id:
            raise InvalidEvidence("same_value", "votes are for the same value")
        if not verify_signature(pub_key, a.sign_bytes(chain_id), a.signature):
            raise InvalidEvidence("bad_signature", "vote_a signature is invalid")
        if not verify_signature(pub_key, b.sign_bytes(chain_id), b.signature):
            raise InvalidEvidence("bad_signature", "vote_b signature is invalid")
