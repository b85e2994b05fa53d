"""RFC 6962 Merkle root of a list (CometBFT's `merkle.HashFromByteSlices`), for the tx root.

    leaf  = sha256(0x00 || item)
    inner = sha256(0x01 || left || right), split at the largest power of two < n
    empty = sha256(b"")

A proof is the list of sibling hashes ("aunts") from the leaf up to the root, as
CometBFT's `merkle.Proof.Aunts`.
"""
from __future__ import annotations

from hashlib import sha256
from typing import Sequence

EMPTY_HASH = sha256(b"").digest()


def leaf_hash(item: bytes) -> bytes:
    return sha256(b"\x00" + item).digest()


def inner_hash(left: bytes, right: bytes) -> bytes:
    return sha256(b"\x01" + left + right).digest()


def _split_point(n: int) -> int:
    """Largest power of two strictly less than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def _root_of_hashes(hashes: Sequence[bytes]) -> bytes:
    n = len(hashes)
    if n == 1:
        return hashes[0]
    k = _split_point(n)
    return inner_hash(_root_of_hashes(hashes[:k]), _root_of_hashes(hashes[k:]))


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    if not leaves:
        return EMPTY_HASH
    return _root_of_hashes([leaf_hash(x) for x in leaves])


def merkle_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """Aunts of leaves[index], bottom-up."""
    if not 0 <= index < len(leaves):
        raise IndexError(f"leaf index {index} out of range for {len(leaves)} leaves")
    hashes = [leaf_hash(x) for x in leaves]
    aunts: list[bytes] = []
    lo, hi = 0, len(hashes)
    path = []  # (sibling range) from the root down
    while hi - lo > 1:
        k = _split_point(hi - lo)
        mid = lo + k
        if index < mid:
            path.append((mid, hi))
            hi = mid
        else:
            path.append((lo, mid))
            lo = mid
    for a, b in reversed(path):
        aunts.append(_root_of_hashes(hashes[a:b]))
    return aunts


def _root_from_aunts(index: int, total: int, leaf: bytes, aunts: list[bytes]) -> bytes | None:
    if total == 1:
        return leaf if not aunts else None
    if not aunts:
        return None
    k = _split_point(total)
    if index < k:
        left = _root_from_aunts(index, k, leaf, aunts[:-1])
        return None if left is None else inner_hash(left, aunts[-1])
    right = _root_from_aunts(index - k, total - k, leaf, aunts[:-1])
    return None if right is None else inner_hash(aunts[-1], right)


def verify_merkle_proof(root: bytes, leaf: bytes, index: int, total: int,
                        proof: Sequence[bytes]) -> bool:
    """True iff `leaf` is item `index` of a `total`-item list whose root is `root`.
    Never raises: malformed arguments verify as False."""
    try:
        if not (isinstance(root, bytes) and isinstance(leaf, bytes)):
            return False
        if type(index) is not int or type(total) is not int or not 0 <= index < total:
            return False
        aunts = list(proof)
        if len(aunts) > 64 or not all(isinstance(a, bytes) and len(a) == 32 for a in aunts):
            return False
        computed = _root_from_aunts(index, total, leaf_hash(leaf), aunts)
        return computed is not None and computed == root
    except Exception:
        return False
