"""Blocks and headers: encoding, and every reason a block is refused as a whole."""
from __future__ import annotations

import dataclasses

import pytest

from ledger_helpers import ALICE, BOB, addr, apply_ok
from consensus.types import Commit
from state.block import Block, Header, compute_data_hash
from state.errors import BlockError
from state.simple_merkle import merkle_proof, verify_merkle_proof
from state.tx import tx_id


def with_header(block: Block, **changes) -> Block:
    return dataclasses.replace(block, header=dataclasses.replace(block.header, **changes))


def test_block_encode_decode_round_trip(chain):
    apply_ok(chain)
    block = chain.make_block([chain.tx(ALICE, "transfer", addr(BOB), 5)])
    again = Block.decode(block.encode())
    assert again == block and again.id() == block.id()
    assert Header.decode(block.header.encode()) == block.header


def test_block_tx_inclusion_provable_against_header(chain):
    txs = [chain.tx(ALICE, "transfer", addr(BOB), i + 1) for i in range(5)]
    block = chain.make_block(txs)
    ids = [tx_id(t) for t in txs]
    for i in range(5):
        assert verify_merkle_proof(block.header.data_hash, ids[i], i, 5, merkle_proof(ids, i))
    assert not verify_merkle_proof(block.header.data_hash, ids[0], 1, 5, merkle_proof(ids, 1))


@pytest.mark.parametrize("data", [b"", b"\x01", b"\x94\x01\x02\x03\x04"])
def test_invalid_block_encoding(data):
    with pytest.raises(ValueError):
        Block.decode(data)


def refused(chain, block, reason):
    h, app = chain.ledger.height, chain.ledger.app_hash
    with pytest.raises(BlockError) as e:
        chain.ledger.execute_block(block)
    assert e.value.reason == reason
    assert (chain.ledger.height, chain.ledger.app_hash) == (h, app)


@pytest.mark.parametrize("field,value,reason", [
    ("chain_id", "other", "wrong_chain"),
    ("height", 7, "wrong_height"),
    ("app_hash", b"\x00" * 32, "wrong_app_hash"),
    ("last_block_id", b"\x00" * 32, "wrong_last_block_id"),
    ("validators_hash", b"\x00" * 32, "wrong_validators_hash"),
    ("next_validators_hash", b"\x00" * 32, "wrong_next_validators_hash"),
    ("proposer", b"\x00" * 20, "unknown_proposer"),
    ("data_hash", b"\x00" * 32, "wrong_data_hash"),
    ("evidence_hash", b"\x00" * 32, "wrong_evidence_hash"),
    ("last_commit_hash", b"\x00" * 32, "wrong_last_commit_hash"),
])
def test_invalid_header_field(chain, field, value, reason):
    apply_ok(chain)
    refused(chain, with_header(chain.make_block([]), **{field: value}), reason)


def test_invalid_time_not_increasing(chain):
    apply_ok(chain)
    _, last_time, _ = chain.ledger.last_block()
    refused(chain, chain.make_block([], time_ms=last_time), "time_not_increasing")


def test_invalid_missing_last_commit(chain):
    apply_ok(chain)
    b = chain.make_block([])
    from state.block import compute_last_commit_hash
    refused(chain, dataclasses.replace(b, last_commit=None, header=dataclasses.replace(
        b.header, last_commit_hash=compute_last_commit_hash(None))), "missing_last_commit")


def test_invalid_last_commit_without_quorum(chain):
    apply_ok(chain)
    two = [m.address for m in chain.ledger.validator_set(1)][:2]
    refused(chain, chain.make_block([], signers=two), "invalid_last_commit")


def test_invalid_last_commit_for_other_block(chain):
    apply_ok(chain)
    b = chain.make_block([])
    c = chain.make_commit(1, b"\x07" * 32)
    from state.block import compute_last_commit_hash
    refused(chain, dataclasses.replace(b, last_commit=c, header=dataclasses.replace(
        b.header, last_commit_hash=compute_last_commit_hash(c))), "wrong_last_commit")


def test_invalid_last_commit_bad_signature(chain):
    apply_ok(chain)
    b = chain.make_block([])
    sigs = list(b.last_commit.signatures)
    sigs[0] = dataclasses.replace(sigs[0], signature=bytes(64))
    c = Commit(b.last_commit.height, b.last_commit.round, b.last_commit.value_id, tuple(sigs))
    from state.block import compute_last_commit_hash
    refused(chain, dataclasses.replace(b, last_commit=c, header=dataclasses.replace(
        b.header, last_commit_hash=compute_last_commit_hash(c))), "invalid_last_commit")


def test_invalid_unexpected_last_commit_at_height_1(chain):
    from consensus.types import CommitSig
    from state.block import compute_last_commit_hash
    b = chain.make_block([])
    assert b.height == 1
    c = Commit(1, 0, b"\x07" * 32, (CommitSig(chain.validators[0].consensus_address, bytes(64)),))
    refused(chain, dataclasses.replace(b, last_commit=c, header=dataclasses.replace(
        b.header, last_commit_hash=compute_last_commit_hash(c))), "unexpected_last_commit")


def test_invalid_too_many_txs(make):
    from state.params import Params
    chain = make(params=Params(max_block_txs=2))
    txs = [chain.tx(ALICE, "transfer", addr(BOB), 1) for _ in range(3)]
    refused(chain, chain.make_block(txs), "too_many_txs")


def test_block_data_hash_is_root_of_tx_ids(chain):
    txs = [chain.tx(ALICE, "transfer", addr(BOB), 1)]
    assert chain.make_block(txs).header.data_hash == compute_data_hash(txs)
