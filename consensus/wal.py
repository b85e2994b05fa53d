"""WAL records and a pure replay.

The driver hands every input that changes (or could change) its state to its `InputLog`
(`wal.append`) before acting on it, syncs that log before it asks the signer to sign, and
appends and syncs `OwnProposal|OwnVote` for every message it signed before it returns its
Broadcast. The node appends `encode_record(record)` to its log for each and truncates the
log once a height's block is durably committed (so a log holds one height, starting with
StartHeight). A power cut can therefore lose only inputs that led to no signature.

After a crash: `replay(decoded_records, fresh_driver)` re-applies the inputs from the last
StartHeight on. Whenever the driver wants to sign, the message signed before the crash is
taken from the OwnProposal/OwnVote records (so the driver never asks the signer to sign at
a position it has already passed); anything else goes to the real signer, which refuses
conflicts. The result is the state the driver had (`Driver.snapshot()` is equal), and
`driver.restart_effects()` re-arms timeouts and resends own messages.

Record format (msgpack array, first field a tag):
    [1, height, validator_set_bytes]           StartHeight
    [2, proposal_bytes, valid: bool]           ProposalReceived
    [3, vote_bytes]                            VoteReceived
    [4, timeout_kind, height, round]           TimeoutElapsed
    [5, height, round, value_id]               ValueReady
    [6, proposal_bytes]                        OwnProposal
    [7, vote_bytes]                            OwnVote
    [8, height, value_id, value_bytes]         ValueBytes (the node's block; replay skips it)
"""
from __future__ import annotations

from typing import Iterable

import msgpack

from consensus.driver import Driver
from consensus.messages import (
    OwnProposal, OwnVote, ProposalReceived, StartHeight, Timeout, TimeoutElapsed, ValueBytes,
    ValueReady, VoteReceived, WalRecord,
)
from consensus.params import TimeoutKind
from consensus.signer import STEP_PROPOSE, DoubleSignError, Signer, vote_step
from consensus.types import MAX_HEIGHT, MAX_ROUND, Proposal, ValidatorSet, Vote

MAX_RECORD_BYTES = 2 * 1024 * 1024
MAX_VALUE_BYTES = 64 * 1024 * 1024  # a ValueBytes record (a whole block) may be this large
_NOT_REPLAYED = (OwnVote, OwnProposal, ValueBytes)


def _pack(o: object) -> bytes:
    return msgpack.packb(o, use_bin_type=True)


def encode_record(rec: WalRecord) -> bytes:
    t = type(rec)
    if t is VoteReceived:
        return _pack([3, rec.vote.encode()])
    if t is ProposalReceived:
        return _pack([2, rec.proposal.encode(), bool(rec.valid)])
    if t is TimeoutElapsed:
        to = rec.timeout
        return _pack([4, int(to.kind), to.height, to.round])
    if t is ValueReady:
        return _pack([5, rec.height, rec.round, rec.value_id])
    if t is StartHeight:
        return _pack([1, rec.height, rec.validator_set.encode()])
    if t is OwnProposal:
        return _pack([6, rec.proposal.encode()])
    if t is OwnVote:
        return _pack([7, rec.vote.encode()])
    if t is ValueBytes:
        return _pack([8, rec.height, rec.value_id, rec.data])
    raise TypeError(f"not a WAL record: {rec!r}")


def _int(x: object, lo: int, hi: int) -> int:
    if type(x) is not int or not lo <= x <= hi:
        raise ValueError("WAL record: integer field out of range")
    return x


def _bin(x: object) -> bytes:
    if type(x) is not bytes:
        raise ValueError("WAL record: expected bytes")
    return x


