"""Shared helpers for the consensus tests: deterministic keys, sets and a lockstep network."""
from __future__ import annotations

import hashlib

from consensus.crypto import Ed25519Key
from consensus.driver import Driver
from consensus.messages import (
    Broadcast, Decide, GetValue, OwnProposal, OwnVote, ProposalReceived, StartHeight, ValueReady,
    VoteReceived,
)
from consensus.params import ConsensusParams
from consensus.signer import MemoryLastSignStore, Signer
from consensus.types import Proposal, Validator, ValidatorSet, Vote, VoteType
from consensus.wal import MemoryWal

CHAIN = "test-chain"


def keys(n: int) -> list[Ed25519Key]:
    return [Ed25519Key(hashlib.sha256(b"test-key-%d" % i).digest()) for i in range(n)]


def valset(ks: list[Ed25519Key], powers: list[int]) -> ValidatorSet:
    return ValidatorSet([Validator.from_pub_key(k.pub_key, p) for k, p in zip(ks, powers)])


def value(tag: str) -> bytes:
    return hashlib.sha256(tag.encode()).digest()


def signed_vote(k: Ed25519Key, t: VoteType, h: int, r: int, v: bytes | None,
                chain: str = CHAIN) -> Vote:
    u = Vote(t, h, r, v, k.address)
    return Vote(t, h, r, v, k.address, k.sign(u.sign_bytes(chain)))


def signed_proposal(k: Ed25519Key, h: int, r: int, v: bytes, pol: int = -1,
                    chain: str = CHAIN) -> Proposal:
    u = Proposal(h, r, v, pol, k.address)
    return Proposal(h, r, v, pol, k.address, k.sign(u.sign_bytes(chain)))


class Lockstep:
    """n drivers on a perfect FIFO network: every broadcast reaches everyone in order."""

    def __init__(self, powers: list[int], params: ConsensusParams | None = None):
        self.keys = keys(len(powers))
        self.vs = valset(self.keys, powers)
        self.stores = [MemoryLastSignStore() for _ in powers]
        self.wals = [MemoryWal() for _ in powers]
        self.drivers = [Driver(CHAIN, params, Signer(k, CHAIN, s), wal=w)
                        for k, s, w in zip(self.keys, self.stores, self.wals)]
        self.queue: list[tuple[int, object]] = []
        self.effects: list[list] = [[] for _ in powers]
        self.decisions: list[list[Decide]] = [[] for _ in powers]
        # per Broadcast: was the message in its sender's WAL, synced, when apply returned it?
        self.durable_at_broadcast: list[bool] = []

    def apply(self, i: int, inp) -> list:
        fx = self.drivers[i].apply(inp)
        self.effects[i].extend(fx)
        wal = self.wals[i]
        for e in fx:
            if isinstance(e, Broadcast):
                m = e.message
                own = OwnProposal(m) if isinstance(m, Proposal) else OwnVote(m)
                self.durable_at_broadcast.append(own in wal.records[:wal.synced])
                for j in range(len(self.drivers)):
                    if j != i:
                        self.queue.append((j, ProposalReceived(m, True) if isinstance(m, Proposal)
                                           else VoteReceived(m)))
            elif isinstance(e, GetValue):
                self.queue.append((i, ValueReady(e.height, e.round, value(f"h{e.height}r{e.round}"))))
            elif isinstance(e, Decide):
                self.decisions[i].append(e)
        return fx

    def start(self, h: int = 1) -> None:
        for i in range(len(self.drivers)):
            self.apply(i, StartHeight(h, self.vs))

    def drain(self, limit: int = 100_000) -> None:
        while self.queue and limit:
            limit -= 1
            j, inp = self.queue.pop(0)
            self.apply(j, inp)


class _LateLog:
    """The node's WAL as it was when inputs and own messages reached it as effects run
    after `apply` returned: what the driver logs during one `apply` is written only when
    the next `apply` starts (a power cut in between loses it, though the signer already
    saved), nothing syncs before signing, and an own message's record syncs what came
    before it (its old `WalAppend(sync=True)`)."""

    def __init__(self, real):
        self.real = real
        self.pending: list = []

    def append(self, record) -> None:
        self.pending.append(record)

    def sync(self) -> None:
        pass

    def flush(self) -> None:
        pending, self.pending = self.pending, []
        for r in pending:
            self.real.append(r)
            if isinstance(r, (OwnVote, OwnProposal)):
                self.real.sync()


class LateInputLogDriver(Driver):
    """The order before the fix (the teeth of the WAL ordering): each input reached the
    WAL after `apply` returned, while the signer had already saved its record during
    `apply`, and nothing synced the WAL before signing."""

    def __init__(self, *args, wal=None, **kw):
        super().__init__(*args, wal=None if wal is None else _LateLog(wal), **kw)

    def apply(self, inp):
        if self.wal is not None:  # detached during replay
            self.wal.flush()
        return super().apply(inp)
