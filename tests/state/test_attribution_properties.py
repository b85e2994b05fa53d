"""Properties of the attribution rule over random graphs and pools (pure: a
Context over a dict, no store): a payment is conserved exactly and matches an independent
recursive statement of the rule; a pool never owes more than it holds, and keeps less
than one uopen of dust per deposit."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from asset_helpers import reference_payout
from state.asset_records import (
    ALLOWED_SOURCES,
    AssetKind,
    Pool,
    get_asset,
    get_pool,
    new_built_asset,
    new_contribution,
    new_datanet,
    set_asset,
    set_pool,
)
from state.attribution import Payout, compute_accrued, process_pool_join, process_pool_pull
from state.context import BlockInfo, Context
from state.params import Params
from state.tx import PPM

ACCOUNTS = [bytes([i]) * 20 for i in range(1, 6)]


def fresh_context() -> Context:
    return Context({}.get, BlockInfo("prop", 1, 0, Params()))


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_payment_is_conserved_and_follows_the_rule(data):
    ctx = fresh_context()
    ids: list[tuple[bytes, int]] = []
    for i in range(data.draw(st.integers(1, 3), label="datanets")):
        d = bytes([100 + i]) * 32
        rec = new_datanet(ACCOUNTS[0], "d", "", data.draw(st.integers(0, PPM)), 0, [ACCOUNTS[0]])
        set_asset(ctx, d, rec)
        weight = data.draw(st.integers(0, 5 * PPM))
        if weight:
            set_pool(ctx, d, Pool(weight, data.draw(st.integers(0, 10**24)), 0, 1))
        ids.append((d, AssetKind.DATANET))
    for i in range(data.draw(st.integers(1, 8), label="built assets")):
        kind = data.draw(st.sampled_from([AssetKind.MODEL, AssetKind.AGENT]))
        candidates = [a for a, k in ids if k in ALLOWED_SOURCES[kind]]
        sources = data.draw(st.lists(st.sampled_from(candidates), max_size=4, unique=True)) if candidates else []
        weights = [data.draw(st.integers(1, PPM // max(1, len(sources)))) for _ in sources]
        rec = new_built_asset(kind, ACCOUNTS[0], "m", "", 0, list(zip(sources, weights)), 1)
        a = bytes([i + 1]) * 32
        set_asset(ctx, a, rec)
        ids.append((a, kind))
    target = data.draw(st.sampled_from([a for a, k in ids if k != AssetKind.DATANET]))
    amount = data.draw(st.integers(0, 2**62))
    pools_before = {d: get_pool(ctx, d) for d, k in ids if k == AssetKind.DATANET}

    payout = Payout(ctx)
    payout.distribute(target, amount)
    assert sum(payout.arrived.values()) + sum(payout.deposits.values()) == amount
    expected, expected_pools = {}, {}
    reference_payout(ctx, target, amount, expected, expected_pools)
    assert payout.arrived == expected
    assert {d: n for d, n in payout.deposits.items() if n} == {d: n for d, n in expected_pools.items() if n}
    for d, p in payout.pools.items():
        before = pools_before[d]
        assert p.balance - before.balance == payout.deposits.get(d, 0)
        assert p.acc >= before.acc


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["join", "deposit", "claim"]), st.integers(0, 10**9)),
                min_size=1, max_size=30))
def test_pool_never_owes_more_than_it_holds(ops):
    ctx = fresh_context()
    d = b"\xdd" * 32
    set_asset(ctx, d, new_datanet(ACCOUNTS[0], "d", "", PPM, 0, [ACCOUNTS[0]]))
    members: list[bytes] = []
    deposits = paid = 0
    for op, n in ops:
        if op == "join":
            c = len(members).to_bytes(32, "big")
            rec = new_contribution(ACCOUNTS[len(members) % 5], d, c, 1, "", 0)
            set_asset(ctx, c, rec)
            process_pool_join(ctx, c, rec, 1 + n % PPM)
            members.append(c)
        elif op == "deposit":
            pool = get_pool(ctx, d)
            if pool.total_weight:
                payout = Payout(ctx)
                payout.add_to_pool(d, pool, n, ())
                set_pool(ctx, d, pool)
                deposits += n
        elif members:
            c = members[n % len(members)]
            paid += process_pool_pull(ctx, c)
        pool = get_pool(ctx, d)
        owed = sum(compute_accrued(pool.acc, get_asset(ctx, c).weight, get_asset(ctx, c).debt) for c in members)
        assert pool.balance == deposits - paid
        assert 0 <= pool.balance - owed <= sum(1 for o, _ in ops if o == "deposit") + len(members)
