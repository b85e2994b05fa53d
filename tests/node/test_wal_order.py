"""The node's WAL and last-sign file in the order consensus needs: every input the driver
acts on is in cs.wal, fsynced, before the signer saves a signature it led to."""
from __future__ import annotations

import hashlib

from consensus.crypto import Ed25519Key
from consensus.driver import Driver
from consensus.messages import Broadcast, OwnVote, ProposalReceived, StartHeight, VoteReceived
from consensus.signer import Signer
from consensus.types import Proposal, Validator, ValidatorSet, Vote, VoteType
from consensus.wal import decode_record, replay
from node.runtime import durable
from node.runtime.core import WalInputLog
from node.runtime.durable import FileLastSignStore, Wal, read_wal

CHAIN = "wal-order"


def _keys(n):
    return [Ed25519Key(hashlib.sha256(b"wal-order-%d" % i).digest()) for i in range(n)]


def _prevote(k, v):
    u = Vote(VoteType.PREVOTE, 1, 0, v, k.address)
    return Vote(u.type, 1, 0, v, k.address, k.sign(u.sign_bytes(CHAIN)))


class CheckingStore(FileLastSignStore):
    """Records, at each save, whether the WAL had unsynced records and what it held."""

    def __init__(self, path, wal: Wal):
        super().__init__(path)
        self.wal = wal
        self.seen: list[tuple[int, list]] = []

    def save(self, record):
        self.seen.append((self.wal.unsynced, [decode_record(r) for r in read_wal(self.wal.path)]))
        super().save(record)


def test_inputs_are_on_disk_and_synced_before_the_signer_saves(tmp_path, monkeypatch):
    fsyncs = []
    real_fsync = durable.os.fsync
    monkeypatch.setattr(durable.os, "fsync", lambda fd: (fsyncs.append(fd), real_fsync(fd)))
    ks = _keys(4)
    vs = ValidatorSet([Validator.from_pub_key(k.pub_key, 1) for k in ks])
    proposer = next(k for k in ks if k.address == vs.proposer(1, 0).address)
    me, a, b = [k for k in ks if k is not proposer]
    wal = Wal(tmp_path / "cs.wal")
    store = CheckingStore(tmp_path / "priv_validator_state.json", wal)
    d = Driver(CHAIN, None, Signer(me, CHAIN, store), wal=WalInputLog(wal))
    x = hashlib.sha256(b"x").digest()
    u = Proposal(1, 0, x, -1, proposer.address)
    prop = Proposal(1, 0, x, -1, proposer.address, proposer.sign(u.sign_bytes(CHAIN)))
    inputs = [StartHeight(1, vs), ProposalReceived(prop, True),
              VoteReceived(_prevote(a, x)), VoteReceived(_prevote(b, x))]
    for inp in inputs:
        for e in d.apply(inp):
            if isinstance(e, Broadcast):  # own messages: in the file and fsynced before it leaves
                assert OwnVote(e.message) in [decode_record(r) for r in read_wal(wal.path)]
                assert wal.unsynced == 0
    assert d.state.locked_value == x
    # a prevote (after the proposal) and a precommit (after the last prevote) were saved,
    # each with its cause already in the file and nothing unsynced
    assert [unsynced for unsynced, _ in store.seen] == [0, 0]
    assert store.seen[0][1] == inputs[:2]
    assert store.seen[1][1] == inputs[:2] + [OwnVote(d.own[0])] + inputs[2:]
    # a vote that changes nothing is written but not fsynced: fsync is paid per signature
    n = len(fsyncs)
    d.apply(VoteReceived(_prevote(proposer, None)))
    assert len(fsyncs) == n and wal.unsynced == 1
    wal.sync()
    wal.sync()
    assert len(fsyncs) == n + 1 and wal.unsynced == 0
    # the file rebuilds the driver exactly
    wal.close()
    fresh = replay([decode_record(r) for r in read_wal(tmp_path / "cs.wal")],
                   Driver(CHAIN, None, Signer(me, CHAIN, FileLastSignStore(store.path))))
    assert fresh.snapshot() == d.snapshot()



def test_a_block_is_logged_before_the_input_naming_it_and_synced_before_its_seen_commit(tmp_path):
    from consensus.messages import ValueBytes
    from state.block import Block, Header
    ks = _keys(4)
    vs = ValidatorSet([Validator.from_pub_key(k.pub_key, 1) for k in ks])
    proposer = next(k for k in ks if k.address == vs.proposer(1, 0).address)
    me = next(k for k in ks if k is not proposer)
    h32 = bytes(32)
    block = Block(Header(CHAIN, 1, 1, b"", h32, h32, h32, h32, h32, h32, proposer.address), [b"tx"] * 3)
    other = Block(Header(CHAIN, 1, 2, b"", h32, h32, h32, h32, h32, h32, proposer.address))
    blocks = {block.id(): block, other.id(): other}
    wal = Wal(tmp_path / "cs.wal")
    store = CheckingStore(tmp_path / "priv_validator_state.json", wal)
    log = WalInputLog(wal, blocks.get)
    d = Driver(CHAIN, None, Signer(me, CHAIN, store), wal=log)
    u = Proposal(1, 0, block.id(), -1, proposer.address)
    prop = Proposal(1, 0, block.id(), -1, proposer.address, proposer.sign(u.sign_bytes(CHAIN)))
    d.apply(StartHeight(1, vs))
    d.apply(ProposalReceived(prop, True))
    # the prevote was saved with the block in the file, before the proposal, all synced
    unsynced, on_disk = store.seen[0]
    assert unsynced == 0
    assert on_disk == [StartHeight(1, vs), ValueBytes(1, block.id(), block.encode()),
                       ProposalReceived(prop, True)]
    n = len(read_wal(wal.path))  # and the prevote itself after them (OwnVote)
    assert decode_record(read_wal(wal.path)[-1]) == OwnVote(d.own[0])
    log.make_durable(block.id())  # already synced: no new record, nothing to sync
    assert wal.unsynced == 0 and len(read_wal(wal.path)) == n
    # a block we signed nothing for is written and synced when we are about to commit it
    log.make_durable(other.id())
    assert wal.unsynced == 0 and decode_record(read_wal(wal.path)[-1]).value_id == other.id()
    # an invalid proposal's block is not logged
    bad = Proposal(1, 0, other.id(), -1, proposer.address)
    d.apply(ProposalReceived(Proposal(1, 0, other.id(), -1, proposer.address,
                                      proposer.sign(bad.sign_bytes(CHAIN))), False))
    assert sum(type(decode_record(r)) is ValueBytes for r in read_wal(wal.path)) == 2
