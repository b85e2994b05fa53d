"""Blocks and headers (CometBFT's shape).

`Header.app_hash` is the state after executing block height-1 (CometBFT's convention), so
a header of height H commits to the app hash its proposer had when proposing. `data_hash`
is the RFC 6962 root of the tx ids (sha256 of each signed tx), so inclusion of a tx is
provable with `state.simple_merkle` against the header. Everything is a msgpack array.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import msgpack

from state.simple_merkle import EMPTY_HASH, merkle_root
from state.tx import tx_id

MAX_BLOCK_BYTES = 64 << 20
_HASH_LEN = 32


def _ensure(cond: bool, what: str) -> None:
    if not cond:
        raise ValueError(what)


def _is_hash(v) -> bool:
    return type(v) is bytes and len(v) == _HASH_LEN


@dataclass(frozen=True, slots=True)
class Header:
    chain_id: str
    height: int
    time_ms: int
    last_block_id: bytes           # b"" at height 1
    last_commit_hash: bytes        # sha256 of the last commit's encoding; EMPTY_HASH if none
    data_hash: bytes               # merkle_root(tx ids)
    evidence_hash: bytes           # merkle_root(evidence bytes)
    validators_hash: bytes         # ValidatorSet(height).hash()
    next_validators_hash: bytes    # ValidatorSet(height + 1).hash()
    app_hash: bytes                # state after block height-1
    proposer: bytes                # consensus address of the proposer

    def to_list(self) -> list:
        return [self.chain_id, self.height, self.time_ms, self.last_block_id,
                self.last_commit_hash, self.data_hash, self.evidence_hash,
                self.validators_hash, self.next_validators_hash, self.app_hash, self.proposer]

    def encode(self) -> bytes:
        return msgpack.packb(self.to_list(), use_bin_type=True)

    def id(self) -> bytes:
        return hashlib.sha256(self.encode()).digest()

    @classmethod
    def from_list(cls, f) -> "Header":
        _ensure(type(f) is list and len(f) == 11, "header must be an array of 11 fields")
        chain_id, height, time_ms, last_block_id, lch, dh, eh, vh, nvh, app_hash, proposer = f
        _ensure(type(chain_id) is str and 0 < len(chain_id) <= 64, "header chain_id")
        _ensure(type(height) is int and 1 <= height < 2**63, "header height")
        _ensure(type(time_ms) is int and 0 <= time_ms < 2**63, "header time_ms")
        _ensure(last_block_id == b"" or _is_hash(last_block_id), "header last_block_id")
        for name, v in (("last_commit_hash", lch), ("data_hash", dh), ("evidence_hash", eh),
                        ("validators_hash", vh), ("next_validators_hash", nvh),
                        ("app_hash", app_hash)):
            _ensure(_is_hash(v), f"header {name} must be 32 bytes")
        _ensure(type(proposer) is bytes and len(proposer) == 20, "header proposer")
        return cls(*f)

    @classmethod
    def decode(cls, data: bytes) -> "Header":
        try:
            f = msgpack.unpackb(data, raw=False, strict_map_key=True)
        except Exception as e:
            raise ValueError(f"header is not valid msgpack: {type(e).__name__}") from None
        return cls.from_list(f)


@dataclass(frozen=True, slots=True)
class Block:
    header: Header
    txs: list[bytes] = field(default_factory=list)
    evidence: list[bytes] = field(default_factory=list)    # DuplicateVoteEvidence.encode()
    last_commit: object | None = None                      # consensus.types.Commit

    def id(self) -> bytes:
        return self.header.id()

    @property
    def height(self) -> int:
        return self.header.height

    def encode(self) -> bytes:
        return msgpack.packb([self.header.to_list(), self.txs, self.evidence,
                              None if self.last_commit is None else self.last_commit.encode()],
                             use_bin_type=True)

    @classmethod
    def decode(cls, data: bytes) -> "Block":
        from consensus.types import Commit
        try:
            f = msgpack.unpackb(data, raw=False, strict_map_key=True)
        except Exception as e:
            raise ValueError(f"block is not valid msgpack: {type(e).__name__}") from None
        _ensure(type(f) is list and len(f) == 4, "block must be [header, txs, evidence, last_commit]")
        header = Header.from_list(f[0])
        txs, evidence, lc = f[1], f[2], f[3]
        _ensure(type(txs) is list and all(type(t) is bytes for t in txs), "block txs must be bytes")
        _ensure(type(evidence) is list and all(type(e) is bytes for e in evidence),
                "block evidence must be bytes")
        _ensure(lc is None or type(lc) is bytes, "block last_commit must be bytes or nil")
        return cls(header, txs, evidence, None if lc is None else Commit.decode(lc))


def compute_data_hash(txs: list[bytes]) -> bytes:
    return merkle_root([tx_id(t) for t in txs])


def compute_evidence_hash(evidence: list[bytes]) -> bytes:
    return merkle_root(evidence)


def compute_last_commit_hash(commit) -> bytes:
    return EMPTY_HASH if commit is None else commit.hash()
