"""Random sequences of uses, orders (and so fills), cancels, expiries, transfers and claims
on one model, one tx a block, through the real transition (`process_tx` + the end-of-block
steps) on an in-memory state. After every block:

- nothing is created or lost: everything the state holds (balances, vaults, order
  escrows) plus the fees collected equals what there was at the start;
- shares are conserved, and each account's locked shares are exactly what its open sell
  orders still offer;
- each holder's earnings equal, to the unit, a plain statement of the rule written here
  from that holder's share history (kept by this test from the fill and transfer
  events, not read from the ledger): earned + accrued == floor(sum over arrivals of
  shares_then x amount / 1,000,000).
"""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from state.accounts import get_account, set_account
from state.app import process_tx
from state.asset_records import AssetKind, get_earned, new_built_asset, set_asset
from state.context import BlockInfo, Context
from state.devchain import seeded_key
from state.order_book import Status, get_order
from state.params import Params
from state.registry import END_BLOCK
from state.revenue import get_accrued_shares, get_position, process_flush_ranks, process_issue_shares
from state.supply import compute_holdings
from state.tx import PPM, TOTAL_SHARES, sign_tx
from ledger_helpers import addr

KEYS = [seeded_key(f"market-prop-{i}") for i in range(4)]
ADDRS = [addr(k) for k in KEYS]
MODEL = b"\x6d" * 32
CHAIN = "market-prop"
PARAMS = Params(max_fills_per_order=4, max_expiry_sweep=3)
START = 10**9


class Sim:
    def __init__(self, price: int) -> None:
        self.state: dict[bytes, bytes] = {}
        self.height = 1
        self.fees = 0
        ctx = Context(self.state.get, BlockInfo(CHAIN, 1, 0, PARAMS))
        set_asset(ctx, MODEL, new_built_asset(AssetKind.MODEL, ADDRS[0], "m", "", price, [], 1))
        process_issue_shares(ctx, MODEL, ADDRS[0])
        for a in ADDRS:
            set_account(ctx, a, START, 0)
        process_flush_ranks(ctx)
        self._commit(ctx)
        self.total = sum(compute_holdings(self.state.items()).values())
        self.shares = {a: 0 for a in ADDRS}           # the test's own share table
        self.shares[ADDRS[0]] = TOTAL_SHARES
        self.entitled = {a: 0 for a in ADDRS}         # sum of shares_then x amount
        self.orders: list[bytes] = []

    def _commit(self, ctx: Context) -> None:
        for k, v in ctx.changes().items():
            if v is None:
                self.state.pop(k, None)
            else:
                self.state[k] = v

    def view(self) -> Context:
        return Context(self.state.get, BlockInfo(CHAIN, self.height + 1, 0, PARAMS))

    def block(self, who: int, kind: str, fields: list, fee: int = 1_000):
        self.height += 1
        ctx = Context(self.state.get, BlockInfo(CHAIN, self.height, 0, PARAMS))
        nonce = get_account(ctx, ADDRS[who])[1]
        result = process_tx(ctx, sign_tx(KEYS[who], CHAIN, nonce, fee, kind, fields), True)
        for step in END_BLOCK:
            step(ctx)
        self.fees += ctx.fees
        self._commit(ctx)
        for e in result.events:
            if e[0] == "accrue" and e[1] == MODEL:
                for a in ADDRS:
                    self.entitled[a] += self.shares[a] * e[2]
            elif e[0] == "fill":
                _, _, _, _, buyer, seller, n, _ = e
                self.shares[seller] -= n
                self.shares[buyer] += n
            elif e[0] == "shares":
                _, _, frm, to, n = e
                self.shares[frm] -= n
                self.shares[to] += n
            elif e[0] == "order":
                self.orders.append(e[1])
        return result

    def check(self) -> None:
        view = self.view()
        assert sum(compute_holdings(self.state.items()).values()) + self.fees == self.total
        locked = {a: 0 for a in ADDRS}
        for oid in self.orders:
            o = get_order(view, oid)
            if o is not None and o.status == Status.OPEN:
                if o.side == "sell":
                    locked[o.owner] += o.remaining
                else:
                    assert o.escrow == o.remaining * o.price
        for a in ADDRS:
            pos = get_position(view, MODEL, a)
            assert (0 if pos is None else pos.shares) == self.shares[a]
            assert (0 if pos is None else pos.locked) == locked[a]
            paid_and_owed = get_earned(view, a, MODEL) + get_accrued_shares(view, MODEL, a)
            assert paid_and_owed == self.entitled[a] // PPM


ACTIONS = st.one_of(
    st.tuples(st.just("use"), st.integers(0, 3)),
    st.tuples(st.just("order"), st.integers(0, 3), st.sampled_from(["buy", "sell"]),
              st.sampled_from([1, 7, 1_000, 250_000, 600_000]), st.integers(1, 40), st.integers(0, 3),
              st.integers(1, 5)),
    st.tuples(st.just("cancel"), st.integers(0, 3), st.integers(0, 50)),
    st.tuples(st.just("transfer"), st.integers(0, 3), st.integers(0, 3), st.sampled_from([1, 333, 100_000])),
    st.tuples(st.just("claim"), st.integers(0, 3)),
    st.tuples(st.just("wait"),),
)


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 5_000), st.lists(ACTIONS, min_size=1, max_size=40))
def test_market_conserves_and_pays_each_holder_by_its_share_history(price, actions):
    sim = Sim(price)
    for action in actions:
        kind = action[0]
        if kind == "use":
            sim.block(action[1], "use", [MODEL, price])
        elif kind == "order":
            _, who, side, shares, px, expires_in, fee_units = action
            sim.block(who, "place_order", [MODEL, side, shares, px, sim.height + 1 + expires_in],
                      fee=fee_units * PARAMS.min_fee)
        elif kind == "cancel" and sim.orders:
            _, who, k = action
            sim.block(who, "cancel_order", [sim.orders[k % len(sim.orders)]])
        elif kind == "transfer" and action[1] != action[2]:
            _, who, to, n = action
            sim.block(who, "transfer_shares", [MODEL, ADDRS[to], n])
        elif kind == "claim":
            sim.block(action[1], "claim", [MODEL])
        else:
            sim.block(0, "transfer", [ADDRS[1], 1])
        sim.check()
