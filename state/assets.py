"""The asset transactions: datanets, contributions and their review, models and agents,
prices and share transfers, plus `use` and `claim` from state/attribution.py.

`PROCESSORS` (its kinds) and the `get_*_holdings` functions (the uopen the asset tables
hold: a pending contribution's escrowed bond in its record, each contributor pool's
balance, each asset's revenue vault, accrued-but-unclaimed amounts plus dust, and each
resting buy order's escrow, state/market.py) are composed into the ledger's tables by
state/registry.py.

Decisions LEDGER.md leaves open (docs/attribution.md explains each):
- owner of an asset (who may `set_price`) = its top holder: the most shares, ties to the
  smallest address -- the same account that receives rounding dust;
- a datanet needs at least one curator; a contribution's id is derived from
  (datanet, content hash), so the same content enters a datanet once;
- models may cite only accepted contributions; only models and agents can be used;
- `transfer_shares` settles both holders first (and, for an accepted contribution, first
  moves what it accrued in its pool to its holders), so revenue belongs to whoever held
  the shares while it arrived; only shares free of sell orders can be transferred.
"""
from __future__ import annotations

from state.accounts import decrease_balance, increase_balance
from state.asset_index import process_list_append
from state.asset_records import (
    ALLOWED_SOURCES,
    DEPENDENTS,
    ESCROW_FIELD,
    MAX_EXPANSION,
    MEMBERS,
    POOL_BALANCE_FIELD,
    AssetKind,
    Status,
    asset_key,
    compute_asset_id,
    compute_contribution_id,
    get_asset,
    get_require_asset,
    new_built_asset,
    new_contribution,
    new_datanet,
    set_asset,
)
from state.attribution import (
    Payout,
    process_claim,
    process_pool_join,
    process_pool_pull,
    process_use,
)
from state.codec import decode_value
from state.context import Context
from state.errors import Code, TxError
from state.market import process_cancel_order, process_place_order
from state.order_book import ORDER_ESCROW_FIELD
from state.revenue import VAULT_FIELD, get_top_holder, process_issue_shares, process_move_shares
from state.tx import SignedTx


def _kind_name(kind: int) -> str:
    return AssetKind(kind).name.lower()


# --- datanets and contributions ----------------------------------------------------------------
def process_create_datanet(ctx: Context, tx: SignedTx) -> None:
    """create_datanet(name, metadata_uri, contributor_share_ppm, contribution_bond, curators)."""
    a = tx.args
    # Verify someone can review contributions
    if not a.curators:
        raise TxError(Code.OUT_OF_RANGE, "a datanet needs at least one curator")
    datanet_id = compute_asset_id(tx.id)
    set_asset(ctx, datanet_id, new_datanet(tx.sender, a.name, a.metadata_uri, a.contributor_share_ppm,
                                           a.contribution_bond, list(a.curators)))
    process_issue_shares(ctx, datanet_id, tx.sender)
    ctx.emit("asset", datanet_id, AssetKind.DATANET)


def process_contribute(ctx: Context, tx: SignedTx) -> None:
    """contribute(datanet, content_hash, size, metadata_uri): submit a data item and escrow
    the datanet's contribution bond until a curator reviews it."""
    a = tx.args
    datanet = get_require_asset(ctx, a.datanet)
    # Verify the target is a datanet
    if datanet.kind != AssetKind.DATANET:
        raise TxError(Code.WRONG_ASSET_KIND, f"contributions go to a datanet, not a {_kind_name(datanet.kind)}")
    contribution_id = compute_contribution_id(a.datanet, a.content_hash)
    # Verify this content is not already in the datanet
    if ctx.get(asset_key(contribution_id)) is not None:
        raise TxError(Code.ASSET_EXISTS, "this content was already submitted to this datanet")
    bond = datanet.contribution_bond
    # Verify the sender can escrow the bond (decrease_balance raises INSUFFICIENT_FUNDS)
    decrease_balance(ctx, tx.sender, bond)
    set_asset(ctx, contribution_id, new_contribution(tx.sender, a.datanet, a.content_hash, a.size,
                                                     a.metadata_uri, bond))
    process_issue_shares(ctx, contribution_id, tx.sender)
    process_list_append(ctx, MEMBERS, a.datanet, contribution_id)
    ctx.emit("asset", contribution_id, AssetKind.CONTRIBUTION)


def process_review(ctx: Context, tx: SignedTx) -> None:
    """review(contribution, accept, weight): accept with a weight (the bond returns to the
    contributor, the contribution joins the pool) or reject (the bond is forfeited to the
    datanet's share holders by rule 3)."""
    a = tx.args
    rec = get_require_asset(ctx, a.contribution)
    # Verify the asset is a contribution
    if rec.kind != AssetKind.CONTRIBUTION:
        raise TxError(Code.WRONG_ASSET_KIND, f"only contributions are reviewed, not a {_kind_name(rec.kind)}")
    datanet = get_require_asset(ctx, rec.datanet)
    # Verify the sender curates the contribution's datanet
    if tx.sender not in datanet.curators:
        raise TxError(Code.NOT_CURATOR, "the sender is not a curator of this datanet")
    # Verify the contribution awaits its review
    if rec.status != Status.PENDING:
        raise TxError(Code.ALREADY_REVIEWED, f"the contribution was already {Status(rec.status).name.lower()}")
    bond, rec.escrow = rec.escrow, 0
    if a.accept:
        increase_balance(ctx, rec.creator, bond)
        process_pool_join(ctx, a.contribution, rec, a.weight)
    else:
        rec.extra[3] = Status.REJECTED
        set_asset(ctx, a.contribution, rec)
        if bond:
            payout = Payout(ctx)
            payout.add_to_holders(rec.datanet, bond)
            payout.apply()
    ctx.emit("review", a.contribution, a.accept, a.weight)


