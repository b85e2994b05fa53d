"""A tx is hashed once on its way into a node, where it was hashed 3 times (RPC) or 5 times
(gossip): sha256 of a ~200-byte tx is ~1 us on a loaded 2-core machine (docs/bench.md
"Hashed, decoded, verified"). The id a step passes on is always this node's own hash of
those bytes, never an id a peer sent."""
import trio
from nacl.signing import SigningKey

import node.rpc.rpc_backend as backend_module
import node.runtime.checker as checker_module
from node.keys import Keyring
from p2p.messages import TxBatch
from p2p.tx_gossip import TxGossip
from state.tx import sign_tx, tx_id

from test_admission import CHAIN, RecordingTransport, open_node

TOPIC = "/attrchain/adm-chain/txs/1"


class CountingId:
    def __init__(self):
        self.calls = 0

    def __call__(self, raw: bytes) -> bytes:
        self.calls += 1
        return tx_id(raw)


def transfers(own_dir, n):
    ring = Keyring(own_dir / "keyring")
    alice, bob = ring.get("alice"), ring.get("bob")
    return [sign_tx(SigningKey(alice.seed), CHAIN, i, 1000, "transfer", [bob.address, 5]) for i in range(n)]


def test_a_clients_tx_is_hashed_once_from_the_rpc_to_the_gossip_queue(own_dir, monkeypatch):
    node, _ = open_node(own_dir, RecordingTransport())
    try:
        ids = CountingId()
        monkeypatch.setattr(backend_module, "compute_tx_id", ids)
        monkeypatch.setattr(checker_module, "tx_id", ids)
        node.txs.gossip = TxGossip(node.transport, TOPIC, tx_id=ids)
        raw = transfers(own_dir, 1)[0]
        result = trio.run(node.rpc().broadcast_tx_sync, raw)
        assert result == {"hash": tx_id(raw).hex(), "code": 0, "log": ""}
        assert tx_id(raw) in node.mempool and node.txs.gossip._pending == [raw]
        assert ids.calls == 1
    finally:
        node.close()


def test_a_gossiped_tx_is_not_hashed_again_by_its_admission(own_dir, monkeypatch):
    node, _ = open_node(own_dir, RecordingTransport())
    try:
        ids = CountingId()
        monkeypatch.setattr(checker_module, "tx_id", ids)
        txs = transfers(own_dir, 3)
        g = TxGossip(node.transport, TOPIC, tx_id=ids, batched=True, check_tx=node.admission.check_tx,
                     precheck=node.mempool.checker.precheck)
        payload = TxBatch(tuple(txs)).encode()
        assert g.check_batch("peer", TxBatch.decode(payload, max_size=len(payload))) is None
        g.handle_batch("peer", payload)
        batch = g.received.receive_nowait()
        ids.calls = 0
        node.txs.admit_gossiped([rx.tx for rx in batch], [rx.tx_id for rx in batch])
        assert [tx_id(t) in node.mempool for t in txs] == [True] * 3
        assert ids.calls == 0
    finally:
        node.close()


def test_a_wrong_known_id_costs_a_decode_not_a_wrong_tx(own_dir):
    """The id is a hint between this node's own steps: were one wrong, the tx admitted is
    still the one whose bytes were given, under its own id."""
    node, _ = open_node(own_dir, RecordingTransport())
    try:
        first, second = transfers(own_dir, 2)
        node.txs.admit(first)
        p = node.txs.admit(second, known_id=tx_id(first))  # the id of another cached tx
        assert (p.tx_id, p.raw, p.nonce) == (tx_id(second), second, 1)
        assert tx_id(second) in node.mempool
    finally:
        node.close()
