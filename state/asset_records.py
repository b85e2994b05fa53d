"""Asset records: datanets, contributions, models and agents, their share tables and pools.

Every asset is one state value, `ast/ + id32 -> AssetRecord` (a msgpack array), holding
what a payment needs in ONE read: kind, price, sources, and the size of its upstream
expansion. What changes on every payment is apart, so the record stays put: a datanet's
contributor pool (`pol/ + datanet id`) and every asset's revenue rights -- accumulator,
vault, holders and their shares (state/revenue.py).

This module is the data layer only (shapes, keys, reads, writes, share-table math);
the rule that moves money is in state/attribution.py, the transactions in state/assets.py.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import IntEnum

from state.context import Context
from state.errors import Code, TxError

# --- keys (prefixes reserved for the asset tables in state/keys.py) ----------------------
ASSET = b"ast/"            # + asset id32 -> AssetRecord
POOL = b"pol/"             # + datanet id32 -> Pool
EARNINGS = b"ern/"         # + account20 + asset id32 -> cumulative uopen earned
EARNINGS_INDEX = b"eix/"   # paged list (state/asset_index.py): assets an account earned from
DEPENDENTS = b"dwn/"       # paged list: assets that name this asset as a source
MEMBERS = b"mbr/"          # paged list: contributions submitted to a datanet

# --- protocol caps --------------------------------------------------------------------------
MAX_EXPANSION = 1024       # itself + sources, recursively, counted with repetition
ACC_SCALE = 10**18         # fixed-point scale of the accumulators (pools, revenue rights)


class AssetKind(IntEnum):
    DATANET = 1
    CONTRIBUTION = 2
    MODEL = 3
    AGENT = 4


class Status(IntEnum):
    """A contribution's review state."""
    PENDING = 0
    ACCEPTED = 1
    REJECTED = 2


# kind -> kinds it may name as sources (LEDGER.md "Allowed edges")
ALLOWED_SOURCES: dict[int, frozenset[int]] = {
    AssetKind.MODEL: frozenset({AssetKind.DATANET, AssetKind.CONTRIBUTION, AssetKind.MODEL}),
    AssetKind.AGENT: frozenset({AssetKind.MODEL, AssetKind.AGENT}),
}


def asset_key(asset_id: bytes) -> bytes:
    return ASSET + asset_id


def pool_key(datanet_id: bytes) -> bytes:
    return POOL + datanet_id


def earnings_key(account: bytes, asset_id: bytes) -> bytes:
    return EARNINGS + account + asset_id


def compute_asset_id(tx_id: bytes) -> bytes:
    """Id of the datanet, model or agent registered by the tx with id `tx_id`."""
    return hashlib.sha256(b"attrchain/asset/" + tx_id).digest()


def compute_contribution_id(datanet_id: bytes, content_hash: bytes) -> bytes:
    """A contribution's id names its content within its datanet, so the same content can
    be submitted to a datanet only once (a copy cannot take a second share of the pool)."""
    return hashlib.sha256(b"attrchain/contribution/" + datanet_id + content_hash).digest()


