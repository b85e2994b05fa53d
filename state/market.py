"""The market for revenue rights: `place_order`, `cancel_order` and the end-of-block
expiry sweep (LEDGER.md, "The market for revenue rights"; docs/market.md).

A placement escrows first (a sell locks its shares in the seller's position, where they
keep earning for it; a buy locks shares * price uopen), then matches at once against the
other side, best price first and oldest first within a price; each fill is at the
resting (maker's) price, settles both holders (state/revenue.py) and moves shares and
uopen; a buyer's price improvement returns to it. What is left rests on the book.

Work is bounded and paid: a placement does at most min(max_fills_per_order,
fee // min_fee) units of matching work (a fill, or a resting order taken off the book
because it expired or belongs to the taker). If that budget runs out while the order
still crosses the book, the rest of the order is returned rather than rested, so the book
is never crossed. A resting order of the taker's own account met while matching is
cancelled (its escrow returns): an order never fills against its own account.
"""
from __future__ import annotations

from state.accounts import checked_sub, decrease_balance, increase_balance
from state.asset_records import get_require_asset
from state.attribution import process_pool_pull
from state.errors import Code, TxError
from state.order_book import (
    OPPOSITE,
    Order,
    Status,
    book_ns,
    compute_order_id,
    compute_rank_price,
    get_order,
    level_key,
    process_expiry_queue,
    process_level_fill,
    process_record_fill,
    process_rest,
    process_unlink,
    set_order,
)
from state import ordered_set
from state.revenue import get_rights, process_close_position, process_lock_shares, process_open_position
from state.tx import MAX_AMOUNT, SignedTx


