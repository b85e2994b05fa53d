"""The attribution rule: how a payment flows up the graph to the people behind an asset.

When an amount R arrives at asset X (LEDGER.md, "How revenue flows"):
1. for each source (S, w) of X, in registration order, R * w // 1e6 arrives at S (recursively);
2. if X is a datanet with accepted weight, `rest * contributor_share_ppm // 1e6` of what
   remains goes to its contributor pool;
3. what remains goes to X's share holders pro rata by shares: it raises X's accumulator
   and vault (state/revenue.py), O(1) whatever the number of holders; each holder's part
   accrues until it is claimed or settled.

An arrival at a node reached along two paths is two arrivals, each rounded on its own:
the rule is applied per path, exactly as written, so the cost of a payment is the size
of the upstream expansion (<= 1,024 by the registration cap) and never depends on how
many contributions a datanet has.

Contributor pool: a reward-per-weight accumulator (as in staking contracts). A deposit d
raises `acc` by floor(d * ACC_SCALE / W), W the accepted weight at that moment; a
contribution of weight w that joined when acc was a0 has accrued
floor((w * acc - debt) / ACC_SCALE) with debt = w * a0 + ACC_SCALE * (pulled so far).
Both floors round toward the pool, so the accrued amounts never sum to more than the
pool holds; what they leave is dust that stays in the pool (docs/attribution.md).
A contribution's accrued part moves pool -> contribution -> holders (`process_pool_pull`)
before any of its holders is settled: a claim, a share transfer, a trade fill.

A payment is gathered in a `Payout` (the revenue rights and pools it raises) and written
once at the end: each touched key is read and written once per transaction however many
paths reach it, and never a key per holder.
"""
from __future__ import annotations

from dataclasses import dataclass

from state.accounts import checked_add, checked_sub, decrease_balance
from state.asset_records import (
    ACC_SCALE,
    AssetKind,
    AssetRecord,
    Pool,
    Status,
    encode_big,
    get_asset,
    get_pool,
    get_require_asset,
    set_asset,
    set_pool,
)
from state.context import Context
from state.errors import Code, TxError
from state.poa_records import get_attributor, process_open_escrows
from state.revenue import Rights, compute_accrued as compute_holder_accrued, get_position, get_rights
from state.revenue import process_settle_holder, set_rights
from state.tx import PPM, SignedTx


# A `use` does work in proportion to the assets it reaches and the keys it writes (one
# revenue-rights record per asset reached, one pool per datanet), up to 1,024 arrivals; a
# flat fee would let one cheap tx cost a block thousands of writes. So a use pays min_fee per USE_WORK_PER_FEE units of its work:
# checked on the stored expansion before any work, and on the keys it would write before
# it writes them (a refused use pays its fee and writes nothing).
USE_WORK_PER_FEE = 32


