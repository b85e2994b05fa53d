"""A datanet's accepted contributions, read from the chain through a proving reader.

`read(key) -> bytes | None` must return only values it has proven (the light client's
`query_key`: a Merkle proof against a header it verified), so an index built from the
answer names exactly the contributions the chain had accepted at that height. The reads
follow the datanet's member list (state/asset_index.py): one for its length, one per page
of 64 ids, one per contribution record.
"""
from __future__ import annotations

from typing import Awaitable, Callable

from node.poa.index import Contribution
from state import proof_keys
from state.asset_records import AssetKind, AssetRecord, Status
from state.codec import decode_value

Reader = Callable[[bytes], Awaitable[bytes | None]]

# A datanet larger than this is not indexed by one command (each member is a proven read).
MAX_MEMBERS = 100_000


class ChainDataError(Exception):
    pass


async def _record(read: Reader, asset_id: bytes) -> AssetRecord | None:
    raw = await read(proof_keys.asset(asset_id))
    return None if raw is None else AssetRecord.decode(decode_value(raw))


async def read_accepted_contributions(read: Reader, datanet: bytes) -> list[Contribution]:
    """The datanet's accepted contributions, in submission order."""
    rec = await _record(read, datanet)
    if rec is None or rec.kind != AssetKind.DATANET:
        raise ChainDataError(f"{datanet.hex()} is not a datanet on this chain")
    raw = await read(proof_keys.datanet_members(datanet))
    n = 0 if raw is None else decode_value(raw)
    if n > MAX_MEMBERS:
        raise ChainDataError(f"the datanet has {n} contributions; one index takes at most {MAX_MEMBERS}")
    ids: list[bytes] = []
    for key in proof_keys.datanet_member_pages(datanet, n):
        raw = await read(key)
        ids.extend(decode_value(raw) if raw is not None else [])
    out = []
    for cid in ids[:n]:
        c = await _record(read, cid)
        if c is not None and c.kind == AssetKind.CONTRIBUTION and c.datanet == datanet \
                and c.status == Status.ACCEPTED:
            out.append(Contribution(cid, c.content_hash))
    return out