def compute_order_budget(fee: int, min_fee: int, max_fills: int) -> int:
    """Units of matching work a placement paying `fee` may do."""
    return min(max_fills, fee // max(1, min_fee))


def _crosses(taker: Order, price: int) -> bool:
    return price <= taker.price if taker.side == "buy" else price >= taker.price


def process_close(ctx, order_id: bytes, order: Order, status: Status, level: list | None = None) -> bool:
    """Take an open order off the book and return its escrow (uopen or locked shares).
    `level`: its price level's record if the caller read it. Returns True if the level
    emptied."""
    emptied = process_unlink(ctx, order_id, order, level)
    if order.side == "buy":
        increase_balance(ctx, order.owner, order.escrow)
        order.escrow = 0
    else:
        process_lock_shares(ctx, order.asset, order.owner, -order.remaining)
    order.status = status
    set_order(ctx, order_id, order)
    ctx.emit("order_closed", order_id, order.owner, Status(status).name.lower(), order.remaining)
    return emptied


class _Taker:
    """The taker's position during its fills: settled once before the first, changed in
    memory by each, written once after the last (nothing arrives for the holders in
    between), so k fills cost the taker one settlement, not k. While it is open, the
    asset's rights (read once) serve the makers' settlements too, and the asset's fill
    ring head is read once."""
    __slots__ = ("ctx", "order", "pos", "before", "rights", "fills")

    def __init__(self, ctx, order: Order) -> None:
        self.ctx, self.order, self.pos, self.before = ctx, order, None, None
        self.rights = self.fills = None

    def open(self):
        if self.pos is None:
            self.rights = get_rights(self.ctx, self.order.asset)
            self.pos, self.before = process_open_position(self.ctx, self.order.asset, self.order.owner,
                                                          self.rights)
        return self.pos

    def close(self) -> None:
        if self.pos is not None:
            process_close_position(self.ctx, self.order.asset, self.order.owner, self.pos, self.before)
            self.pos = self.rights = None


def _fill(ctx, taker_id: bytes, taker: _Taker, maker_id: bytes, maker: Order, price: int, level: list) -> bool:
    """One fill at the maker's price (`level`: its price level's record); True if the
    level emptied."""
    order = taker.order
    shares = min(order.remaining, maker.remaining)
    value = shares * price                       # <= the buyer's escrow: no overflow
    taker_pos = taker.open()
    maker_pos, maker_before = process_open_position(ctx, order.asset, maker.owner, taker.rights)
    if order.side == "buy":
        seller, buyer = maker.owner, order.owner
        order.escrow -= value
        maker_pos.shares -= shares
        maker_pos.locked -= shares
        taker_pos.shares += shares
    else:
        seller, buyer = order.owner, maker.owner
        maker.escrow -= value
        maker_pos.shares += shares
        taker_pos.shares -= shares
        taker_pos.locked -= shares
    process_close_position(ctx, order.asset, maker.owner, maker_pos, maker_before)
    increase_balance(ctx, seller, value)
    order.remaining -= shares
    emptied = False
    if shares == maker.remaining:
        emptied = process_unlink(ctx, maker_id, maker, level)   # subtracts what was left from the level
        maker.remaining = 0
        maker.status = Status.FILLED
    else:
        maker.remaining -= shares
        process_level_fill(ctx, maker, shares, level)
    set_order(ctx, maker_id, maker)
    taker.fills = process_record_fill(ctx, order.asset, price, shares, buyer, seller, maker_id, taker_id,
                                      taker.fills)
    ctx.emit("fill", order.asset, maker_id, taker_id, buyer, seller, shares, price)
    return emptied


def process_match(ctx, taker_id: bytes, order: Order, budget: int) -> bool:
    """Fill `order` against the other side of its book; True if the budget ran out while
    it still crosses the book."""
    side = OPPOSITE[order.side]
    ns = book_ns(order.asset, side)
    taker = _Taker(ctx, order)
    price = None                                 # the best price, known until its level empties
    pulled = False
    try:
        while order.remaining:
            if price is None:
                rank = ordered_set.first(ctx, ns)
                if rank is None:
                    return False
                price = compute_rank_price(side, rank)
            if not _crosses(order, price):
                return False
            if budget == 0:
                return True
            budget -= 1
            level = ctx.get_record(level_key(order.asset, side, price))
            maker_id = level[0]
            maker = get_order(ctx, maker_id)
            if maker.expires_at < ctx.height or maker.owner == order.owner:
                taker.close()                    # the maker's position may be the taker's
                emptied = process_close(ctx, maker_id, maker, Status.EXPIRED if maker.expires_at < ctx.height
                                        else Status.CANCELLED, level)
            else:
                if not pulled:      # a contribution's pool part belongs to the holders until now
                    process_pool_pull(ctx, order.asset)
                    pulled = True
                emptied = _fill(ctx, taker_id, taker, maker_id, maker, price, level)
            if emptied:
                price = None
        return False
    finally:
        taker.close()


def process_place_order(ctx, tx: SignedTx) -> None:
    """place_order(asset, side, shares, price, expires_at)."""
    a = tx.args
    params = ctx.params
    # Verify the asset exists
    get_require_asset(ctx, a.asset)
    # Verify expires_at is now or later, and within max_order_blocks
    if a.expires_at < ctx.height:
        raise TxError(Code.EXPIRY_IN_PAST, f"expires_at {a.expires_at} is before this block ({ctx.height})")
    if a.expires_at > ctx.height + params.max_order_blocks:
        raise TxError(Code.EXPIRY_TOO_FAR, f"expires_at is at most height + {params.max_order_blocks}")
    if a.side == "buy":
        escrow = a.shares * a.price
        # Verify the escrow is an amount (an overflow is invalid, never wraps)
        if escrow > MAX_AMOUNT:
            raise TxError(Code.ESCROW_OVERFLOW, f"{a.shares} shares x {a.price} uopen exceeds 2**63-1")
        # Verify the sender can escrow it (decrease_balance raises INSUFFICIENT_FUNDS)
        decrease_balance(ctx, tx.sender, escrow)
    else:
        escrow = 0
        # Verify the sender holds the shares free of orders (raises INSUFFICIENT_SHARES)
        process_lock_shares(ctx, a.asset, tx.sender, a.shares)
    order_id = compute_order_id(tx.id)
    order = Order(tx.sender, a.asset, a.side, a.price, a.shares, a.shares, escrow, a.expires_at,
                  Status.OPEN, b"", b"", ctx.height)
    ctx.emit("order", order_id, tx.sender, a.asset, a.side, a.shares, a.price)
    crossed = process_match(ctx, order_id, order,
                            compute_order_budget(tx.tx.fee, params.min_fee, params.max_fills_per_order))
    if order.remaining and not crossed:
        if order.side == "buy":                  # keep remaining x price; the rest is improvement
            keep = order.remaining * order.price
            increase_balance(ctx, tx.sender, checked_sub(order.escrow, keep, "escrow"))
            order.escrow = keep
        process_rest(ctx, order_id, order)
        set_order(ctx, order_id, order)
        return
    if order.side == "buy":
        increase_balance(ctx, tx.sender, order.escrow)
        order.escrow = 0
    elif order.remaining:
        process_lock_shares(ctx, a.asset, tx.sender, -order.remaining)
    order.status = Status.CANCELLED if order.remaining else Status.FILLED
    set_order(ctx, order_id, order)
    if order.remaining:
        ctx.emit("order_closed", order_id, tx.sender, "work_limit", order.remaining)


def process_cancel_order(ctx, tx: SignedTx) -> None:
    """cancel_order(order): by its owner; the escrow returns."""
    order_id = tx.args.order
    order = get_order(ctx, order_id)
    # Verify the order exists, is the sender's, and is still open
    if order is None:
        raise TxError(Code.UNKNOWN_ORDER, f"no order {order_id.hex()}")
    if order.owner != tx.sender:
        raise TxError(Code.NOT_ORDER_OWNER, "only the order's owner may cancel it")
    if order.status == Status.FILLED:
        raise TxError(Code.ORDER_FILLED, "the order was filled")
    if order.status == Status.CANCELLED:
        raise TxError(Code.ORDER_CANCELLED, "the order was already cancelled")
    if order.status == Status.EXPIRED or order.expires_at < ctx.height:
        raise TxError(Code.ORDER_EXPIRED, f"the order expired after height {order.expires_at}")
    process_close(ctx, order_id, order, Status.CANCELLED)


def process_expiry_sweep(ctx) -> None:
    """End of block: close up to max_expiry_sweep orders whose expires_at has passed."""
    process_expiry_queue(ctx, ctx.params.max_expiry_sweep,
                         lambda order_id, order: process_close(ctx, order_id, order, Status.EXPIRED))
