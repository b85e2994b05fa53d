"""place_order(asset, side, shares, price, expires_at): escrow, match at placement by
price-time priority at the resting price, partial fills, price improvement returned,
expiry (lazy and swept), no self-fill, bounded work paid by the fee (docs/market.md)."""
from __future__ import annotations

from asset_helpers import (  # noqa: F401
    ADDR, KEYS, balances, book, cast, claim, earned, holder_accrued, holders, order, place, position,
    register, submit, use,
)
from ledger_helpers import apply_ok, assert_rejected, view
from state.errors import Code
from state.order_book import Status, get_recent_fills
from state.params import Params
from state.tx import MAX_AMOUNT

FEE = 1_000


def _model(cast, price=1_000):
    return register(cast, "eve", "model", [], price=price)


def test_place_order_sell_rests_and_locks_shares(cast):
    m = _model(cast)
    oid, result = place(cast, "eve", m, "sell", 250_000, 40)
    o = order(cast, oid)
    assert (o.status, o.remaining, o.escrow, o.side) == (Status.OPEN, 250_000, 0, "sell")
    assert (position(cast, "eve", m).shares, position(cast, "eve", m).locked) == (1_000_000, 250_000)
    assert book(cast, m, "sell") == [(40, 250_000, 1)] and book(cast, m, "buy") == []
    assert ("order", oid, ADDR["eve"], m, "sell", 250_000, 40) in result.events


def test_place_order_buy_rests_and_escrows(cast):
    m = _model(cast)
    before = balances(cast, "gus")["gus"]
    oid, _ = place(cast, "gus", m, "buy", 1_000, 7)
    assert before - balances(cast, "gus")["gus"] == 7_000 + FEE
    assert order(cast, oid).escrow == 7_000 and book(cast, m, "buy") == [(7, 1_000, 1)]


def test_place_order_buy_fills_at_resting_price_and_returns_improvement(cast):
    m = _model(cast)
    ask, _ = place(cast, "eve", m, "sell", 100, 30)
    before = balances(cast, "eve", "gus")
    bid, result = place(cast, "gus", m, "buy", 100, 50)
    after = balances(cast, "eve", "gus")
    assert before["gus"] - after["gus"] == 100 * 30 + FEE        # paid 30 a share, not 50
    assert after["eve"] - before["eve"] == 3_000
    assert order(cast, ask).status == order(cast, bid).status == Status.FILLED
    assert order(cast, bid).escrow == 0 and book(cast, m, "sell") == [] and book(cast, m, "buy") == []
    assert holders(cast, m) == sorted([[ADDR["eve"], 999_900], [ADDR["gus"], 100]])
    assert ("fill", m, ask, bid, ADDR["gus"], ADDR["eve"], 100, 30) in result.events
    head, fills = get_recent_fills(view(cast), m)
    assert head[:2] == [1, 30] and fills[0][1:5] == [30, 100, ADDR["gus"], ADDR["eve"]]


def test_place_order_partial_fill_rests_the_rest(cast):
    m = _model(cast)
    ask, _ = place(cast, "eve", m, "sell", 100, 30)
    bid, _ = place(cast, "gus", m, "buy", 250, 35)
    assert order(cast, ask).status == Status.FILLED
    o = order(cast, bid)
    assert (o.status, o.remaining, o.escrow) == (Status.OPEN, 150, 150 * 35)
    assert book(cast, m, "buy") == [(35, 150, 1)]
    ask2, _ = place(cast, "eve", m, "sell", 60, 35)               # the bid rests: it is the maker now
    assert order(cast, ask2).status == Status.FILLED and book(cast, m, "buy") == [(35, 90, 1)]
    assert position(cast, "gus", m).shares == 160


def test_place_order_price_time_priority(cast):
    m = _model(cast)
    submit(cast, "eve", "transfer_shares", m, ADDR["ada"], 10_000)
    first, _ = place(cast, "eve", m, "sell", 10, 20)
    second, _ = place(cast, "ada", m, "sell", 10, 20)
    cheaper, _ = place(cast, "ada", m, "sell", 10, 19)
    assert book(cast, m, "sell") == [(19, 10, 1), (20, 20, 2)]
    place(cast, "gus", m, "buy", 15, 25, fee=3 * FEE)
    # best price first (19), then the older order at 20
    assert order(cast, cheaper).status == Status.FILLED
    assert (order(cast, first).status, order(cast, first).remaining) == (Status.OPEN, 5)
    assert order(cast, second).remaining == 10
    assert book(cast, m, "sell") == [(20, 15, 2)]


def test_place_order_sell_into_bids_at_their_price(cast):
    m = _model(cast)
    low, _ = place(cast, "gus", m, "buy", 10, 8)
    high, _ = place(cast, "ada", m, "buy", 10, 9)
    before = balances(cast, "eve")["eve"]
    sell, _ = place(cast, "eve", m, "sell", 15, 7, fee=2 * FEE)
    assert balances(cast, "eve")["eve"] - before == 10 * 9 + 5 * 8 - 2 * FEE
    assert order(cast, high).status == Status.FILLED and order(cast, low).remaining == 5
    assert order(cast, sell).status == Status.FILLED and position(cast, "eve", m).locked == 0


