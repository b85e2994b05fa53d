"""Proof checks against verified headers, pure.

* A tx is in block H iff its id is a leaf of the RFC 6962 tree whose root is header H's
  `data_hash` (state/simple_merkle.py).
* A state value (or its absence) after block H is proven against the app hash that
  header H+1 carries (CometBFT's convention: a header holds the state before its block).
  The node also says which app hash it proved against; when that differs from the
  verified header's, the node is lying about the state root and we say so.
"""
from __future__ import annotations

from dataclasses import dataclass

from node.light.errors import VerificationError
from state.block import Header
from state.proof import verify_proof
from state.simple_merkle import verify_merkle_proof
from state.tx import tx_id as compute_tx_id


@dataclass(frozen=True)
class TxInclusionProof:
    height: int
    index: int
    total: int
    leaf: bytes                     # the tx id
    aunts: tuple[bytes, ...]
    tx: bytes | None = None         # the signed tx, when the node sent it


@dataclass(frozen=True)
class StateProof:
    height: int                     # the state after this block
    key: bytes
    value: bytes | None             # None: the node says the key is absent
    proof: bytes
    claimed_app_hash: bytes | None  # the root the node says it proved against


def verify_tx_inclusion(header: Header, tx_id: bytes, p: TxInclusionProof) -> None:
    """Raise VerificationError unless `p` proves tx `tx_id` is in the block of `header`."""
    if p.height != header.height:
        raise VerificationError("wrong_height", f"proof is for height {p.height}, header is {header.height}")
    if p.leaf != tx_id:
        raise VerificationError("wrong_tx", f"proof is for tx {p.leaf.hex()}, not {tx_id.hex()}")
    if p.tx is not None and compute_tx_id(p.tx) != tx_id:
        raise VerificationError("tx_mismatch", "the tx bytes served do not hash to the tx id")
    if not verify_merkle_proof(header.data_hash, tx_id, p.index, p.total, list(p.aunts)):
        raise VerificationError("invalid_tx_proof",
                                f"tx {tx_id.hex()} is not proven by the inclusion proof against "
                                f"data_hash of verified header {header.height}")


def verify_state_proof(next_header: Header, p: StateProof) -> None:
    """Raise VerificationError unless `p` proves key -> value (or absence) in the state
    after block p.height, whose app hash is in the verified `next_header`."""
    if next_header.height != p.height + 1:
        raise ValueError("the app hash of the state after H is in header H+1")
    if p.claimed_app_hash is not None and p.claimed_app_hash != next_header.app_hash:
        raise VerificationError("app_hash_mismatch",
                                f"node proved against app hash {p.claimed_app_hash.hex()[:16]}, but "
                                f"verified header {next_header.height} carries "
                                f"{next_header.app_hash.hex()[:16]}")
    if not verify_proof(next_header.app_hash, p.key, p.value, p.proof):
        what = "absence" if p.value is None else "value"
        raise VerificationError("invalid_proof",
                                f"the {what} served for key {p.key.hex()} at height {p.height} is not "
                                f"proven against the app hash of verified header {next_header.height}")