# --- models and agents --------------------------------------------------------------------------------
def process_register(ctx: Context, tx: SignedTx, kind: AssetKind) -> None:
    """A model or an agent and the assets it was built from."""
    a = tx.args
    allowed = ALLOWED_SOURCES[kind]
    expansion = 1
    for source_id, _ in a.sources:
        source = get_asset(ctx, source_id)
        # Verify every source exists (so the graph stays acyclic by construction)
        if source is None:
            raise TxError(Code.UNKNOWN_ASSET, f"source {source_id.hex()} does not exist")
        # Verify the edge kind is allowed
        if source.kind not in allowed:
            raise TxError(Code.WRONG_EDGE_KIND,
                          f"a {_kind_name(kind)} cannot be built on a {_kind_name(source.kind)}")
        # Verify a contribution source passed review
        if source.kind == AssetKind.CONTRIBUTION and source.status != Status.ACCEPTED:
            raise TxError(Code.NOT_ACCEPTED, f"source contribution {source_id.hex()} is not accepted")
        expansion += source.expansion
    # Verify the upstream expansion (counted with repetition) stays within the cap
    if expansion > MAX_EXPANSION:
        raise TxError(Code.EXPANSION_TOO_LARGE,
                      f"upstream expansion would be {expansion} assets, at most {MAX_EXPANSION}")
    asset_id = compute_asset_id(tx.id)
    set_asset(ctx, asset_id, new_built_asset(kind, tx.sender, a.name, a.metadata_uri, a.price,
                                             list(a.sources), expansion))
    process_issue_shares(ctx, asset_id, tx.sender)
    for source_id, _ in a.sources:
        process_list_append(ctx, DEPENDENTS, source_id, asset_id)
    ctx.emit("asset", asset_id, kind)


def process_register_model(ctx: Context, tx: SignedTx) -> None:
    """register_model(name, metadata_uri, price, sources): sources are datanets,
    accepted contributions and models."""
    process_register(ctx, tx, AssetKind.MODEL)


def process_register_agent(ctx: Context, tx: SignedTx) -> None:
    """register_agent(name, metadata_uri, price, sources): sources are models and agents."""
    process_register(ctx, tx, AssetKind.AGENT)


# --- prices and shares -------------------------------------------------------------------------------------
def process_set_price(ctx: Context, tx: SignedTx) -> None:
    """set_price(asset, price): by the asset's owner, its top share holder."""
    rec = get_require_asset(ctx, tx.args.asset)
    # Verify the asset has a price (models and agents)
    if rec.kind not in (AssetKind.MODEL, AssetKind.AGENT):
        raise TxError(Code.WRONG_ASSET_KIND, f"a {_kind_name(rec.kind)} has no price")
    # Verify the sender owns the asset (the most shares; ties: the smallest address)
    if get_top_holder(ctx, tx.args.asset) != tx.sender:
        raise TxError(Code.NOT_OWNER, "only the asset's top share holder may set its price")
    rec.price = tx.args.price
    set_asset(ctx, tx.args.asset, rec)
    ctx.emit("price", tx.args.asset, rec.price)


def process_transfer_shares(ctx: Context, tx: SignedTx) -> None:
    """transfer_shares(asset, to, shares): give revenue rights (a sale goes through the book)."""
    a = tx.args
    get_require_asset(ctx, a.asset)
    process_pool_pull(ctx, a.asset)
    # Verify the sender holds the shares free of orders (process_move_shares raises
    # INSUFFICIENT_SHARES); both holders are settled before the shares move
    process_move_shares(ctx, a.asset, tx.sender, a.to, a.shares)
    ctx.emit("shares", a.asset, tx.sender, a.to, a.shares)


PROCESSORS = {
    "create_datanet": process_create_datanet,
    "contribute": process_contribute,
    "review": process_review,
    "register_model": process_register_model,
    "register_agent": process_register_agent,
    "use": process_use,
    "set_price": process_set_price,
    "transfer_shares": process_transfer_shares,
    "claim": process_claim,
    "place_order": process_place_order,
    "cancel_order": process_cancel_order,
}


# --- the supply invariant ----------------------------------------------------------------------------------
def get_asset_holdings(key: bytes, value: bytes) -> int:
    """uopen held by an asset record: a pending contribution's escrowed bond."""
    return decode_value(value)[ESCROW_FIELD]


def get_pool_holdings(key: bytes, value: bytes) -> int:
    """uopen held by a contributor pool: accrued-but-unclaimed amounts plus dust."""
    return decode_value(value)[POOL_BALANCE_FIELD]


def get_vault_holdings(key: bytes, value: bytes) -> int:
    """uopen held by an asset's revenue vault: accrued-but-unclaimed amounts plus dust."""
    return decode_value(value)[VAULT_FIELD]


def get_order_holdings(key: bytes, value: bytes) -> int:
    """uopen escrowed by an order: a resting buy's remaining shares x its price."""
    return decode_value(value)[ORDER_ESCROW_FIELD]

