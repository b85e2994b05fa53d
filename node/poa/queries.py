"""Proof-of-Attribution answers: a use's escrows and attestations, a model's attributor, a
challenge (docs/rpc.md `/query/attestation|attributor|challenge`, docs/poa.md).

Each answer is built from state records through `read(key) -> bytes | None`, so one code
serves the RPC (which reads its store and attaches a Merkle proof of every key read) and
the light client (whose reads are each proven against a header it verified).
"""
from __future__ import annotations

from typing import Awaitable, Callable

from node.keys import encode_address
from state import proof_keys
from state.asset_records import AssetKind, AssetRecord, Pool
from state.codec import decode_value
from state.poa_records import Attributor, Escrow, EscrowStatus
from state.tx import PPM

Reader = Callable[[bytes], Awaitable[bytes | None]]

MAX_ESCROWS = 64       # escrows listed per use (`truncated` past it)

STATUS = {EscrowStatus.OPEN: "pending", EscrowStatus.ATTESTED: "attested",
          EscrowStatus.CHALLENGED: "challenged", EscrowStatus.CHALLENGE_REJECTED: "challenge_rejected",
          EscrowStatus.PAID: "paid", EscrowStatus.FALLBACK: "fallback", EscrowStatus.UPHELD: "upheld"}


class QueryRefused(Exception):
    def __init__(self, status: int, code: str, reason: str) -> None:
        super().__init__(reason)
        self.status, self.code, self.reason = status, code, reason


async def _decoded(read: Reader, key: bytes):
    raw = await read(key)
    return None if raw is None else decode_value(raw)


async def _asset(read: Reader, asset_id: bytes) -> AssetRecord | None:
    v = await _decoded(read, proof_keys.asset(asset_id))
    return None if v is None else AssetRecord.decode(v)


def _addr(a: bytes) -> str | None:
    return encode_address(a) if a else None


async def escrow_json(read: Reader, aid: bytes, e: Escrow) -> dict:
    """One escrow with its attestation, and per scored contribution what static weights
    would pay beside what the scores pay (`static`, `measured`: the escrow split as the
    ledger settles it, by the pool's accepted weights at the queried height, before the
    pool accumulator's dust). `others` sums the datanet's contributions the scores do not name."""
    datanet = await _asset(read, e.datanet)
    model = await _asset(read, e.model)
    pool_v = await _decoded(read, proof_keys.pool(e.datanet))
    pool = Pool() if pool_v is None else Pool.decode(pool_v)
    total = pool.total_weight
    paid = [e.amount * s // PPM for _, s in e.scores]
    rest = e.amount - sum(paid)

    def by_weight(amount: int, w: int) -> int:
        return amount * w // total if total else 0
    scores, scored_weight = [], 0
    for (cid, s), part in zip(e.scores, paid):
        rec = await _asset(read, cid)
        w = rec.weight if rec is not None and rec.kind == AssetKind.CONTRIBUTION else 0
        scored_weight += w
        scores.append({"contribution": cid.hex(), "uri": rec.metadata_uri if rec is not None else "",
                       "score_ppm": s, "weight": w,
                       "static": by_weight(e.amount, w), "measured": part + by_weight(rest, w)})
    others_w = max(total - scored_weight, 0)
    challenged = bool(e.challenger)
    return {
        "attestation": aid.hex(), "use": e.use.hex(),
        "datanet": e.datanet.hex(), "datanet_name": datanet.name if datanet else "",
        "model": e.model.hex(), "model_name": model.name if model else "",
        "amount": e.amount, "status": STATUS.get(e.status, str(e.status)), "attest_by": e.attest_by,
        "attested_at": e.attested_at or None, "challenge_by": e.challenge_by or None,
        "operator": _addr(e.operator), "output_hash": e.output_hash.hex() if e.output_hash else None,
        "algorithm": e.algorithm or None, "total_weight": total, "scores": scores,
        "others": {"contributions": max(pool.members - len(scores), 0), "weight": others_w,
                   "static": by_weight(e.amount, others_w), "measured": by_weight(rest, others_w)},
        "challenge": {"challenger": _addr(e.challenger), "bond": e.bond,
                      "upheld_votes": [encode_address(a) for a in e.upheld_votes],
                      "rejected_votes": [encode_address(a) for a in e.rejected_votes]} if challenged else None,
    }


async def _escrow(read: Reader, aid: bytes) -> Escrow | None:
    v = await _decoded(read, proof_keys.escrow(aid))
    return None if v is None else Escrow.decode(v)


async def use_attestations(read: Reader, use: bytes) -> dict:
    """The escrows a use opened (one per datanet its payment reached below an attributed
    model), each with its attestation; none (an empty list) for any other tx."""
    ids = await _decoded(read, proof_keys.use_escrows(use)) or []
    escrows = []
    for aid in ids[:MAX_ESCROWS]:
        e = await _escrow(read, aid)
        if e is not None:
            escrows.append(await escrow_json(read, aid, e))
    return {"use": use.hex(), "escrows": escrows, "truncated": len(ids) > MAX_ESCROWS}


async def model_attributor(read: Reader, model: bytes) -> dict:
    """A model's attributor (operator, bond, who paid it), or null: its uses pay by weights."""
    rec = await _asset(read, model)
    if rec is None:
        raise QueryRefused(404, "unknown_asset", f"no asset {model.hex()}")
    if rec.kind != AssetKind.MODEL:
        raise QueryRefused(400, "not_a_model", f"asset {model.hex()} is a {AssetKind(rec.kind).name.lower()}; "
                                               "only a model has an attributor")
    v = await _decoded(read, proof_keys.attributor(model))
    a = None if v is None else Attributor(*v)
    return {"model": model.hex(), "name": rec.name,
            "attributor": None if a is None else {"operator": encode_address(a.operator), "bond": a.bond,
                                                  "payer": encode_address(a.payer)}}


async def challenge(read: Reader, aid: bytes) -> dict:
    """One attestation id's escrow, its challenge (null if never challenged) and who decides it."""
    e = await _escrow(read, aid)
    if e is None:
        raise QueryRefused(404, "no_escrow", f"no escrow {aid.hex()}")
    datanet = await _asset(read, e.datanet)
    curators = datanet.curators if datanet is not None else []
    return {**await escrow_json(read, aid, e), "curators": [encode_address(c) for c in curators],
            "majority": len(curators) // 2 + 1}
