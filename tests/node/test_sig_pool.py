"""Signature checks of a batch spread over threads (node/runtime/sig_pool.py): the same verdicts,
in the same order, as inline; admission then finds them checked."""
from __future__ import annotations

from nacl.signing import SigningKey

import node.runtime.checker as checker_module
from node.keys import Keyring
from node.runtime.mempool import TxRejected
from node.runtime.sig_pool import MIN_PARALLEL, SignaturePool
from p2p.messages import TxBatch
from p2p.tx_gossip import TxGossip
from state.tx import tx_id
from state.tx import sign_tx

from test_admission import CHAIN, RecordingTransport, open_node


def batch_with_bad_ones(own_dir, n=40):
    """alice's nonces 0..n-1 (her keyring exists once the node's testnet is generated)."""
    ring = Keyring(own_dir / "keyring")
    alice, bob = ring.get("alice"), ring.get("bob")
    txs = [sign_tx(SigningKey(alice.seed), CHAIN, i, 1000, "transfer", [bob.address, 5]) for i in range(n)]
    txs[7] = txs[7][:-64] + bytes(64)       # bad signature
    txs[23] = b"\x93garbage"                # does not decode
    return txs


def test_the_pool_gives_the_inline_verdicts_in_order(own_dir):
    node, _ = open_node(own_dir, RecordingTransport())
    node.close()
    txs = batch_with_bad_ones(own_dir)
    inline, pooled = SignaturePool(1), SignaturePool(3)
    try:
        a = inline.check(txs, CHAIN, 64 * 1024, 0)
        b = pooled.check(txs, CHAIN, 64 * 1024, 0)
    finally:
        pooled.close()
    assert [None if s is None else s.id for s in a] == [None if s is None else s.id for s in b]
    assert [i for i, s in enumerate(b) if s is None] == [7, 23]
    assert [s.id for s in b if s is not None] == [tx_id(t) for i, t in enumerate(txs) if i not in (7, 23)]


async def test_an_rpc_batch_is_checked_over_threads_then_admitted_in_order(own_dir, monkeypatch):
    node, _ = open_node(own_dir, RecordingTransport())
    node.mempool.checker.signatures = SignaturePool(2)
    try:
        txs = batch_with_bad_ones(own_dir)[:MIN_PARALLEL + 4]
        await node.mempool.checker.precheck_async(txs)
        calls = []
        real = checker_module.verify_signature
        monkeypatch.setattr(checker_module, "verify_signature", lambda stx: calls.append(1) or real(stx))
        codes = []
        for raw in txs:
            try:
                node.txs.admit(raw)
                codes.append(0)
            except TxRejected as e:
                codes.append(e.code)
        assert calls == [1]  # only the bad signature is checked again, to say why
        assert codes[:7] == [0] * 7 and codes[7] == "bad_signature"
        assert codes[8:] == ["nonce_gap"] * (len(txs) - 8)  # nonce 7 was refused: the order held
    finally:
        node.close()


def test_a_gossip_batch_is_prechecked_whole_before_its_txs_one_by_one(own_dir):
    node, _ = open_node(own_dir, RecordingTransport())
    try:
        txs = batch_with_bad_ones(own_dir)[:5]
        seen_batches = []
        g = TxGossip(node.transport, "/attrchain/adm-chain/txs/1", tx_id=tx_id, check_tx=node.admission.check_tx,
                     precheck=lambda raws: seen_batches.append(list(raws)) or node.mempool.checker.precheck(raws))
        g.seen.add(tx_id(txs[0]))  # seen before: not checked again
        assert g.check_batch("p", TxBatch(tuple(txs))) is None
        assert seen_batches == [txs[1:]]
        assert all(tx_id(t) in node.mempool.checker.decoded for t in txs[1:])
    finally:
        node.close()
