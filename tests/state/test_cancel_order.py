"""cancel_order(order): by its owner, while it is open; its escrow returns."""
from __future__ import annotations

from asset_helpers import ADDR, KEYS, balances, book, cast, order, place, position, register  # noqa: F401
from ledger_helpers import apply_ok, assert_rejected, view
from state.errors import Code
from state.order_book import Status, iter_open_orders
from state.params import Params

FEE = 1_000


def _cancel(chain, who, order_id):
    return chain.tx(KEYS[who], "cancel_order", order_id)


def test_cancel_order_buy_returns_its_escrow(cast):
    m = register(cast, "eve", "model", [])
    before = balances(cast, "gus")["gus"]
    bid, _ = place(cast, "gus", m, "buy", 100, 9)
    apply_ok(cast, _cancel(cast, "gus", bid))
    assert before - balances(cast, "gus")["gus"] == 2 * FEE
    o = order(cast, bid)
    assert (o.status, o.escrow) == (Status.CANCELLED, 0) and book(cast, m, "buy") == []
    assert list(iter_open_orders(view(cast), ADDR["gus"], 10)) == []


def test_cancel_order_sell_unlocks_its_shares(cast):
    m = register(cast, "eve", "model", [])
    ask, _ = place(cast, "eve", m, "sell", 100, 9)
    assert list(iter_open_orders(view(cast), ADDR["eve"], 10)) == [ask]
    apply_ok(cast, _cancel(cast, "eve", ask))
    assert position(cast, "eve", m).locked == 0 and book(cast, m, "sell") == []


def test_cancel_order_in_the_middle_of_a_level_keeps_time_order(cast):
    m = register(cast, "eve", "model", [])
    a, _ = place(cast, "eve", m, "sell", 1, 9)
    b, _ = place(cast, "eve", m, "sell", 2, 9)
    c, _ = place(cast, "eve", m, "sell", 3, 9)
    apply_ok(cast, _cancel(cast, "eve", b))
    assert book(cast, m, "sell") == [(9, 4, 2)]
    assert (order(cast, a).next, order(cast, c).prev) == (c, a)
    place(cast, "gus", m, "buy", 2, 9, fee=2 * FEE)
    assert order(cast, a).status == Status.FILLED and order(cast, c).remaining == 2


def test_invalid_not_the_owner(cast):
    m = register(cast, "eve", "model", [])
    ask, _ = place(cast, "eve", m, "sell", 1, 9)
    assert_rejected(cast, _cancel(cast, "gus", ask), Code.NOT_ORDER_OWNER, charged=True)


def test_invalid_already_filled(cast):
    m = register(cast, "eve", "model", [])
    ask, _ = place(cast, "eve", m, "sell", 1, 9)
    place(cast, "gus", m, "buy", 1, 9)
    assert_rejected(cast, _cancel(cast, "eve", ask), Code.ORDER_FILLED, charged=True)


def test_invalid_already_cancelled(cast):
    m = register(cast, "eve", "model", [])
    ask, _ = place(cast, "eve", m, "sell", 1, 9)
    apply_ok(cast, _cancel(cast, "eve", ask))
    assert_rejected(cast, _cancel(cast, "eve", ask), Code.ORDER_CANCELLED, charged=True)


def test_invalid_expired(make):
    from asset_helpers import cast_chain
    chain = cast_chain(make, params=Params(max_expiry_sweep=0))
    m = register(chain, "eve", "model", [])
    ask, _ = place(chain, "eve", m, "sell", 1, 9, expires_in=0)
    assert_rejected(chain, _cancel(chain, "eve", ask), Code.ORDER_EXPIRED, charged=True)   # not yet swept
    apply_ok(chain)
    swept = cast_chain(make, params=Params(max_expiry_sweep=4))
    m2 = register(swept, "eve", "model", [])
    ask2, _ = place(swept, "eve", m2, "sell", 1, 9, expires_in=0)
    assert order(swept, ask2).status == Status.EXPIRED
    assert_rejected(swept, _cancel(swept, "eve", ask2), Code.ORDER_EXPIRED, charged=True)


def test_invalid_unknown_order(cast):
    assert_rejected(cast, _cancel(cast, "eve", b"\x05" * 32), Code.UNKNOWN_ORDER, charged=True)


def test_invalid_order_id_length(cast):
    assert_rejected(cast, _cancel(cast, "eve", b"\x05" * 31), Code.OUT_OF_RANGE, charged=False)


def test_filling_the_head_leaves_the_next_order_untouched_and_the_level_whole(cast):
    from state.order_book import get_level, order_key
    m = register(cast, "eve", "model", [])
    a, _ = place(cast, "eve", m, "sell", 1, 9)
    b, _ = place(cast, "eve", m, "sell", 2, 9)
    c, _ = place(cast, "eve", m, "sell", 3, 9)
    result = apply_ok(cast, cast.tx(KEYS["gus"], "place_order", m, "buy", 1, 9, cast.ledger.height + 9))
    assert order(cast, a).status == Status.FILLED                  # the head, a, filled
    assert order_key(b) not in result.changes               # one key fewer per completed maker
    apply_ok(cast, _cancel(cast, "eve", b))                 # the new head, with a stale prev
    assert get_level(view(cast), m, "sell", 9) == [c, c, 3, 1]
    d, _ = place(cast, "eve", m, "sell", 4, 9)
    apply_ok(cast, _cancel(cast, "eve", d))                 # the tail behind the head
    assert get_level(view(cast), m, "sell", 9) == [c, c, 3, 1] and order(cast, c).next == b""
    place(cast, "gus", m, "buy", 3, 9, fee=3 * FEE)
    assert order(cast, c).status == Status.FILLED and book(cast, m, "sell") == []


def test_open_orders_are_listed_by_book_and_price_and_neighbours_share_a_leaf(cast):
    from state.order_book import ACCOUNT_ORDERS
    m = register(cast, "eve", "model", [])
    prices = [1_000 + i for i in range(17)] + [12, 10, 11]          # 20 orders: the set bursts
    h = cast.ledger.height
    apply_ok(cast, *(cast.tx(KEYS["eve"], "place_order", m, "sell", 1, p, h + 99) for p in prices))
    ids = {order(cast, oid).price: oid for oid in iter_open_orders(view(cast), ADDR["eve"], 100)}
    assert list(ids) == sorted(prices)                               # best (lowest) ask first
    result = apply_ok(cast, cast.tx(KEYS["gus"], "place_order", m, "buy", 3, 12, h + 9, fee=3 * FEE))
    assert all(order(cast, ids[p]).status == Status.FILLED for p in (10, 11, 12))
    # the three neighbours' entries sat in one leaf: its delete and its parent's bitmap
    assert len([k for k in result.changes if k.startswith(ACCOUNT_ORDERS + ADDR["eve"])]) == 2
