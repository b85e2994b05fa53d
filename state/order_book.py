"""The order book's storage: orders, price levels in time order, the best price of a side,
an account's open orders, the expiry queue and recent fills. The matching rule is in
state/market.py; this module only keeps these tables consistent.

    ord/ + order id32                 -> Order (kept after it closes: status, fills, refunds)
    obl/ + asset32 + side1 + rank8    -> [head id, tail id, shares, orders]  one price level
    obk/ + asset32 + side1 (+ path)   ordered set of rank8 (state/ordered_set.py): least = best
    oac/ + account20 (+ path)         ordered set of asset32 + side1 + rank8 + order id32: the
                                      account's open orders, by book and best price first
    oxq/ + u64(expires_at) [+ page]   paged list of the order ids that expire at that height
    sys/order_sweep                   [height, index]: where the end-of-block sweep goes on
    fil/ + asset32                    [fills so far, last price, height of the last fill]
    fil/ + asset32 + u8(n % 64)       the n-th fill: [height, price, shares, buyer, seller, maker, taker]

rank8 is the price as 8 big-endian bytes for asks and 2**63-1 - price for bids, so the
least key of either side is its best price (lowest ask, highest bid); reading it walks
one path of the ordered set, O(log levels). Orders at one level form a doubly linked
list in arrival order (time priority), so the head is O(1) and a cancel unlinks in O(1);
the head's `prev` is stale by design (see process_unlink). An account's open orders are
keyed by their place in the book, not by id alone, so the fills of one account's orders
at neighbouring prices (a maker's ladder, met best price first) change one leaf of its
set, not one leaf each; and since no tx reads that set, its changes are noted in the
block's context and applied once, in key order, at the end of the block
(`process_flush_open_orders`).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import IntEnum

from state import ordered_set
from state.asset_index import get_list_length, iter_list, process_list_append, process_list_delete
from state.context import Context
from state.keys import u64
from state.tx import MAX_AMOUNT

ORDER = b"ord/"
LEVEL = b"obl/"
BOOK = b"obk/"
ACCOUNT_ORDERS = b"oac/"
EXPIRY = b"oxq/"
SWEEP = b"sys/order_sweep"
FILLS = b"fil/"

RECENT_FILLS = 64                  # fills kept per asset (a ring)
ORDER_ESCROW_FIELD = 6             # index of `escrow` in the encoded Order (supply invariant)
SIDE_BYTE = {"buy": b"\x00", "sell": b"\x01"}
OPPOSITE = {"buy": "sell", "sell": "buy"}


class Status(IntEnum):
    OPEN = 0
    FILLED = 1
    CANCELLED = 2
    EXPIRED = 3


@dataclass(slots=True)
class Order:
    """`remaining`: shares not yet filled. `escrow`: uopen locked by a buy
    (remaining * price while it rests); a sell locks `remaining` shares in its owner's
    position instead. `prev`/`next`: neighbours at its price level (b"" at the ends; the
head's `prev` is stale, see process_unlink)."""
    owner: bytes
    asset: bytes
    side: str
    price: int
    shares: int
    remaining: int
    escrow: int
    expires_at: int
    status: int
    prev: bytes
    next: bytes
    placed_at: int

    def encode(self) -> list:
        return [self.owner, self.asset, self.side, self.price, self.shares, self.remaining, self.escrow,
                self.expires_at, self.status, self.prev, self.next, self.placed_at]

    @classmethod
    def decode(cls, v: list) -> "Order":
        return cls(*v)


def compute_order_id(tx_id: bytes) -> bytes:
    """An order's id names the tx that placed it, so a client knows it before inclusion."""
    return hashlib.sha256(b"attrchain/order/" + tx_id).digest()


def compute_rank(side: str, price: int) -> bytes:
    return (price if side == "sell" else MAX_AMOUNT - price).to_bytes(8, "big")


def compute_rank_price(side: str, rank: bytes) -> int:
    n = int.from_bytes(rank, "big")
    return n if side == "sell" else MAX_AMOUNT - n


def book_ns(asset_id: bytes, side: str) -> bytes:
    return BOOK + asset_id + SIDE_BYTE[side]


def level_key(asset_id: bytes, side: str, price: int) -> bytes:
    return LEVEL + asset_id + SIDE_BYTE[side] + compute_rank(side, price)


def order_key(order_id: bytes) -> bytes:
    return ORDER + order_id


# --- orders ---------------------------------------------------------------------------------
def get_order(view, order_id: bytes) -> Order | None:
    v = view.get_record(order_key(order_id))
    return None if v is None else Order.decode(v)


def set_order(ctx, order_id: bytes, order: Order) -> None:
    ctx.put_record(order_key(order_id), order.encode())


def get_level(view, asset_id: bytes, side: str, price: int) -> list | None:
    """[head id, tail id, shares, orders] of a price level, or None if it is empty."""
    return view.get_record(level_key(asset_id, side, price))


def iter_levels(view, asset_id: bytes, side: str, limit: int):
    """(price, shares, orders) of the best `limit` levels of a side, best first."""
    for rank in ordered_set.iter_keys(view, book_ns(asset_id, side), limit):
        price = compute_rank_price(side, rank)
        head, tail, shares, count = view.get_record(level_key(asset_id, side, price))
        yield price, shares, count


def _account_entry(order_id: bytes, order: Order) -> bytes:
    return order.asset + SIDE_BYTE[order.side] + compute_rank(order.side, order.price) + order_id


def iter_open_orders(view, account: bytes, limit: int):
    """Ids of the account's open orders, at most `limit`: by asset, side (buys first),
    then best price first, then by id."""
    if isinstance(view, Context):
        process_flush_open_orders(view)
    return (k[-32:] for k in ordered_set.iter_keys(view, ACCOUNT_ORDERS + account, limit))


def process_flush_open_orders(ctx) -> None:
    """End of block: apply the block's changes to the accounts' open-order sets (no tx
    reads them, so they are noted as orders rest and leave, and written here once)."""
    ordered_set.process_flush_noted(ctx, ACCOUNT_ORDERS)


# --- resting and leaving the book ----------------------------------------------------------------
def process_rest(ctx, order_id: bytes, order: Order) -> None:
    """Put an open order at the tail of its price level, in its owner's open orders and in
    the expiry queue. The caller writes the order itself."""
    key = level_key(order.asset, order.side, order.price)
    level = ctx.get_record(key)
    if level is None:
        level = [order_id, order_id, order.remaining, 1]
        ordered_set.insert(ctx, book_ns(order.asset, order.side), compute_rank(order.side, order.price))
    else:
        tail = get_order(ctx, level[1])
        tail.next = order_id
        set_order(ctx, level[1], tail)
        order.prev = level[1]
        level[1] = order_id
        level[2] += order.remaining
        level[3] += 1
    ctx.put_record(key, level)
    ordered_set.note_insert(ctx, ACCOUNT_ORDERS + order.owner, _account_entry(order_id, order))
    process_list_append(ctx, EXPIRY, u64(order.expires_at), order_id)
    if ctx.get_record(SWEEP) is None:                 # the first order ever: the sweep starts
        ctx.put_record(SWEEP, [ctx.height, 0])


def process_level_fill(ctx, order: Order, shares: int, level: list) -> None:
    """`shares` of the level's head order were filled (the order stays at the head);
    `level`: its record as read by the caller."""
    key = level_key(order.asset, order.side, order.price)
    level[2] -= shares
    ctx.put_record(key, level)


def process_unlink(ctx, order_id: bytes, order: Order, level: list | None = None) -> bool:
    """Take an order off the book (its level, and the level off the side if it empties)
    and out of its owner's open orders. The caller sets its status and writes it.
    `level`: the level's record if the caller read it already. Returns True if its price
    level emptied.

    Taking the head off (every fill that completes a maker) moves only the level's head
    pointer: the new head's `prev` is left naming the departed order, never read again
    (nothing is ever inserted before a head, and an order is the head exactly when the
    level says so), which spares a read and a write of the next order per fill."""
    key = level_key(order.asset, order.side, order.price)
    if level is None:
        level = ctx.get_record(key)
    at_head, at_tail = level[0] == order_id, level[1] == order_id
    if at_head:
        level[0] = order.next
    else:                              # the order before it now points past it
        _relink(ctx, order.prev, "next", order.next)
    if at_tail:
        level[1] = b"" if at_head else order.prev
    elif not at_head:                  # the order after it now points back past it
        _relink(ctx, order.next, "prev", order.prev)
    level[2] -= order.remaining
    level[3] -= 1
    if level[3]:
        ctx.put_record(key, level)
    else:
        ctx.delete(key)
        ordered_set.remove(ctx, book_ns(order.asset, order.side), compute_rank(order.side, order.price))
    order.prev = order.next = b""
    ordered_set.note_remove(ctx, ACCOUNT_ORDERS + order.owner, _account_entry(order_id, order))
    return not level[3]


def _relink(ctx, neighbour_id: bytes, field: str, value: bytes) -> None:
    rec = get_order(ctx, neighbour_id)
    setattr(rec, field, value)
    set_order(ctx, neighbour_id, rec)


# --- fills ---------------------------------------------------------------------------------------
def process_record_fill(ctx, asset_id: bytes, price: int, shares: int, buyer: bytes, seller: bytes,
                        maker_id: bytes, taker_id: bytes, head: list | None = None) -> list:
    """Record a fill in the asset's ring; returns the ring's head record, which a caller
    recording several fills passes back in (one read, not one per fill)."""
    if head is None:
        head = get_fill_head(ctx, asset_id) or [0, 0, 0]
    n = head[0]
    ctx.put_record(FILLS + asset_id + bytes([n % RECENT_FILLS]),
                   [ctx.height, price, shares, buyer, seller, maker_id, taker_id])
    head[:] = [n + 1, price, ctx.height]
    ctx.put_record(FILLS + asset_id, head)
    return head


def _recent_slots(asset_id: bytes, count: int, limit: int) -> list[bytes]:
    """Keys of the newest min(limit, RECENT_FILLS) of `count` fills, newest first."""
    oldest = max(0, count - min(limit, RECENT_FILLS))
    return [FILLS + asset_id + bytes([i % RECENT_FILLS]) for i in range(count - 1, oldest - 1, -1)]


def get_fill_head(view, asset_id: bytes) -> list | None:
    """[fills so far, last price, height of the last fill]; None if the asset never traded."""
    return view.get_record(FILLS + asset_id)


def get_recent_fills(view, asset_id: bytes, limit: int = RECENT_FILLS) -> tuple[list | None, list[list]]:
    """(`get_fill_head`, the most recent fills, newest first: [height, price, shares,
    buyer, seller, maker id, taker id])."""
    head = get_fill_head(view, asset_id)
    if head is None:
        return None, []
    return head, [view.get_record(k) for k in _recent_slots(asset_id, head[0], limit)]


# --- the expiry queue ------------------------------------------------------------------------------
def process_expiry_queue(ctx, budget: int, expire) -> None:
    """Walk the expiry queue from the sweep cursor up to this height, at most `budget`
    entries (an empty height counts as one); call `expire(order_id, order)` for each
    entry still open. A height walked to its end is deleted."""
    cursor = ctx.get_record(SWEEP)
    if cursor is None:
        return
    height, index = cursor
    while height <= ctx.height and budget > 0:
        owner = u64(height)
        n = get_list_length(ctx, EXPIRY, owner)
        items = list(iter_list(ctx, EXPIRY, owner, index, budget)) if index < n else []
        budget -= max(1, len(items))
        for order_id in items:
            order = get_order(ctx, order_id)
            if order.status == Status.OPEN:
                expire(order_id, order)
        index += len(items)
        if index >= n:
            process_list_delete(ctx, EXPIRY, owner)
            height, index = height + 1, 0
    if [height, index] != cursor:
        ctx.put_record(SWEEP, [height, index])