# --- pure math -----------------------------------------------------------------------------
def compute_use_fee(work: int, min_fee: int) -> int:
    """The least tx fee a use doing `work` units (arrivals, or keys written) must pay."""
    return min_fee * max(1, -(-work // USE_WORK_PER_FEE))


def compute_protocol_fee(price: int, protocol_fee_ppm: int) -> int:
    return price * protocol_fee_ppm // PPM


def compute_pool_part(rest: int, contributor_share_ppm: int) -> int:
    """Rule 2: the contributor pool's part of what remains at a datanet."""
    return rest * contributor_share_ppm // PPM


def compute_acc_increment(amount: int, total_weight: int) -> int:
    """Rise of the reward-per-weight accumulator for a deposit of `amount`."""
    return amount * ACC_SCALE // total_weight


def compute_accrued(acc: int, weight: int, debt: int) -> int:
    """What a contribution of `weight` with settled `debt` may claim at accumulator `acc`."""
    return (weight * acc - debt) // ACC_SCALE


# --- a payment in progress ----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Flow:
    """One amount that stopped somewhere (for tracing: the demo, explorers).
    `path` runs from the asset paid down to the asset where it stopped; `to` is
    "holders" (recipient: the asset whose holders accrue it), "pool" (recipient: the
    datanet) or "escrow" (recipient: the datanet; held for a Proof of Attribution, state/poa.py)."""
    path: tuple[bytes, ...]
    to: str
    recipient: bytes
    amount: int


class Payout:
    """Everything one payment moves, gathered in memory and then written by `apply`.

    Proof of Attribution's hook (state/poa.py): a payment made by the use tx `use` that
    passes a model with an attributor escrows, instead of depositing, what rule 2 would put
    into the pool of each datanet reached through that model (the nearest such model on
    the path attests)."""
    __slots__ = ("ctx", "records", "pools", "deposits", "rights", "arrived", "trace",
                 "use", "attributed", "escrows")

    def __init__(self, ctx: Context, trace: list[Flow] | None = None, use: bytes | None = None) -> None:
        self.ctx = ctx
        self.use = use
        self.attributed: dict[bytes, bool] = {}            # model -> has an attributor
        self.escrows: dict[bytes, tuple[bytes, int]] = {}  # datanet -> (model, uopen escrowed)
        self.records: dict[bytes, AssetRecord] = {}
        self.pools: dict[bytes, Pool] = {}
        self.deposits: dict[bytes, int] = {}               # datanet -> uopen into its pool
        self.rights: dict[bytes, Rights] = {}              # asset -> its raised accumulator
        self.arrived: dict[bytes, int] = {}                # asset -> uopen for its holders
        self.trace = trace

    def get_record(self, asset_id: bytes) -> AssetRecord:
        rec = self.records.get(asset_id)
        if rec is None:
            rec = self.records[asset_id] = get_require_asset(self.ctx, asset_id)
        return rec

    def add_to_holders(self, asset_id: bytes, amount: int, path: tuple[bytes, ...] = ()) -> None:
        """Rule 3 for `amount` at `asset_id`: O(1), whatever the number of holders."""
        rights = self.rights.get(asset_id)
        if rights is None:
            rights = self.rights[asset_id] = get_rights(self.ctx, asset_id)
        rights.add(amount)
        self.arrived[asset_id] = self.arrived.get(asset_id, 0) + amount
        if self.trace is not None:
            self.trace.append(Flow(path, "holders", asset_id, amount))

    def add_to_pool(self, datanet_id: bytes, pool: Pool, amount: int, path: tuple[bytes, ...]) -> None:
        pool.acc += compute_acc_increment(amount, pool.total_weight)
        pool.balance = checked_add(pool.balance, amount, "pool balance")
        self.deposits[datanet_id] = self.deposits.get(datanet_id, 0) + amount
        if self.trace is not None:
            self.trace.append(Flow(path, "pool", datanet_id, amount))

    def distribute(self, asset_id: bytes, amount: int) -> None:
        """`amount` arrives at `asset_id`: apply rules 1-3, recursively (an explicit stack,
        since a chain of 1,024 assets is deeper than Python's recursion limit)."""
        tracing = self.trace is not None
        stack: list[tuple[bytes, int, tuple[bytes, ...], bytes | None]] = [(asset_id, amount, (), None)]
        while stack:
            aid, r, path, model = stack.pop()
            if tracing:
                path = path + (aid,)
            rec = self.get_record(aid)
            rest = r
            if self.use is not None and rec.kind == AssetKind.MODEL and self.is_attributed(aid):
                model = aid
            if rec.sources:
                arrivals = []
                for source, weight in rec.sources:
                    part = r * weight // PPM                 # rule 1: what arrives at a source of that weight
                    if part:
                        arrivals.append((source, part, path, model))
                        rest -= part
                stack.extend(reversed(arrivals))             # first source first
            if rec.kind == AssetKind.DATANET and rest:
                pool = self.pools.get(aid)
                if pool is None:
                    pool = self.pools[aid] = get_pool(self.ctx, aid)
                if pool.total_weight:                        # rule 2
                    part = compute_pool_part(rest, rec.contributor_share_ppm)
                    if part and model is not None:
                        self.add_to_escrow(aid, model, part, path)
                        rest -= part
                    elif part:
                        self.add_to_pool(aid, pool, part, path)
                        rest -= part
            if rest:
                self.add_to_holders(aid, rest, path)                # rule 3

    def count_writes(self) -> int:
        return len(self.rights) + len(self.deposits) + 2 * len(self.escrows)   # an escrow + its queue entry

    def is_attributed(self, model: bytes) -> bool:
        known = self.attributed.get(model)
        if known is None:
            known = self.attributed[model] = get_attributor(self.ctx, model) is not None
        return known

    def add_to_escrow(self, datanet_id: bytes, model: bytes, amount: int, path: tuple[bytes, ...]) -> None:
        first, before = self.escrows.get(datanet_id, (model, 0))
        self.escrows[datanet_id] = (first, before + amount)
        if self.trace is not None:
            self.trace.append(Flow(path, "escrow", datanet_id, amount))

    def apply(self) -> None:
        """Write the payout: revenue rights (accumulator and vault), pools, escrows."""
        ctx = self.ctx
        if self.escrows:
            process_open_escrows(ctx, self.use, self.escrows)
        for asset_id, rights in self.rights.items():
            set_rights(ctx, asset_id, rights)
            ctx.emit("accrue", asset_id, self.arrived[asset_id])
        for datanet_id, amount in self.deposits.items():
            set_pool(ctx, datanet_id, self.pools[datanet_id])
            ctx.emit("pool", datanet_id, amount)


def compute_use_flows(ctx: Context, asset_id: bytes, price: int,
                      as_use: bool = False) -> tuple[int, list[Flow]]:
    """(protocol fee, flows) a use of `asset_id` at `price` would cause now; writes nothing.
    By static weights alone, unless `as_use`: then as a `use` tx would pay (escrows shown)."""
    trace: list[Flow] = []
    fee = compute_protocol_fee(price, ctx.params.protocol_fee_ppm)
    Payout(ctx, trace, use=bytes(32) if as_use else None).distribute(asset_id, price - fee)
    return fee, trace


# --- the contributor pool ----------------------------------------------------------------------------
def get_accrued(ctx: Context, contribution_id: bytes) -> int:
    """What an accepted contribution could claim now (0 for any other asset)."""
    rec = get_asset(ctx, contribution_id)
    if rec is None or rec.kind != AssetKind.CONTRIBUTION or rec.status != Status.ACCEPTED:
        return 0
    return compute_accrued(get_pool(ctx, rec.datanet).acc, rec.weight, rec.debt)


def process_pool_join(ctx: Context, contribution_id: bytes, rec: AssetRecord, weight: int) -> None:
    """An accepted contribution joins its datanet's pool from this moment on: it shares
    deposits made after now, none made before (its debt is the accumulator's value now)."""
    pool = get_pool(ctx, rec.datanet)
    pool.total_weight = checked_add(pool.total_weight, weight, "pool weight")
    pool.members += 1
    rec.extra[3] = Status.ACCEPTED
    rec.extra[4] = weight
    rec.extra[5] = encode_big(weight * pool.acc)
    set_pool(ctx, rec.datanet, pool)
    set_asset(ctx, contribution_id, rec)


def get_claimable(view, asset_id: bytes, account: bytes) -> int:
    """What `claim(asset_id)` by `account` would pay now: its accrued part of the asset's
    accumulator, counting a contribution's part still in its datanet's pool as pulled."""
    pos = get_position(view, asset_id, account)
    if pos is None:
        return 0
    acc = get_rights(view, asset_id).acc + get_accrued(view, asset_id) * (ACC_SCALE // PPM)
    return compute_holder_accrued(pos, acc)


def process_pool_pull(ctx: Context, contribution_id: bytes) -> int:
    """Pool -> contribution: move what an accepted contribution accrued in its datanet's
    pool into its own holders' accumulator (rule 3). Returns the amount (0 for any asset
    that is not an accepted contribution). Done before any of its holders is settled."""
    rec = get_asset(ctx, contribution_id)
    if rec is None or rec.kind != AssetKind.CONTRIBUTION or rec.status != Status.ACCEPTED:
        return 0
    pool, amount = get_settlement(ctx, rec)
    if amount:
        pool.balance = checked_sub(pool.balance, amount, "pool balance")
        rec.extra[5] = encode_big(rec.debt + amount * ACC_SCALE)
        set_pool(ctx, rec.datanet, pool)
        set_asset(ctx, contribution_id, rec)
        payout = Payout(ctx)
        payout.records[contribution_id] = rec
        payout.add_to_holders(contribution_id, amount)
        payout.apply()
    return amount


def get_settlement(ctx: Context, rec: AssetRecord) -> tuple[Pool, int]:
    """(the pool, what the accepted contribution `rec` accrued in it)."""
    pool = get_pool(ctx, rec.datanet)
    return pool, compute_accrued(pool.acc, rec.weight, rec.debt)


# --- transactions ----------------------------------------------------------------------------------------
def process_use(ctx: Context, tx: SignedTx) -> None:
    """use(asset, max_price): pay the asset's price; the protocol fee goes to the block's
    validators, the rest flows up the attribution graph."""
    asset_id, max_price = tx.args.asset, tx.args.max_price
    rec = get_require_asset(ctx, asset_id)
    # Verify the asset is something one uses (a model or an agent)
    if rec.kind not in (AssetKind.MODEL, AssetKind.AGENT):
        raise TxError(Code.WRONG_ASSET_KIND, f"only models and agents are used, not a {AssetKind(rec.kind).name.lower()}")
    price = rec.price
    # Verify the price is within what the sender agreed to pay
    if price > max_price:
        raise TxError(Code.PRICE_ABOVE_MAX, f"price {price} is above max_price {max_price}")
    # Verify the tx fee pays for the assets the payment may reach
    verify_use_fee(tx.tx.fee, rec.expansion, ctx.params.min_fee, "reaches", "assets")
    # Verify the sender can pay the price (decrease_balance raises INSUFFICIENT_FUNDS)
    decrease_balance(ctx, tx.sender, price)
    fee = compute_protocol_fee(price, ctx.params.protocol_fee_ppm)
    ctx.collect_fee(fee)
    ctx.emit("use", asset_id, tx.sender, price, fee)
    if price > fee:
        payout = Payout(ctx, use=tx.id)
        payout.records[asset_id] = rec
        payout.distribute(asset_id, price - fee)
        # Verify the tx fee pays for the keys the payment writes
        verify_use_fee(tx.tx.fee, payout.count_writes(), ctx.params.min_fee, "writes", "keys")
        payout.apply()


def verify_use_fee(fee: int, work: int, min_fee: int, verb: str, what: str) -> None:
    need = compute_use_fee(work, min_fee)
    if fee < need:
        raise TxError(Code.FEE_TOO_LOW, f"this use {verb} {work} {what}: it needs a fee of at least {need} "
                                        f"(min_fee per {USE_WORK_PER_FEE})")


def process_claim(ctx: Context, tx: SignedTx) -> None:
    """claim(asset): settle the sender on `asset` (any kind): what it accrued as a holder
    is paid from the asset's vault to its balance. For a contribution, what it accrued in
    its datanet's pool first moves into its holders' accumulator, so one claim collects both."""
    asset_id = tx.args.asset
    get_require_asset(ctx, asset_id)
    process_pool_pull(ctx, asset_id)
    # Verify something has accrued to the sender
    if process_settle_holder(ctx, asset_id, tx.sender) == 0:
        raise TxError(Code.NOTHING_TO_CLAIM, "nothing has accrued to the sender on this asset")
