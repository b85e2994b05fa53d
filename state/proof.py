"""Proofs that a key is present (with its value) or absent under an app hash.

A proof is msgpack `[1, levels, terminal]`:
  * `levels`: one `[kinds, siblings]` per internal node from the root down the path of
    sha256(key): the node's 16-byte `kinds` (0 empty, 1 node, 2 leaf per nibble) and the
    refs of its other present children, concatenated in nibble order (32 bytes for a
    node hash, 64 for a leaf's keyhash || valuehash).
  * `terminal`: `nil` when the path ends at the key's own leaf (inclusion) or at an empty
    slot (absence); `[other_keyhash, other_valuehash]` when it ends at another key's leaf
    (absence: the only key under that prefix is a different one).

`verify_proof` is pure and total: any malformed input gives False, never an exception.
The hashing rules are the tree's (state/tree.py), restated here so that a light client
needs only this file:
    node hash = sha256(0x01 || kinds || refs)
    root      = node hash | sha256(0x00 || keyhash || valuehash) (lone leaf) | 32 zero bytes
"""
from __future__ import annotations

from hashlib import sha256

import msgpack

PROOF_VERSION = 1
EMPTY_ROOT = bytes(32)
MAX_LEVELS = 64
RADIX = 16
MAX_PROOF_BYTES = MAX_LEVELS * (RADIX + 15 * 64 + 16) + 256


def _nibble(key_hash: bytes, depth: int) -> int:
    b = key_hash[depth >> 1]
    return (b >> 4) if not depth & 1 else (b & 15)


def encode_proof(levels: list[tuple[bytes, bytes]], terminal: tuple[bytes, bytes] | None) -> bytes:
    return msgpack.packb(
        [PROOF_VERSION, [[k, s] for k, s in levels],
         None if terminal is None else list(terminal)],
        use_bin_type=True,
    )


def verify_proof(app_hash: bytes, key: bytes, value: bytes | None, proof: bytes) -> bool:
    """True iff `proof` shows that, in the state committed by `app_hash`, `key` maps to
    `value` (or is absent when `value` is None)."""
    try:
        return _verify(app_hash, key, value, proof)
    except Exception:  # garbage in: a proof that does not verify, never a crash
        return False


def _verify(app_hash, key, value, proof) -> bool:
    if not isinstance(app_hash, bytes) or len(app_hash) != 32:
        return False
    if not isinstance(key, bytes) or not isinstance(proof, bytes):
        return False
    if value is not None and not isinstance(value, bytes):
        return False
    if len(proof) > MAX_PROOF_BYTES:
        return False
    decoded = msgpack.unpackb(proof, raw=False, strict_map_key=True, max_array_len=MAX_LEVELS,
                              max_bin_len=15 * 64, max_str_len=0, max_map_len=0, max_ext_len=0)
    if not isinstance(decoded, list) or len(decoded) != 3:
        return False
    if type(decoded[0]) is not int or decoded[0] != PROOF_VERSION:
        return False
    levels, terminal = decoded[1], decoded[2]
    if not isinstance(levels, list) or len(levels) > MAX_LEVELS:
        return False
    key_hash = sha256(key).digest()

    # `current` is the ref in the slot at the bottom of the path (None = empty slot)
    current: bytes | None
    if value is not None:
        if terminal is not None:
            return False
        current = key_hash + sha256(value).digest()
    elif terminal is None:
        current = None
    else:
        if not isinstance(terminal, list) or len(terminal) != 2:
            return False
        other_kh, other_vh = terminal
        if not (isinstance(other_kh, bytes) and isinstance(other_vh, bytes)):
            return False
        if len(other_kh) != 32 or len(other_vh) != 32 or other_kh == key_hash:
            return False
        # a leaf sits under the prefix of its own key hash: the path must be its prefix
        for d in range(len(levels)):
            if _nibble(other_kh, d) != _nibble(key_hash, d):
                return False
        current = other_kh + other_vh

    for depth in range(len(levels) - 1, -1, -1):
        level = levels[depth]
        if not isinstance(level, list) or len(level) != 2:
            return False
        kinds, siblings = level
        if not (isinstance(kinds, bytes) and isinstance(siblings, bytes)) or len(kinds) != RADIX:
            return False
        if max(kinds) > 2 or not any(kinds):
            return False
        nib = _nibble(key_hash, depth)
        expected_kind = 0 if current is None else len(current) >> 5
        if kinds[nib] != expected_kind:
            return False
        off = 32 * sum(kinds[:nib])
        if len(siblings) != 32 * sum(kinds) - 32 * expected_kind:
            return False
        refs = siblings[:off] + (current or b"") + siblings[off:]
        current = sha256(b"\x01" + kinds + refs).digest()

    if current is None:  # no levels and an empty slot: the empty tree
        return app_hash == EMPTY_ROOT
    if len(current) == 64:  # the key's leaf is the whole tree
        return sha256(b"\x00" + current).digest() == app_hash
    return current == app_hash