def decode_record(data: bytes) -> WalRecord:
    """Decode one record; ValueError on anything malformed."""
    if not isinstance(data, (bytes, bytearray)) or len(data) > MAX_VALUE_BYTES + 64:
        raise ValueError("WAL record: not bytes or too large")

    try:
        f = msgpack.unpackb(bytes(data), raw=False, strict_map_key=True)
    except Exception as e:  # noqa: BLE001
        raise ValueError(f"WAL record: not msgpack ({type(e).__name__})") from None
    if type(f) is not list or not f or type(f[0]) is not int:
        raise ValueError("WAL record: expected a tagged array")
    tag, n = f[0], len(f)
    if tag != 8 and len(data) > MAX_RECORD_BYTES:  # only a ValueBytes record holds a block
        raise ValueError("WAL record: too large")
    if tag == 1 and n == 3:
        return StartHeight(_int(f[1], 1, MAX_HEIGHT), ValidatorSet.decode(_bin(f[2])))
    if tag == 2 and n == 3:
        if type(f[2]) is not bool:
            raise ValueError("WAL record: valid must be a bool")
        return ProposalReceived(Proposal.decode(_bin(f[1])), f[2])
    if tag == 3 and n == 2:
        return VoteReceived(Vote.decode(_bin(f[1])))
    if tag == 4 and n == 4:
        return TimeoutElapsed(Timeout(TimeoutKind(_int(f[1], 1, 4)), _int(f[2], 1, MAX_HEIGHT),
                                      _int(f[3], 0, MAX_ROUND)))
    if tag == 5 and n == 4:
        vid = _bin(f[3])
        if len(vid) != 32:
            raise ValueError("WAL record: value id must be 32 bytes")
        return ValueReady(_int(f[1], 1, MAX_HEIGHT), _int(f[2], 0, MAX_ROUND), vid)
    if tag == 6 and n == 2:
        return OwnProposal(Proposal.decode(_bin(f[1])))
    if tag == 7 and n == 2:
        return OwnVote(Vote.decode(_bin(f[1])))
    if tag == 8 and n == 4:
        vid, value = _bin(f[2]), _bin(f[3])
        if len(vid) != 32 or len(value) > MAX_VALUE_BYTES:
            raise ValueError("WAL record: value id must be 32 bytes, value at most MAX_VALUE_BYTES")
        return ValueBytes(_int(f[1], 1, MAX_HEIGHT), vid, value)
    raise ValueError(f"WAL record: unknown tag {tag} or wrong length {n}")


class MemoryWal:
    """An InputLog in memory that models a disk (tests, the simulator): `records` as
    written, of which the first `synced` survive a power cut."""

    def __init__(self) -> None:
        self.records: list[WalRecord] = []
        self.synced = 0

    def append(self, record: WalRecord) -> None:
        self.records.append(record)

    def sync(self) -> None:
        self.synced = len(self.records)

    def power_cut(self) -> None:
        """Lose the unsynced tail."""
        del self.records[self.synced:]

    def clear(self) -> None:
        """Truncate (the height's block is committed)."""
        self.records.clear()
        self.synced = 0


class ReplaySigner:
    """Answers the driver's signing requests during replay from the logged own messages,
    and otherwise from the real signer (which refuses anything conflicting)."""

    def __init__(self, real: Signer, own: dict[tuple[int, int, int], Proposal | Vote]):
        self.real = real
        self.own = own
        self.address = real.address
        self.chain_id = real.chain_id

    def previous(self, height: int, round: int, step: int) -> tuple[bytes, bytes] | None:
        return self.real.previous(height, round, step)

    def sign_vote(self, vote: Vote) -> Vote:
        logged = self.own.get((vote.height, vote.round, vote_step(vote.type)))
        if logged is None:
            return self.real.sign_vote(vote)
        if logged.sign_bytes(self.chain_id) != vote.sign_bytes(self.chain_id):
            raise DoubleSignError("conflict", "replay wants a vote other than the logged one")
        return logged

    def sign_proposal(self, p: Proposal) -> Proposal:
        logged = self.own.get((p.height, p.round, STEP_PROPOSE))
        if logged is None:
            return self.real.sign_proposal(p)
        if logged.sign_bytes(self.chain_id) != p.sign_bytes(self.chain_id):
            raise DoubleSignError("conflict", "replay wants a proposal other than the logged one")
        return logged


def replay(records: Iterable[WalRecord], driver: Driver) -> Driver:
    """Rebuild `driver` (freshly constructed, same chain id/params/signer as before the
    crash) from the WAL records; returns it. Effects produced on the way are dropped: they
    already ran before the crash (the node calls driver.restart_effects() next)."""
    recs = list(records)
    starts = [i for i, r in enumerate(recs) if type(r) is StartHeight]
    if not starts:
        return driver
    recs = recs[starts[-1]:]
    own: dict[tuple[int, int, int], Proposal | Vote] = {}
    for r in recs:
        if type(r) is OwnVote:
            own[(r.vote.height, r.vote.round, vote_step(r.vote.type))] = r.vote
        elif type(r) is OwnProposal:
            own[(r.proposal.height, r.proposal.round, STEP_PROPOSE)] = r.proposal
    real, log = driver.signer, driver.wal
    if real is not None:
        driver.signer = ReplaySigner(real, own)
    driver.wal = None  # the records are already in the log
    try:
        for r in recs:
            if type(r) not in _NOT_REPLAYED:
                driver.apply(r)
    finally:
        driver.signer, driver.wal = real, log
    return driver