def encode_big(n: int) -> bytes:
    """Unsigned int of any size as minimal big-endian bytes (msgpack ints stop at 2**64)."""
    return n.to_bytes((n.bit_length() + 7) // 8, "big")


def decode_big(b: bytes) -> int:
    return int.from_bytes(b, "big")


# --- records ------------------------------------------------------------------------------
@dataclass(slots=True)
class AssetRecord:
    """One asset. Its holders and their shares are in state/revenue.py (any number of them).
    `sources`: [[asset id, weight_ppm], ...] in
    registration order. `escrow`: uopen held by this record (a pending contribution's
    bond), counted by the supply invariant. `extra` is kind-specific:

        datanet:       [contributor_share_ppm, contribution_bond, curators[]]
        contribution:  [datanet, content_hash, size, status, weight, debt (big int bytes)]
        model, agent:  []
    """
    kind: int
    creator: bytes
    price: int
    sources: list
    expansion: int
    escrow: int
    name: str
    metadata_uri: str
    extra: list

    def encode(self) -> list:
        return [self.kind, self.creator, self.price, self.sources,
                self.expansion, self.escrow, self.name, self.metadata_uri, self.extra]

    @classmethod
    def decode(cls, v: list) -> "AssetRecord":
        return cls(*v)

    # datanet terms
    @property
    def contributor_share_ppm(self) -> int:
        return self.extra[0]

    @property
    def contribution_bond(self) -> int:
        return self.extra[1]

    @property
    def curators(self) -> list[bytes]:
        return self.extra[2]

    # contribution state
    @property
    def datanet(self) -> bytes:
        return self.extra[0]

    @property
    def content_hash(self) -> bytes:
        return self.extra[1]

    @property
    def status(self) -> int:
        return self.extra[3]

    @property
    def weight(self) -> int:
        return self.extra[4]

    @property
    def debt(self) -> int:
        """Scaled accumulator value already settled for this contribution (see attribution)."""
        return decode_big(self.extra[5])


ESCROW_FIELD = 5     # index of `escrow` in the encoded record (for the supply invariant)


def new_datanet(creator: bytes, name: str, metadata_uri: str, contributor_share_ppm: int,
                contribution_bond: int, curators: list[bytes]) -> AssetRecord:
    return AssetRecord(AssetKind.DATANET, creator, 0, [], 1, 0,
                       name, metadata_uri, [contributor_share_ppm, contribution_bond, list(curators)])


def new_contribution(contributor: bytes, datanet_id: bytes, content_hash: bytes, size: int,
                     metadata_uri: str, bond: int) -> AssetRecord:
    return AssetRecord(AssetKind.CONTRIBUTION, contributor, 0, [], 1,
                       bond, "", metadata_uri, [datanet_id, content_hash, size, Status.PENDING, 0, b""])


def new_built_asset(kind: AssetKind, creator: bytes, name: str, metadata_uri: str, price: int,
                    sources: list, expansion: int) -> AssetRecord:
    return AssetRecord(kind, creator, price,
                       [[s, w] for s, w in sources], expansion, 0, name, metadata_uri, [])


@dataclass(slots=True)
class Pool:
    """A datanet's contributor pool. `acc` is the reward per unit of accepted weight paid
    in since the pool began, scaled by ACC_SCALE; `balance` is every uopen paid in and not
    yet claimed (all contributions' accrued amounts plus the accumulator's dust)."""
    total_weight: int = 0
    acc: int = 0
    balance: int = 0
    members: int = 0          # accepted contributions

    def encode(self) -> list:
        return [self.total_weight, encode_big(self.acc), self.balance, self.members]

    @classmethod
    def decode(cls, v: list) -> "Pool":
        return cls(v[0], decode_big(v[1]), v[2], v[3])


POOL_BALANCE_FIELD = 2


# --- reads and writes -----------------------------------------------------------------------------
def get_asset(ctx: Context, asset_id: bytes) -> AssetRecord | None:
    v = ctx.get_record(asset_key(asset_id))
    return None if v is None else AssetRecord.decode(v)


def get_require_asset(ctx: Context, asset_id: bytes) -> AssetRecord:
    rec = get_asset(ctx, asset_id)
    if rec is None:
        raise TxError(Code.UNKNOWN_ASSET, f"no asset {asset_id.hex()}")
    return rec


def set_asset(ctx: Context, asset_id: bytes, rec: AssetRecord) -> None:
    ctx.put_record(asset_key(asset_id), rec.encode())


def get_pool(ctx: Context, datanet_id: bytes) -> Pool:
    """The datanet's pool; an empty one if no contribution was ever accepted."""
    v = ctx.get_record(pool_key(datanet_id))
    return Pool() if v is None else Pool.decode(v)


def set_pool(ctx: Context, datanet_id: bytes, pool: Pool) -> None:
    ctx.put_record(pool_key(datanet_id), pool.encode())


def get_earned(ctx: Context, account: bytes, asset_id: bytes) -> int:
    v = ctx.get_record(earnings_key(account, asset_id))
    return 0 if v is None else v