def test_place_order_work_is_bounded_by_the_fee(cast):
    m = _model(cast)
    asks = [place(cast, "eve", m, "sell", 1, 10 + i)[0] for i in range(3)]
    before = balances(cast, "gus")["gus"]
    bid, result = place(cast, "gus", m, "buy", 3, 20, fee=2 * FEE)      # pays for 2 fills
    # two fills; the rest still crosses the book, so it returns rather than rests
    assert [order(cast, a).status for a in asks] == [Status.FILLED, Status.FILLED, Status.OPEN]
    assert (order(cast, bid).status, order(cast, bid).remaining) == (Status.CANCELLED, 1)
    assert before - balances(cast, "gus")["gus"] == 10 + 11 + 2 * FEE
    assert ("order_closed", bid, ADDR["gus"], "work_limit", 1) in result.events
    assert book(cast, m, "buy") == []


def test_place_order_at_most_max_fills_per_order(make):
    from asset_helpers import cast_chain
    chain = cast_chain(make, params=Params(max_fills_per_order=2))
    m = register(chain, "eve", "model", [])
    for i in range(3):
        place(chain, "eve", m, "sell", 1, 10)
    bid, _ = place(chain, "gus", m, "buy", 3, 10, fee=10 * FEE)
    assert order(chain, bid).remaining == 1 and book(chain, m, "sell") == [(10, 1, 1)]


def test_place_order_never_fills_against_its_own_account(cast):
    m = _model(cast)
    own, _ = place(cast, "eve", m, "sell", 10, 10)
    submit(cast, "eve", "transfer_shares", m, ADDR["ada"], 10)
    other, _ = place(cast, "ada", m, "sell", 10, 12)
    before = balances(cast, "eve")["eve"]
    bid, result = place(cast, "eve", m, "buy", 10, 12, fee=2 * FEE)
    # eve's own ask is cancelled (its shares unlocked), then ada's fills
    assert order(cast, own).status == Status.CANCELLED and order(cast, other).status == Status.FILLED
    assert position(cast, "eve", m).locked == 0
    assert before - balances(cast, "eve")["eve"] == 120 + 2 * FEE
    assert ("order_closed", own, ADDR["eve"], "cancelled", 10) in result.events


def test_place_order_sold_shares_earn_for_the_seller_until_the_fill(cast):
    """Revenue that arrives before the fill is the seller's, after it the buyer's."""
    m = _model(cast)
    place(cast, "eve", m, "sell", 250_000, 10)
    use(cast, "uma", m, 1_000)                     # 950: eve holds everything (locked or not)
    assert holder_accrued(cast, "eve", m) == 950
    place(cast, "gus", m, "buy", 250_000, 10)
    assert earned(cast, "eve", m) == 950            # settled at the fill
    use(cast, "uma", m, 1_000)
    assert (holder_accrued(cast, "eve", m), holder_accrued(cast, "gus", m)) == (712, 237)


def test_place_order_meets_an_expired_order_lazily(make):
    from asset_helpers import cast_chain
    chain = cast_chain(make, params=Params(max_expiry_sweep=0))      # no sweep: only lazy expiry
    m = register(chain, "eve", "model", [])
    stale, _ = place(chain, "eve", m, "sell", 10, 10, expires_in=0)
    apply_ok(chain)
    fresh, _ = place(chain, "eve", m, "sell", 10, 11)
    bid, result = place(chain, "gus", m, "buy", 10, 11, fee=2 * FEE)
    assert order(chain, stale).status == Status.EXPIRED and order(chain, fresh).status == Status.FILLED
    assert position(chain, "eve", m).locked == 0
    assert ("order_closed", stale, ADDR["eve"], "expired", 10) in result.events


def test_place_order_expired_orders_are_swept_at_the_end_of_a_block(make):
    from asset_helpers import cast_chain
    chain = cast_chain(make, params=Params(max_expiry_sweep=2))
    m = register(chain, "eve", "model", [])
    bids = [place(chain, "gus", m, "buy", 1, 5, expires_in=1)[0] for _ in range(3)]   # expire at 3 heights
    before = balances(chain, "gus")["gus"]
    # each lives through the block after its own: two were swept by the time the third rests
    assert [order(chain, b).status for b in bids] == [Status.EXPIRED, Status.EXPIRED, Status.OPEN]
    apply_ok(chain)
    assert all(order(chain, b).status == Status.EXPIRED for b in bids)
    assert balances(chain, "gus")["gus"] - before == 5 and book(chain, m, "buy") == []


