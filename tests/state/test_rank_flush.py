"""The holders' rank sets (state/revenue.py, `process_flush_ranks`) and the accounts'
open-order sets (state/order_book.py, `process_flush_open_orders`) are brought in step
once per block, not at every share movement or order. Random blocks of transfers, orders
(so fills), cancels and set_price (a top-holder read in the middle of a block) give the
same tx results and the same state as flushing after every tx, which is what changing the
sets at once gives; the top holder read at any moment is the one the positions name.
"""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from state import ordered_set
from state.accounts import get_account, set_account
from state.app import process_tx
from state.order_book import ACCOUNT_ORDERS, process_flush_open_orders
from state.asset_records import AssetKind, new_built_asset, set_asset
from state.context import BlockInfo, Context
from state.devchain import seeded_key
from state.params import Params
from state.registry import END_BLOCK
from state.revenue import (RANK, get_shares, get_top_holder, process_flush_ranks, process_issue_shares,
                           process_move_shares)
from state.tx import TOTAL_SHARES, sign_tx
from ledger_helpers import addr

KEYS = [seeded_key(f"rank-flush-{i}") for i in range(5)]
ADDRS = [addr(k) for k in KEYS]
MODELS = [b"\x6a" * 32, b"\x6b" * 32]
CHAIN = "rank-flush"
PARAMS = Params(max_fills_per_order=4)


class Chain:
    """An in-memory chain; `eager`: flush the rank sets after every tx."""

    def __init__(self, eager: bool) -> None:
        self.state: dict[bytes, bytes] = {}
        self.height = 1
        self.eager = eager
        self.orders: list[bytes] = []
        ctx = Context(self.state.get, BlockInfo(CHAIN, 1, 0, PARAMS))
        for m in MODELS:
            set_asset(ctx, m, new_built_asset(AssetKind.MODEL, ADDRS[0], "m", "", 10, [], 1))
            process_issue_shares(ctx, m, ADDRS[0])
        for a in ADDRS:
            set_account(ctx, a, 10**12, 0)
        process_flush_ranks(ctx)
        self.state.update(ctx.changes())

    def block(self, txs: list[tuple[int, str, list, int]]) -> list:
        self.height += 1
        ctx = Context(self.state.get, BlockInfo(CHAIN, self.height, 0, PARAMS))
        results = []
        for who, kind, fields, fee in txs:
            if kind == "read":                   # the top holder, read in the middle of the block
                results.append((get_top_holder(ctx, fields[0]), _expected_top(ctx, fields[0])))
                continue
            if kind == "cancel_order":
                if not self.orders:
                    results.append(("no order yet", ""))
                    continue
                fields = [self.orders[fields[0] % len(self.orders)]]
            nonce = get_account(ctx, ADDRS[who])[1]
            r = process_tx(ctx, sign_tx(KEYS[who], CHAIN, nonce, fee, kind, fields), True)
            results.append((r.code, r.log))
            self.orders += [e[1] for e in r.events if e[0] == "order"]
            if self.eager:
                process_flush_ranks(ctx)
                process_flush_open_orders(ctx)
        for step in END_BLOCK:
            step(ctx)
        for k, v in ctx.changes().items():
            if v is None:
                self.state.pop(k, None)
            else:
                self.state[k] = v
        return results


def _expected_top(view, model: bytes) -> bytes:
    """The holder with the most shares, ties to the smallest address: from the positions."""
    return min(ADDRS, key=lambda a: (-get_shares(view, model, a), a))


TXS = st.one_of(
    st.tuples(st.just("transfer_shares"), st.integers(0, 4), st.integers(0, 1), st.integers(0, 4),
              st.sampled_from([1, 1_000, 200_000, 400_000])),
    st.tuples(st.just("place_order"), st.integers(0, 4), st.integers(0, 1), st.sampled_from(["buy", "sell"]),
              st.sampled_from([1, 5, 100_000, 300_000]), st.integers(1, 3), st.integers(1, 4)),
    st.tuples(st.just("set_price"), st.integers(0, 4), st.integers(0, 1)),
    st.tuples(st.just("read"), st.integers(0, 1)),
    st.tuples(st.just("cancel_order"), st.integers(0, 4), st.integers(0, 40)),
)


def _tx(action) -> tuple[int, str, list, int]:
    if action[0] == "transfer_shares":
        _, who, m, to, n = action
        return who, "transfer_shares", [MODELS[m], ADDRS[to], n], 1_000
    if action[0] == "place_order":
        _, who, m, side, n, price, units = action
        return who, "place_order", [MODELS[m], side, n, price, 1_000], units * PARAMS.min_fee
    if action[0] == "read":
        return 0, "read", [MODELS[action[1]]], 0
    if action[0] == "cancel_order":
        return action[1], "cancel_order", [action[2]], 1_000
    _, who, m = action
    return who, "set_price", [MODELS[m], 20], 1_000


