"""Proof of Attribution per use: the records (data layer; the rules are in state/poa.py).

    atb/ + model id32           -> [operator, bond, payer]    a model's attributor
    pes/ + attestation id32     -> Escrow                      the pool part of one use at one datanet
    pux/ + use tx id32          -> [attestation id, ...]       the escrows a use opened
    pdq/ + u64 height           -> [attestation id, ...]       escrows whose window ends then
    sys/poa_queue               -> [height, index, pending]    where end-of-block settling resumes

An attestation id names (use, datanet): one escrow, one attestation, at most one challenge.
`attribution.Payout` opens escrows through `process_open_escrows` (its one hook here).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import IntEnum

from state.context import Context
from state.keys import u64

ATTRIBUTOR = b"atb/"
ESCROW = b"pes/"
USE_ESCROWS = b"pux/"
DEADLINES = b"pdq/"
QUEUE = b"sys/poa_queue"

# The scorers the ledger accepts in `attest` (node/poa/ ships each; docs/poa.md, versioning).
KNOWN_ALGORITHMS = frozenset({"span-v1"})


class EscrowStatus(IntEnum):
    OPEN = 0                 # awaiting the attestation (until attest_by)
    ATTESTED = 1             # challengeable until challenge_by
    CHALLENGED = 2           # a challenge awaits the curators (until challenge_by)
    CHALLENGE_REJECTED = 3   # curators rejected the challenge; paid by scores at challenge_by
    PAID = 4                 # paid by the scores (the rest to the pool)
    FALLBACK = 5             # never attested: all to the pool by weights
    UPHELD = 6               # challenge upheld: all to the pool, attributor slashed


HOLDING = (EscrowStatus.OPEN, EscrowStatus.ATTESTED, EscrowStatus.CHALLENGED, EscrowStatus.CHALLENGE_REJECTED)


def compute_attestation_id(use: bytes, datanet: bytes) -> bytes:
    return hashlib.sha256(b"attrchain/attestation/" + use + datanet).digest()


@dataclass(slots=True)
class Attributor:
    operator: bytes
    bond: int
    payer: bytes             # who paid the bond (the model's top holder at set_attributor)

    def encode(self) -> list:
        return [self.operator, self.bond, self.payer]


@dataclass(slots=True)
class Escrow:
    use: bytes
    datanet: bytes
    model: bytes             # the attributed model whose attributor attests
    amount: int
    attest_by: int           # last height an attestation is accepted
    status: int = EscrowStatus.OPEN
    operator: bytes = b""    # the attributor that attested
    output_hash: bytes = b""
    algorithm: str = ""
    scores: list = field(default_factory=list)     # [[contribution id, score_ppm], ...]
    attested_at: int = 0
    challenge_by: int = 0    # last height a challenge or a curator's vote is accepted
    challenger: bytes = b""
    bond: int = 0            # the challenger's bond, held while CHALLENGED
    upheld_votes: list = field(default_factory=list)     # curator addresses
    rejected_votes: list = field(default_factory=list)

    def encode(self) -> list:
        return [self.use, self.datanet, self.model, self.amount, self.attest_by, self.status,
                self.operator, self.output_hash, self.algorithm, self.scores, self.attested_at,
                self.challenge_by, self.challenger, self.bond, self.upheld_votes, self.rejected_votes]

    @classmethod
    def decode(cls, v: list) -> "Escrow":
        return cls(*v)

    @property
    def held(self) -> int:
        """uopen this record holds (for the supply invariant)."""
        if self.status not in HOLDING:
            return 0
        return self.amount + (self.bond if self.status == EscrowStatus.CHALLENGED else 0)


# --- keys ------------------------------------------------------------------------------------
def attributor_key(model: bytes) -> bytes:
    return ATTRIBUTOR + model


def escrow_key(attestation_id: bytes) -> bytes:
    return ESCROW + attestation_id


def use_escrows_key(use: bytes) -> bytes:
    return USE_ESCROWS + use


# --- reads and writes -----------------------------------------------------------------------
def get_attributor(ctx: Context, model: bytes) -> Attributor | None:
    v = ctx.get_record(attributor_key(model))
    return None if v is None else Attributor(*v)


def set_attributor(ctx: Context, model: bytes, a: Attributor | None) -> None:
    if a is None:
        ctx.delete(attributor_key(model))
    else:
        ctx.put_record(attributor_key(model), a.encode())


def get_escrow(ctx: Context, attestation_id: bytes) -> Escrow | None:
    v = ctx.get_record(escrow_key(attestation_id))
    return None if v is None else Escrow.decode(v)


def set_escrow(ctx: Context, attestation_id: bytes, e: Escrow) -> None:
    ctx.put_record(escrow_key(attestation_id), e.encode())


def get_use_escrows(ctx: Context, use: bytes) -> list[bytes]:
    return ctx.get_record(use_escrows_key(use)) or []


# --- the deadline queue -------------------------------------------------------------------------
def process_enqueue(ctx: Context, height: int, attestation_id: bytes) -> None:
    """Settle `attestation_id` at the end of block `height` (or the first block after it
    with room, see state/poa.py process_deadlines)."""
    key = DEADLINES + u64(height)
    ctx.put_record(key, (ctx.get_record(key) or []) + [attestation_id])
    q = ctx.get_record(QUEUE)
    if q is None:
        q = [height, 0, 0]
    elif height < q[0]:       # due before where the cursor waits: nothing between was processed
        q = [height, 0, q[2]]
    q[2] += 1
    ctx.put_record(QUEUE, q)


# --- the hook of the attribution rule -------------------------------------------------------------
def process_open_escrows(ctx: Context, use: bytes, escrows: dict[bytes, tuple[bytes, int]]) -> None:
    """A use's pool parts at attributed datanets: {datanet: (model, amount)} -> escrows held
    for `attestation_blocks`, one per (use, datanet)."""
    if not escrows:
        return
    attest_by = ctx.height + ctx.params.attestation_blocks
    ids = []
    for datanet, (model, amount) in escrows.items():
        aid = compute_attestation_id(use, datanet)
        set_escrow(ctx, aid, Escrow(use, datanet, model, amount, attest_by))
        process_enqueue(ctx, attest_by, aid)
        ids.append(aid)
        ctx.emit("escrow", aid, use, datanet, model, amount)
    ctx.put_record(use_escrows_key(use), ids)


def get_escrow_holdings(key: bytes, value: bytes) -> int:
    from state.codec import decode_value
    return Escrow.decode(decode_value(value)).held


def get_attributor_holdings(key: bytes, value: bytes) -> int:
    from state.codec import decode_value
    return decode_value(value)[1]