def test_place_order_sweep_is_bounded_per_block(make):
    from asset_helpers import cast_chain
    chain = cast_chain(make, params=Params(max_expiry_sweep=2))
    m = register(chain, "eve", "model", [])
    h = chain.ledger.height + 1
    bids = apply_ok(chain, *[chain.tx(KEYS["gus"], "place_order", m, "buy", 1, 5, h) for _ in range(5)])
    from state.order_book import compute_order_id
    ids = [compute_order_id(r.tx_id) for r in bids.tx_results]
    # the block at h swept 2 of its 5 orders; each later block sweeps 2 more
    assert [order(chain, i).status for i in ids].count(Status.EXPIRED) == 2
    apply_ok(chain)
    assert [order(chain, i).status for i in ids].count(Status.EXPIRED) == 4
    apply_ok(chain)
    assert all(order(chain, i).status == Status.EXPIRED for i in ids)


def _order_tx(cast, who, asset, side="sell", shares=10, price=10, expires_at=None):
    return cast.tx(KEYS[who], "place_order", asset, side, shares, price,
                   cast.ledger.height + 10 if expires_at is None else expires_at)


def test_invalid_price_zero(cast):
    m = _model(cast)
    assert_rejected(cast, _order_tx(cast, "eve", m, price=0), Code.ORDER_PRICE_ZERO, charged=False)


def test_invalid_shares_zero(cast):
    m = _model(cast)
    assert_rejected(cast, _order_tx(cast, "eve", m, shares=0), Code.ORDER_SHARES_OUT_OF_RANGE, charged=False)


def test_invalid_shares_above_total(cast):
    m = _model(cast)
    assert_rejected(cast, _order_tx(cast, "eve", m, shares=1_000_001), Code.ORDER_SHARES_OUT_OF_RANGE,
                    charged=False)


def test_invalid_more_shares_than_free_of_orders(cast):
    m = _model(cast)
    place(cast, "eve", m, "sell", 600_000, 10)
    assert_rejected(cast, _order_tx(cast, "eve", m, shares=400_001), Code.INSUFFICIENT_SHARES, charged=True)
    assert_rejected(cast, cast.tx(KEYS["eve"], "transfer_shares", m, ADDR["gus"], 400_001),
                    Code.INSUFFICIENT_SHARES, charged=True)


def test_invalid_escrow_overflow(cast):
    m = _model(cast)
    raw = _order_tx(cast, "gus", m, "buy", shares=1_000_000, price=MAX_AMOUNT // 1_000_000 + 1)
    assert_rejected(cast, raw, Code.ESCROW_OVERFLOW, charged=True)


def test_invalid_insufficient_funds_for_escrow(cast):
    m = _model(cast)
    raw = _order_tx(cast, "gus", m, "buy", shares=1_000_000, price=10**7)
    assert_rejected(cast, raw, Code.INSUFFICIENT_FUNDS, charged=True)


def test_invalid_unknown_asset(cast):
    assert_rejected(cast, _order_tx(cast, "eve", b"\x07" * 32), Code.UNKNOWN_ASSET, charged=True)


def test_invalid_expiry_in_past(cast):
    m = _model(cast)
    raw = _order_tx(cast, "eve", m, expires_at=cast.ledger.height)
    assert_rejected(cast, raw, Code.EXPIRY_IN_PAST, charged=True)


def test_invalid_expiry_beyond_max_order_blocks(cast):
    m = _model(cast)
    raw = _order_tx(cast, "eve", m, expires_at=cast.ledger.height + 1 + cast.ledger.params.max_order_blocks + 1)
    assert_rejected(cast, raw, Code.EXPIRY_TOO_FAR, charged=True)


def test_invalid_side(cast):
    m = _model(cast)
    assert_rejected(cast, _order_tx(cast, "eve", m, side="short"), Code.OUT_OF_RANGE, charged=False)


def test_place_order_worked_example_accrual_across_a_fill(cast):
    """docs/market.md, "Worked example": every figure there is asserted here."""
    m = _model(cast)                                             # 950 uopen a use reach the holders
    use(cast, "uma", m, 1_000)
    ask, _ = place(cast, "eve", m, "sell", 250_000, 10)
    use(cast, "uma", m, 1_000)
    assert holder_accrued(cast, "eve", m) == 1_900              # locked shares earn for the seller
    before = balances(cast, "eve", "gus")
    bid, _ = place(cast, "gus", m, "buy", 250_000, 12)
    after = balances(cast, "eve", "gus")
    assert before["gus"] - after["gus"] == 2_500_000 + FEE     # 3,000,000 escrowed, 500,000 back
    assert after["eve"] - before["eve"] == 2_500_000 + 1_900    # the price, and her settled 1,900
    assert earned(cast, "eve", m) == 1_900 and holder_accrued(cast, "gus", m) == 0
    use(cast, "uma", m, 1_000)
    assert (holder_accrued(cast, "eve", m), holder_accrued(cast, "gus", m)) == (712, 237)
    from state.revenue import get_rights
    assert get_rights(view(cast), m).vault == 950               # 949 owed, 1 held for the two halves
    use(cast, "uma", m, 1_000)
    assert (holder_accrued(cast, "eve", m), holder_accrued(cast, "gus", m)) == (1_425, 475)
    assert get_rights(view(cast), m).vault == 1_900             # the halves came back together
