"""Proofs that a key is present (with its value) or absent under an app hash.

A proof is msgpack `[1, levels, terminal]`:
  * `levels`: one `[bitmap, siblings]` per internal node from the root down the path of
    sha256(key): the node's 16-bit child bitmap and the hashes of its other present
    children, concatenated in nibble order (32 bytes each).
  * `terminal`: `nil` when the path ends at the key's own leaf (inclusion) or at an empty
    slot (absence); `[other_keyhash, other_valuehash]` when it ends at another key's leaf
    (absence: the only key under that prefix is a different one).

`verify_proof` is pure and total: any malformed input gives False, never an exception.
The hashing rules are the tree's (see state/tree.py); they are restated here so that a
light client needs this file only.
"""
from __future__ import annotations

from hashlib import sha256

import msgpack

PROOF_VERSION = 1
EMPTY_ROOT = bytes(32)
MAX_LEVELS = 64
MAX_PROOF_BYTES = 64 * (2 + 3 + 16 * 32 + 8) + 128


def _nibble(key_hash: bytes, depth: int) -> int:
    b = key_hash[depth >> 1]
    return (b >> 4) if not depth & 1 else (b & 15)


def encode_proof(levels: list[tuple[int, bytes]], terminal: tuple[bytes, bytes] | None) -> bytes:
    return msgpack.packb(
        [PROOF_VERSION, [[b, s] for b, s in levels], None if terminal is None else list(terminal)],
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
                              max_bin_len=16 * 32, max_str_len=0, max_map_len=0, max_ext_len=0)
    if not isinstance(decoded, list) or len(decoded) != 3 or decoded[0] != PROOF_VERSION:
        return False
    if type(decoded[0]) is not int:
        return False
    levels, terminal = decoded[1], decoded[2]
    if not isinstance(levels, list) or len(levels) > MAX_LEVELS:
        return False
    key_hash = sha256(key).digest()

    current: bytes | None  # hash of the slot at the bottom of the path; None = empty slot
    if value is not None:
        if terminal is not None:
            return False
        current = sha256(b"\x00" + key_hash + sha256(value).digest()).digest()
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
        # the other leaf sits at this path, so it must share the path's nibbles
        for d in range(len(levels)):
            if _nibble(other_kh, d) != _nibble(key_hash, d):
                return False
        current = sha256(b"\x00" + other_kh + other_vh).digest()

    for depth in range(len(levels) - 1, -1, -1):
        level = levels[depth]
        if not isinstance(level, list) or len(level) != 2:
            return False
        bitmap, siblings = level
        if type(bitmap) is not int or not 0 < bitmap < 1 << 16 or not isinstance(siblings, bytes):
            return False
        nib = _nibble(key_hash, depth)
        occupied = bool(bitmap >> nib & 1)
        if occupied != (current is not None):
            return False
        present = bin(bitmap).count("1")
        if len(siblings) != 32 * (present - (1 if occupied else 0)):
            return False
        parts = []
        pos = 0
        for i in range(16):
            if bitmap >> i & 1:
                if i == nib:
                    parts.append(current)
                else:
                    parts.append(siblings[pos:pos + 32])
                    pos += 32
        current = sha256(b"\x01" + bitmap.to_bytes(2, "big") + b"".join(parts)).digest()

    if current is None:  # no levels and an empty slot: the empty tree
        return app_hash == EMPTY_ROOT
    return current == app_hash