@settings(max_examples=120, deadline=None)
@given(st.lists(st.lists(TXS, min_size=1, max_size=8), min_size=1, max_size=6))
def test_rank_sets_flushed_once_a_block_give_the_state_of_moving_them_at_once(blocks):
    deferred, eager = Chain(eager=False), Chain(eager=True)
    for actions in blocks:
        txs = [_tx(a) for a in actions]
        results = deferred.block(txs)
        assert results == eager.block(txs)       # set_price reads the top holder mid-block
        for tx, r in zip(txs, results):
            if tx[1] == "read":
                assert r[0] == r[1]
        sets = [RANK + m for m in MODELS] + [ACCOUNT_ORDERS + a for a in ADDRS]
        if len(eager.orders) <= ordered_set.LEAF_CAP:
            # at most 5 holders and 16 orders: every set is one sorted leaf, so the whole
            # state (and so the app hash) must be byte for byte the same
            assert deferred.state == eager.state
        else:   # a set may have burst into branches, whose shape follows the order of changes
            def rest(state):
                return {k: v for k, v in state.items() if not k.startswith((RANK, ACCOUNT_ORDERS))}
            assert rest(deferred.state) == rest(eager.state)
        views = [Context(c.state.get, BlockInfo(CHAIN, c.height + 1, 0, PARAMS)) for c in (deferred, eager)]
        for ns in sets:
            assert [list(ordered_set.iter_keys(v, ns, 100)) for v in views] == [
                list(ordered_set.iter_keys(views[1], ns, 100))] * 2
        for m in MODELS:
            assert get_top_holder(views[0], m) == _expected_top(views[0], m)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 39), st.integers(0, 39), st.integers(1, 30_000),
                          st.booleans()), min_size=1, max_size=120))
def test_many_holders_one_flush_holds_the_same_keys_and_top_holder(moves):
    """40 holders burst the set into branches, whose shape depends on the order of past
    moves; the keys it holds and its least key must still be those of moving every
    key at once, and a read in the middle of the block flushes first."""
    model = MODELS[0]
    holders = [bytes([i + 1]) * 20 for i in range(40)]
    runs = []
    for eager in (False, True):
        ctx = Context({}.get, BlockInfo(CHAIN, 1, 0, PARAMS))
        process_issue_shares(ctx, model, holders[0])
        tops = []
        for src, dst, n, read in moves:
            if src != dst and get_shares(ctx, model, holders[src]) >= n:
                process_move_shares(ctx, model, holders[src], holders[dst], n)
            if eager:
                process_flush_ranks(ctx)
            if read:
                tops.append(get_top_holder(ctx, model))
        process_flush_ranks(ctx)
        keys = list(ordered_set.iter_keys(ctx, RANK + model, 100))
        expected = sorted((TOTAL_SHARES - get_shares(ctx, model, h)).to_bytes(3, "big") + h
                          for h in holders if get_shares(ctx, model, h))
        assert keys == expected
        runs.append((keys, tops))
    assert runs[0] == runs[1]


def test_a_dropped_scope_drops_its_noted_holders_and_a_flush_in_a_scope_is_undone_with_it():
    model = MODELS[0]
    a, b = b"\x01" * 20, b"\x02" * 20
    ctx = Context({}.get, BlockInfo(CHAIN, 1, 0, PARAMS))
    process_issue_shares(ctx, model, a)
    process_flush_ranks(ctx)
    failed = ctx.child()                     # a tx that moves shares, then fails: dropped
    process_move_shares(failed, model, a, b, 600_000)
    assert get_top_holder(failed, model) == b
    assert get_top_holder(ctx, model) == a
    body = ctx.child()
    process_move_shares(body, model, a, b, 700_000)
    flushed = body.child()                   # a read in a nested scope that is then dropped
    assert get_top_holder(flushed, model) == b
    body.merge()                             # the body's noted move is still pending here
    assert ctx.get_deferred(RANK + model, b) == 0
    read = ctx.child()                       # a tx that reads the top holder (a flush), merged
    assert get_top_holder(read, model) == b
    read.merge()
    process_move_shares(ctx, model, b, a, 100_000)    # then moves again in the same block
    process_flush_ranks(ctx)
    assert list(ordered_set.iter_keys(ctx, RANK + model, 5)) == [
        (TOTAL_SHARES - 600_000).to_bytes(3, "big") + b, (TOTAL_SHARES - 400_000).to_bytes(3, "big") + a]


@settings(max_examples=80, deadline=None)
@given(st.sets(st.binary(min_size=3, max_size=3), max_size=60),
       st.dictionaries(st.binary(min_size=3, max_size=3), st.booleans(), max_size=60))
def test_a_flush_of_noted_changes_writes_the_nodes_of_applying_them_one_by_one(start, notes):
    """process_flush_noted walks to a leaf once for a run of keys that share it; the
    nodes it leaves must be exactly those of inserting and removing the keys one by one,
    in order (bursts and emptied leaves included)."""
    base: dict[bytes, bytes] = {}
    ctx = Context(base.get, BlockInfo(CHAIN, 1, 0, PARAMS))
    for k in sorted(start):
        ordered_set.insert(ctx, b"s/", k)
    base.update((k, v) for k, v in ctx.changes().items() if v is not None)
    flushed = Context(base.get, BlockInfo(CHAIN, 2, 0, PARAMS))
    for k, present in notes.items():
        (ordered_set.note_insert if present else ordered_set.note_remove)(flushed, b"s/", k)
    ordered_set.process_flush_noted(flushed, b"s/")
    one_by_one = Context(base.get, BlockInfo(CHAIN, 2, 0, PARAMS))
    for k in sorted(notes):
        (ordered_set.insert if notes[k] else ordered_set.remove)(one_by_one, b"s/", k)
    assert flushed.changes() == one_by_one.changes()
    assert list(ordered_set.iter_keys(flushed, b"s/", 200)) == sorted(
        (start | {k for k, p in notes.items() if p}) - {k for k, p in notes.items() if not p})
