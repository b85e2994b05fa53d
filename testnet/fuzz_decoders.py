"""Fuzzing of every decoder a peer's bytes reach: any input must give that decoder's clean
error, never another exception.

    fuzz_network_decoders(n, seed) -> {"inputs": n, "unexpected": k, "examples": [...]}

Inputs are deterministic for a seed: each round picks a decoder and makes an input from
valid encodings of what that decoder reads (signed votes, proposals, txs, headers,
blocks, commits, every p2p envelope) by structured mutation: a field replaced by a
value of another type or an extreme one (huge ints, negative rounds, 2**64, deep
nesting, huge declared lengths), fields dropped or added, then byte-level mutation
(flips, truncation, splices, random bytes). `attrchain bench fuzz` runs a long budget.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Callable

import msgpack

from consensus.crypto import Ed25519Key
from consensus.types import (
    Commit, CommitSig, DuplicateVoteEvidence, Proposal, Validator, ValidatorSet, Vote, VoteType,
)
from p2p import messages as m
from state.block import Block, Header
from state.errors import TxError
from state.tx import decode_tx, sign_tx

CHAIN = "fuzz-chain"
MAX_EXAMPLES = 10


@dataclass(frozen=True)
class Decoder:
    name: str
    decode: Callable[[bytes], Any]
    clean: tuple[type[BaseException], ...]  # the errors that mean "refused cleanly"


def _p2p(cls: type[m.Message], max_size: int = 1 << 20) -> Decoder:
    return Decoder(f"p2p.{cls.__name__}", lambda b: cls.decode(b, max_size), (m.MessageError,))


def _gossip(kind: str) -> Decoder:
    return Decoder(f"p2p.gossip.{kind}", lambda b: m.decode_gossip(kind, b, 512 * 1024), (m.MessageError,))


def _tx_batch(data: bytes) -> None:
    """A gossiped tx batch all the way down: the envelope, then every tx in it."""
    for tx in m.TxBatch.decode(data, 512 * 1024).txs:
        try:
            decode_tx(tx)
        except TxError:
            pass


DECODERS: tuple[Decoder, ...] = (
    Decoder("p2p.any", lambda b: m.decode_message(b, 1 << 20), (m.MessageError,)),
    *(_gossip(kind) for kind in m.TOPIC_MESSAGE),
    *(_p2p(cls) for cls in (m.StatusRequest, m.Status, m.TxsRequest, m.TxsResponse, m.BlocksRequest,
                            m.BlocksResponse, m.VotesRequest, m.VotesResponse, m.SubmitTxRequest,
                            m.SubmitTxResponse, m.LightBlockRequest, m.LightBlockResponse,
                            m.ProofRequest, m.ProofResponse)),
    Decoder("p2p.tx_batch+txs", _tx_batch, (m.MessageError,)),
    Decoder("consensus.Vote", Vote.decode, (ValueError,)),
    Decoder("consensus.Proposal", Proposal.decode, (ValueError,)),
    Decoder("consensus.Commit", Commit.decode, (ValueError,)),
    Decoder("consensus.ValidatorSet", ValidatorSet.decode, (ValueError,)),
    Decoder("consensus.DuplicateVoteEvidence", DuplicateVoteEvidence.decode, (ValueError,)),
    Decoder("state.Header", Header.decode, (ValueError,)),
    Decoder("state.Block", Block.decode, (ValueError,)),
    Decoder("state.tx", decode_tx, (TxError,)),
)


def valid_samples() -> list[bytes]:
    """Valid encodings of everything the decoders read (fixed keys: deterministic)."""
    keys = [Ed25519Key(bytes([i]) * 32) for i in (1, 2)]
    vid = b"\x11" * 32

    def vote(key: Ed25519Key, value: bytes, round: int = 0) -> Vote:
        v = Vote(VoteType.PRECOMMIT, 5, round, value, key.address)
        return Vote(v.type, v.height, v.round, v.value_id, v.validator, key.sign(v.sign_bytes(CHAIN)))

    p = Proposal(5, 1, vid, 0, keys[0].address)
    p = Proposal(p.height, p.round, p.value_id, p.pol_round, p.proposer, keys[0].sign(p.sign_bytes(CHAIN)))
    votes = [vote(k, vid) for k in keys]
    commit = Commit(5, 0, vid, tuple(CommitSig(v.validator, v.signature) for v in sorted(votes, key=lambda v: v.validator)))
    a, b = vote(keys[0], b"\x01" * 32), vote(keys[0], b"\x02" * 32)
    evidence = DuplicateVoteEvidence.of(a, b)
    valset = ValidatorSet([Validator.from_pub_key(k.pub_key, 10) for k in keys])
    header = Header(CHAIN, 5, 1_700_000_000_000, vid, vid, vid, vid, vid, vid, vid, keys[0].address)
    from nacl.signing import SigningKey
    tx = sign_tx(SigningKey(b"\x03" * 32), CHAIN, 0, 1000, "transfer", [keys[1].address, 42])
    block = Block(header, [tx], [evidence.encode()], commit)
    raw = [votes[0].encode(), p.encode(), commit.encode(), evidence.encode(), valset.encode(),
           header.encode(), block.encode(), tx]
    envelopes = [
        m.TxBatch((tx, tx[:-1] + b"\x00")), m.CompactProposal(p.encode(), header.encode(), (vid,), (evidence.encode(),), commit.encode()),
        m.VoteMessage(votes[0].encode()), m.EvidenceMessage(evidence.encode()), m.StatusRequest(),
        m.Status(5, 1, vid, 1), m.TxsRequest((vid,)), m.TxsResponse((tx,)), m.BlocksRequest(1, 64),
        m.BlocksResponse(((block.encode(), commit.encode()),)), m.VotesRequest(5, 0),
        m.VotesResponse(tuple(v.encode() for v in votes)), m.SubmitTxRequest(tx),
        m.SubmitTxResponse(0, "ok", vid), m.LightBlockRequest(0),
        m.LightBlockResponse(header.encode(), commit.encode(), valset.encode()),
        m.ProofRequest(b"key", 0), m.ProofResponse(5, None, b"proof"),
    ]
    return raw + [e.encode() for e in envelopes]


# Values a field is swapped for: other types, and the extremes of each.
EXTREMES: tuple[Any, ...] = (
    None, True, -1, 0, 1, 2**31 - 1, 2**31, 2**32, 2**63 - 1, 2**63, 2**64 - 1, -(2**63), 1.5, float("nan"),
    "", "x" * 70, b"", b"\x00" * 32, b"\xff" * 65, [], [[[[]]]], [0] * 40,
)


def _mutate_value(rng: random.Random, value: Any, depth: int = 0) -> Any:
    """One structural mutation somewhere inside a decoded msgpack value."""
    if isinstance(value, list) and value and depth < 6 and rng.random() < 0.7:
        out = list(value)
        choice = rng.random()
        i = rng.randrange(len(out))
        if choice < 0.6:
            out[i] = _mutate_value(rng, out[i], depth + 1)
        elif choice < 0.75:
            del out[i]
        elif choice < 0.9:
            out.insert(i, rng.choice(EXTREMES))
        else:
            out = out * rng.randint(2, 4)
        return out
    if isinstance(value, bytes) and value and rng.random() < 0.5:
        try:  # a nested encoding (a vote inside an envelope): mutate inside it
            inner = msgpack.unpackb(value, raw=False, strict_map_key=False)
            return msgpack.packb(_mutate_value(rng, inner, depth + 1), use_bin_type=True)
        except Exception:  # noqa: BLE001 -- not msgpack: change its bytes instead
            return _mutate_bytes(rng, value)
    if isinstance(value, int) and not isinstance(value, bool) and rng.random() < 0.5:
        return value + rng.choice((-1, 1, 2**31, 2**62, -(2**31)))
    return rng.choice(EXTREMES)


def _mutate_bytes(rng: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    op = rng.randrange(6)
    if op == 0 and b:
        for _ in range(rng.randint(1, 4)):
            b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
    elif op == 1 and b:
        del b[rng.randrange(len(b)):]
    elif op == 2:
        b += bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 16)))
    elif op == 3 and b:
        i = rng.randrange(len(b))
        b[i:i] = rng.choice((b"\xdd\xff\xff\xff\xff", b"\xc6\x7f\xff\xff\xff", b"\xdf\xff\xff\xff\xff",
                             b"\x91" * 64, b"\xc1", b"\xd9\xff", b"\xcf" + b"\xff" * 8))
    elif op == 4:
        b = bytearray(rng.getrandbits(8) for _ in range(rng.randint(0, 64)))
    elif b:
        i = rng.randrange(len(b))
        b[i] = rng.getrandbits(8)
    return bytes(b)


def own_samples(decoder: Decoder, samples: list[bytes]) -> list[bytes]:
    """The samples this decoder accepts: mutations of these reach its deeper checks."""
    own = []
    for sample in samples:
        try:
            decoder.decode(sample)
        except Exception:  # noqa: BLE001 -- not one of its kind
            continue
        own.append(sample)
    return own or samples


def fuzz_input(rng: random.Random, samples: list[bytes], own: list[bytes]) -> bytes:
    base = rng.choice(own if rng.random() < 0.8 else samples)
    if rng.random() < 0.2:  # splice two valid encodings
        other = rng.choice(samples)
        return base[: rng.randrange(len(base) + 1)] + other[rng.randrange(len(other) + 1):]
    if rng.random() < 0.6:
        try:
            obj = msgpack.unpackb(base, raw=False, strict_map_key=False)
            data = msgpack.packb(_mutate_value(rng, obj), use_bin_type=True)
        except Exception:  # noqa: BLE001 -- a value msgpack will not pack (nan is fine)
            data = base
        return data if rng.random() < 0.7 else _mutate_bytes(rng, data)
    return _mutate_bytes(rng, base)


def fuzz_network_decoders(n: int, seed: int) -> dict:
    """Run `n` inputs (deterministic for `seed`) through the network's decoders."""
    rng = random.Random(seed)
    samples = valid_samples()
    own = [own_samples(d, samples) for d in DECODERS]
    unexpected = 0
    examples: list[dict] = []
    for i in range(n):
        decoder = DECODERS[i % len(DECODERS)]
        data = fuzz_input(rng, samples, own[i % len(DECODERS)])
        try:
            decoder.decode(data)
        except decoder.clean:
            continue
        except Exception as exc:  # noqa: BLE001 -- exactly what we are looking for
            unexpected += 1
            if len(examples) < MAX_EXAMPLES:
                examples.append({"decoder": decoder.name, "input_hex": data[:256].hex(),
                                 "error": f"{type(exc).__name__}: {exc}"[:300]})
    return {"inputs": n, "unexpected": unexpected, "examples": examples}
