"""A sender's txs reach a node out of nonce order over gossip (batches relayed over
several peers, or a peer queue that overflowed): n+1 waits for n instead of being refused
and lost (the `nonce_gap` refusals and stalled proposals of the 7-validator bench)."""
from __future__ import annotations

import hashlib

import pytest
from nacl.signing import SigningKey

from node.keys import Keyring
from node.runtime.mempool import Mempool, PendingTx, TxRejected
from node.runtime.proposal_assembly import ProposalAssembly
from state.tx import sign_tx, tx_id

from test_admission import CHAIN, RecordingTransport, open_node


def test_gossiped_txs_out_of_nonce_order_are_all_admitted(own_dir):
    node, _ = open_node(own_dir, RecordingTransport())
    try:
        ring = Keyring(own_dir / "keyring")
        alice, bob = ring.get("alice"), ring.get("bob")
        txs = [sign_tx(SigningKey(alice.seed), CHAIN, n, 1000, "transfer", [bob.address, 5]) for n in range(4)]
        node.txs.admit_gossiped([txs[2]])        # a relayed batch overtook the one with nonces 0-1
        node.txs.admit_gossiped([txs[3], txs[1]])
        assert len(node.mempool) == 0
        assert node.find_tx(tx_id(txs[3])) == txs[3]  # a proposal naming it needs no fetch
        node.txs.admit_gossiped([txs[0]])
        assert [p.nonce for p in node.mempool.reap(100, 1 << 20)] == [0, 1, 2, 3]
        assert node.mempool.rejected == {}
        # a client's own gap is still refused (it must post in nonce order)
        with pytest.raises(TxRejected) as e:
            node.txs.admit(sign_tx(SigningKey(alice.seed), CHAIN, 6, 1000, "transfer", [bob.address, 5]))
        assert e.value.code == "nonce_gap"
    finally:
        node.close()


class Checker:
    """txs are b'sender:nonce'; committed nonces set by the test."""

    def __init__(self):
        self.nonces: dict[bytes, int] = {}

    def verify(self, raw, known_id=None):
        s, n = raw.split(b":")
        return PendingTx(hashlib.sha256(raw).digest(), raw, s, int(n), 10)

    def account_nonce(self, sender):
        return self.nonces.get(sender, 0)

    def check_state(self, tx):
        pass

    def recheck(self, tx):
        pass


def test_waiting_txs_are_bounded_and_leave_when_stale():
    c = Checker()
    mp = Mempool(c, max_txs=100, max_bytes=10_000, max_tx_bytes=100, max_waiting=3, max_wait_ahead=4)
    with pytest.raises(TxRejected) as e:
        mp.add(b"a:5", wait=True)       # more than 4 ahead of nonce 0: refused
    assert e.value.code == "nonce_gap" and not mp.waiting
    for raw in (b"a:2", b"b:1", b"c:1", b"d:1"):        # the 4th pushes out the oldest
        assert mp.add(raw, wait=True) is None
    assert sorted(p.raw for p in mp.waiting.values()) == [b"b:1", b"c:1", b"d:1"]
    mp.add(b"a:0", wait=True)
    mp.add(b"a:1", wait=True)
    assert len(mp) == 2                                # a:2 was pushed out: it waits no more
    c.nonces[b"b"] = 2                                 # b:1 was committed in a block from elsewhere
    c.nonces[b"c"] = 1                                 # c:0 was: c:1 is next
    mp.update([])
    assert sorted(p.raw for p in mp.waiting.values()) == [b"d:1"]
    assert [p.raw for p in mp.reap(10, 10_000) if p.sender == b"c"] == [b"c:1"]


class PeersWithTxs(RecordingTransport):
    """Peers that each hold some txs (answers to txs-by-id)."""

    def __init__(self, holdings: dict[str, list[bytes]]):
        super().__init__()
        self.holdings = holdings
        self.asked: list[str] = []

    def peers(self):
        return list(self.holdings)

    async def request(self, peer, protocol, payload, timeout=5.0):
        from p2p.messages import TxsRequest, TxsResponse
        self.asked.append(peer)
        wanted = set(TxsRequest.decode(payload, max_size=len(payload)).tx_ids)
        return TxsResponse(tuple(t for t in self.holdings[peer] if tx_id(t) in wanted)).encode()


async def test_a_proposal_relayed_by_a_peer_without_its_txs_is_filled_from_other_peers(own_dir):
    node, _ = open_node(own_dir, RecordingTransport())
    ring = Keyring(own_dir / "keyring")
    alice, bob = ring.get("alice"), ring.get("bob")
    txs = [sign_tx(SigningKey(alice.seed), CHAIN, n, 1000, "transfer", [bob.address, 5]) for n in range(3)]
    peers = PeersWithTxs({"relay": txs[:1], "proposer": txs, "other": []})
    assembly = ProposalAssembly(peers, node.topics, node.admission, node.find_tx, node.metrics, node.consensus.inputs.send)
    try:
        node.txs.admit_gossiped(txs[:1])
        got = await assembly._assemble_txs("relay", [tx_id(t) for t in txs])
        assert got == txs
        assert peers.asked[0] == "relay" and "proposer" in peers.asked
    finally:
        node.close()
