"""Generate a chain of light blocks with real ed25519 keys and signed commits, following
a schedule of validator sets (what the ledger would decide), for unit tests of the
verifier and the client: no ledger, no network."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from consensus.crypto import Ed25519Key
from consensus.types import Commit, Validator, ValidatorSet, Vote, VoteType
from node.light.types import LightBlock
from state.block import Header
from state.simple_merkle import EMPTY_HASH

GENESIS_MS = 1_700_000_000_000
BLOCK_MS = 1_000


def key(label: str) -> Ed25519Key:
    return Ed25519Key(hashlib.sha256(label.encode()).digest())


def valset(keys: list[Ed25519Key], powers: list[int] | None = None) -> ValidatorSet:
    powers = powers or [10] * len(keys)
    return ValidatorSet(Validator.from_pub_key(k.pub_key, p) for k, p in zip(keys, powers))


def sign_commit(chain_id: str, header: Header, signers: list[Ed25519Key], round: int = 0) -> Commit:
    votes = []
    for k in signers:
        v = Vote(VoteType.PRECOMMIT, header.height, round, header.id(), k.address)
        votes.append(Vote(VoteType.PRECOMMIT, header.height, round, header.id(), k.address,
                          k.sign(v.sign_bytes(chain_id))))
    return Commit.from_votes(votes)


@dataclass
class GenChain:
    """`sets[h]` signs height h (h >= 1). Every block is signed by all of its set unless
    `signers` overrides it."""
    chain_id: str
    sets: dict[int, tuple[list[Ed25519Key], list[int]]]
    blocks: dict[int, LightBlock] = field(default_factory=dict)
    genesis_ms: int = GENESIS_MS
    block_ms: int = BLOCK_MS

    def keys_at(self, h: int) -> list[Ed25519Key]:
        return self.sets[h][0]

    def set_at(self, h: int) -> ValidatorSet:
        keys, powers = self.sets[h]
        return valset(keys, powers)

    def header(self, h: int, **changes) -> Header:
        prev = self.blocks.get(h - 1)
        fields = dict(chain_id=self.chain_id, height=h, time_ms=self.genesis_ms + h * self.block_ms,
                      last_block_id=b"" if prev is None else prev.id(),
                      last_commit_hash=EMPTY_HASH if prev is None else prev.commit.hash(),
                      data_hash=EMPTY_HASH, evidence_hash=EMPTY_HASH,
                      validators_hash=self.set_at(h).hash(),
                      next_validators_hash=self.set_at(h + 1).hash(),
                      app_hash=hashlib.sha256(b"app%d" % (h - 1)).digest(),
                      proposer=self.keys_at(h)[0].address)
        fields.update(changes)
        return Header(**fields)

    def build(self, upto: int) -> "GenChain":
        for h in range(1, upto + 1):
            hd = self.header(h)
            self.blocks[h] = LightBlock(hd, sign_commit(self.chain_id, hd, self.keys_at(h)), self.set_at(h))
        return self


def rotating_chain(chain_id: str, heights: int, *, n: int = 4, rotate_every: int = 1,
                   replace: int = 1, seed: str = "v") -> GenChain:
    """A chain whose set replaces `replace` of its `n` validators every `rotate_every`
    heights (equal powers): after enough heights none of the first set is left."""
    sets = {}
    members = list(range(n))
    nxt = n
    for h in range(1, heights + 2):
        if h > 1 and (h - 1) % rotate_every == 0:
            members = members[replace:] + list(range(nxt, nxt + replace))
            nxt += replace
        sets[h] = ([key(f"{seed}{m}") for m in members], [10] * n)
    return GenChain(chain_id, sets).build(heights)


def static_chain(chain_id: str, heights: int, n: int = 4, seed: str = "v", *,
                 genesis_ms: int = GENESIS_MS, block_ms: int = BLOCK_MS) -> GenChain:
    keys = [key(f"{seed}{i}") for i in range(n)]
    return GenChain(chain_id, {h: (keys, [10] * n) for h in range(1, heights + 2)},
                    genesis_ms=genesis_ms, block_ms=block_ms).build(heights)


class MemoryProvider:
    """A provider over a GenChain (honest unless a test alters `chain.blocks`)."""
    supports_tx_index = True

    def __init__(self, chain: GenChain, latest: int | None = None):
        self.chain = chain
        self.name = f"memory:{chain.chain_id}"
        self.latest = latest or max(chain.blocks)
        self.asked: list[int] = []

    async def latest_height(self) -> int:
        return self.latest

    async def signed_header(self, height: int):
        from node.light.errors import ProviderError
        from node.light.provider import SignedHeader
        self.asked.append(height)
        lb = self.chain.blocks.get(height)
        if lb is None:
            raise ProviderError("not_found", f"no block {height}")
        return SignedHeader(lb.header, lb.commit, lb.validators)

    async def aclose(self) -> None:
        pass
