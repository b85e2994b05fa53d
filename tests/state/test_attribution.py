"""The attribution rule on hand-worked graphs: every amount below is worked out by hand
from LEDGER.md's rule (the arithmetic is in the comments), with protocol_fee_ppm = 50,000.

Rule, for an amount R arriving at X: (1) each source (S, w) gets R * w // 1e6; (2) a datanet
with accepted weight sends rest * contributor_share_ppm // 1e6 of what remains to its pool;
(3) the rest raises X's accumulator: each holder accrues floor(its shares * amount / 1e6),
summed over arrivals, and collects it by `claim` (or when its shares move); dust stays in the vault.
Pool: acc += deposit * 1e18 // W; a contribution of weight w accrues
(w * acc - debt) // 1e18 where debt = w * acc_at_accept + 1e18 * claimed.
"""
from __future__ import annotations

from asset_helpers import (  # noqa: F401
    ADDR, KEYS, NAMES, accepted, accrued, balances, build_wide_graph, cast, contribute, create_datanet,
    claim, earned, holder_accrued, pool, record, reference_payout, register, review, submit, use,
)
from ledger_helpers import view
from state.asset_records import ACC_SCALE
from state.attribution import compute_use_fee, compute_use_flows
from state.graph import get_earnings
from state.revenue import get_rights
from state.tx import PPM

FEE = 1_000     # min_fee: every tx sender pays it on top


def deltas(before: dict, after: dict) -> dict:
    return {n: after[n] - before[n] for n in before if after[n] != before[n]}


def accruals(cast, *pairs) -> list[int]:
    """holder_accrued for each (name, asset)."""
    return [holder_accrued(cast, who, a) for who, a in pairs]


def test_three_level_agent_model_datanet_with_three_contributions(cast):
    d = create_datanet(cast, "dana", share_ppm=600_000)
    ada = accepted(cast, "ada", d, "ada", 500_000)
    bao = accepted(cast, "bao", d, "bao", 300_000)
    chidi = accepted(cast, "chidi", d, "chidi", 150_000)
    m = register(cast, "eve", "model", [(d, 400_000)])
    a = register(cast, "finn", "agent", [(m, 300_000)], price=1_000_000)

    before = balances(cast, *NAMES)
    use(cast, "uma", a, 1_000_000)
    # protocol fee 1,000,000 * 5 % = 50,000; R = 950,000 arrives at the agent
    # agent: 950,000 * 30 % = 285,000 to the model; finn keeps 665,000
    # model: 285,000 * 40 % = 114,000 to the datanet; eve keeps 171,000
    # datanet: 114,000 * 60 % = 68,400 to the pool; dana keeps 45,600
    # holders accrue (one accumulator per asset); nothing is paid until they claim
    assert deltas(before, balances(cast, *NAMES)) == {"uma": -1_000_000 - FEE}
    assert accruals(cast, ("finn", a), ("eve", m), ("dana", d)) == [665_000, 171_000, 45_600]
    # pool: W = 950,000, acc = 68,400e18 // 950,000 = 0.072e18 exactly
    p = pool(cast, d)
    assert (p.total_weight, p.acc, p.balance) == (950_000, 72 * 10**15, 68_400)
    # accrued: 500,000 * 0.072 = 36,000; 300,000 * 0.072 = 21,600; 150,000 * 0.072 = 10,800
    assert [accrued(cast, c) for c in (ada, bao, chidi)] == [36_000, 21_600, 10_800]
    for who, c in (("ada", ada), ("bao", bao), ("chidi", chidi)):
        submit(cast, who, "claim", c)
    assert [earned(cast, w, c) for w, c in (("ada", ada), ("bao", bao), ("chidi", chidi))] == [
        36_000, 21_600, 10_800]
    assert [claim(cast, "finn", a), claim(cast, "eve", m), claim(cast, "dana", d)] == [665_000, 171_000, 45_600]
    assert (earned(cast, "finn", a), earned(cast, "eve", m), earned(cast, "dana", d)) == (665_000, 171_000, 45_600)
    assert pool(cast, d).balance == 0 and get_rights(view(cast), a).vault == 0
    assert get_earnings(view(cast), ADDR["ada"]) == [(ada, 36_000)]


def test_three_level_paths(cast):
    d = create_datanet(cast, "dana", share_ppm=600_000)
    accepted(cast, "ada", d, "ada", 1)
    m = register(cast, "eve", "model", [(d, 400_000)])
    a = register(cast, "finn", "agent", [(m, 300_000)], price=1_000_000)
    fee, flows = compute_use_flows(view(cast), a, 1_000_000)
    assert fee == 50_000
    assert [(f.path, f.to, f.recipient, f.amount) for f in flows] == [
        ((a,), "holders", a, 665_000),
        ((a, m), "holders", m, 171_000),
        ((a, m, d), "pool", d, 68_400),
        ((a, m, d), "holders", d, 45_600),
    ]


def test_model_with_parent_model_and_contribution_source(cast):
    d = create_datanet(cast, "dana", share_ppm=600_000)
    c_ada = accepted(cast, "ada", d, "ada", 700_000)
    c_bao = accepted(cast, "bao", d, "bao", 300_000)
    m1 = register(cast, "eve", "model", [(d, 500_000)])
    m2 = register(cast, "gus", "model", [(m1, 250_000), (c_ada, 100_000)], price=10_000)

    before = balances(cast, *NAMES)
    use(cast, "uma", m2, 10_000)
    # fee 500; R = 9,500 at m2: m1 gets 2,375, c_ada gets 950 (its holders' accumulator:
    # ada), gus keeps 9,500 - 2,375 - 950 = 6,175
    # m1: 2,375 * 50 % = 1,187.5 -> 1,187 to the datanet; eve keeps 1,188
    # datanet: 1,187 * 60 % = 712.2 -> 712 to the pool; dana keeps 475
    assert deltas(before, balances(cast, *NAMES)) == {"uma": -10_000 - FEE}
    assert accruals(cast, ("gus", m2), ("ada", c_ada), ("eve", m1), ("dana", d)) == [6_175, 950, 1_188, 475]
    # pool W = 1,000,000: acc = 712e18 // 1e6 = 712e12;
    # ada 700,000 * 712e12 / 1e18 = 498.4 -> 498; bao 300,000 * ... = 213.6 -> 213; dust 1
    assert pool(cast, d).acc == 712 * 10**12
    assert (accrued(cast, c_ada), accrued(cast, c_bao)) == (498, 213)
    # one claim of c_ada moves its 498 from the pool to its holders and collects both steps
    assert (claim(cast, "ada", c_ada), claim(cast, "bao", c_bao)) == (950 + 498, 213)
    assert (earned(cast, "ada", c_ada), earned(cast, "bao", c_bao)) == (950 + 498, 213)
    assert pool(cast, d).balance == 1          # the dust stays in the pool


def test_shares_sold_to_second_holder(cast):
    d = create_datanet(cast, "dana", share_ppm=600_000)     # no accepted contribution: no pool
    m = register(cast, "eve", "model", [(d, 200_000)], price=1_001)
    submit(cast, "eve", "transfer_shares", m, ADDR["gus"], 250_000)

    use(cast, "uma", m, 1_001)
    # fee 1,001 * 5 % = 50.05 -> 50; R = 951: datanet 951 * 20 % = 190.2 -> 190 (all to
    # dana: no accepted contribution, so no pool share); m keeps 761:
    # eve 761 * 75 % = 570.75 -> 570, gus 761 * 25 % = 190.25 -> 190; 1 stays in the vault
    assert accruals(cast, ("eve", m), ("gus", m), ("dana", d)) == [570, 190, 190]
    assert get_rights(view(cast), m).vault == 761

    submit(cast, "eve", "transfer_shares", m, ADDR["gus"], 250_000)        # now 50 / 50
    assert (earned(cast, "eve", m), earned(cast, "gus", m)) == (570, 190)  # both settled first
    use(cast, "uma", m, 1_001)
    # 380.5 each; eve keeps the .75 it was owed below one uopen: 570.75 + 380.5 = 951.25
    # -> 951 in all, 381 now; gus 190.25 + 380.5 = 570.75 -> 570 in all, 380 now
    assert accruals(cast, ("eve", m), ("gus", m), ("dana", d)) == [381, 380, 380]
    assert get_rights(view(cast), m).vault == 761 * 2 - 570 - 190


def test_sixteen_sources(cast):
    ds = [create_datanet(cast, "dana", name=f"d{i}") for i in range(16)]
    for d in ds[:4]:
        submit(cast, "dana", "transfer_shares", d, ADDR["gus"], 1_000_000)
    m = register(cast, "eve", "model", [(d, 60_000) for d in ds], price=1_000_000)
    use(cast, "uma", m, 1_000_000)
    # R = 950,000; each datanet 950,000 * 6 % = 57,000 (no pools: nothing accepted);
    # eve keeps 950,000 - 16 * 57,000 = 38,000; gus holds 4 of the datanets
    assert holder_accrued(cast, "eve", m) == 38_000
    assert accruals(cast, *[("gus", d) for d in ds[:4]]) == [57_000] * 4
    assert accruals(cast, *[("dana", d) for d in ds[4:]]) == [57_000] * 12


def test_dust_protocol_fee_and_source_parts_floor(cast):
    d = create_datanet(cast, "dana", share_ppm=100_000)
    accepted(cast, "ada", d, "ada", 1)
    m = register(cast, "eve", "model", [(d, 1_000_000)], price=19)
    a = register(cast, "finn", "agent", [(m, 100_000)], price=9)
    use(cast, "uma", m, 19)
    # fee 19 * 5 % = 0.95 -> 0; R = 19 all to the datanet (weight 100 %);
    # pool 19 * 10 % = 1.9 -> 1; dana 18; eve 0
    assert accruals(cast, ("dana", d), ("eve", m)) == [18, 0]
    assert pool(cast, d).balance == 1
    use(cast, "uma", a, 9)
    # fee 0.45 -> 0; model part 9 * 10 % = 0.9 -> 0: everything stays with the agent
    assert accruals(cast, ("finn", a), ("eve", m)) == [9, 0]


def test_dust_three_holders_stays_in_the_vault(cast):
    m = register(cast, "eve", "model", [], price=10)
    submit(cast, "eve", "transfer_shares", m, ADDR["gus"], 333_333)
    submit(cast, "eve", "transfer_shares", m, ADDR["ada"], 333_333)
    use(cast, "uma", m, 10)
    # fee 0.5 -> 0; 10 * 333,333 / 1e6 = 3.3 -> 3 each, eve 3.33334 -> 3; the 1 left stays
    assert accruals(cast, ("eve", m), ("gus", m), ("ada", m)) == [3, 3, 3]
    assert [claim(cast, n, m) for n in ("eve", "gus", "ada")] == [3, 3, 3]
    assert get_rights(view(cast), m).vault == 1


def test_dust_pool_accumulator_keeps_remainder(cast):
    d = create_datanet(cast, "dana", share_ppm=1_000_000)
    cs = [accepted(cast, who, d, who, 1) for who in ("ada", "bao", "chidi")]
    m = register(cast, "eve", "model", [(d, 1_000_000)], price=105)
    use(cast, "uma", m, 105)
    # fee 105 * 5 % = 5.25 -> 5; 100 into the pool; acc = 100e18 // 3 = 33,333,333,333,333,333,333
    assert pool(cast, d).acc == 100 * ACC_SCALE // 3 == 33_333_333_333_333_333_333
    assert [accrued(cast, c) for c in cs] == [33, 33, 33]
    for who, c in zip(("ada", "bao", "chidi"), cs):
        submit(cast, who, "claim", c)
    assert pool(cast, d).balance == 1 and earned(cast, "dana", d) == 0


def test_pool_accumulator_with_contributions_accepted_at_different_times(cast):
    d = create_datanet(cast, "dana", share_ppm=1_000_000)
    m = register(cast, "eve", "model", [(d, 1_000_000)], price=1_000)     # 950 reach the pool
    ada = accepted(cast, "ada", d, "ada", 100)
    chidi = contribute(cast, "chidi", d, "chidi")                          # pending for now
    use(cast, "uma", m, 1_000)
    # W = 100: acc = 950e18 / 100 = 9.5e18; ada 950
    assert (accrued(cast, ada), accrued(cast, chidi)) == (950, 0)
    bao = accepted(cast, "bao", d, "bao", 300)
    assert accrued(cast, bao) == 0                                         # joins from now on
    use(cast, "uma", m, 1_000)
    # W = 400: acc += 950e18 / 400 = 2.375e18 -> 11.875e18
    # ada 100 * 11.875 = 1,187.5 -> 1,187; bao 300 * 2.375 = 712.5 -> 712
    assert (accrued(cast, ada), accrued(cast, bao), accrued(cast, chidi)) == (1_187, 712, 0)
    submit(cast, "ada", "claim", ada)
    review(cast, "dana", chidi, True, 600)
    use(cast, "uma", m, 1_000)
    # W = 1,000: acc += 0.95e18 -> 12.825e18
    # ada (1,282.5e18 - 1,187e18) / 1e18 = 95.5 -> 95 (the half kept from its claim counts)
    # bao 300 * (12.825 - 9.5) = 997.5 -> 997; chidi 600 * 0.95 = 570
    assert pool(cast, d).acc == 12_825 * 10**15
    assert (accrued(cast, ada), accrued(cast, bao), accrued(cast, chidi)) == (95, 997, 570)
    for who, c in (("ada", ada), ("bao", bao), ("chidi", chidi)):
        submit(cast, who, "claim", c)
    assert (earned(cast, "ada", ada), earned(cast, "bao", bao), earned(cast, "chidi", chidi)) == (1_282, 997, 570)
    # 3 * 950 = 2,850 paid in, 2,849 paid out: 1 of dust stays
    assert pool(cast, d).balance == 1


def test_use_cost_does_not_depend_on_number_of_contributions(cast, monkeypatch):
    """A payment reads and writes the same keys whether a datanet has 1 or 40 accepted
    contributions: the pool is one accumulator, not a loop over contributions."""
    from ledger_helpers import apply_ok
    small = create_datanet(cast, "dana", name="small", bond=0)
    big = create_datanet(cast, "dana", name="big", bond=0)
    accepted(cast, "ada", small, "only", 5)
    apply_ok(cast, *[cast.tx(KEYS["bao"], "contribute", big, bytes([i]) * 32, 1, "") for i in range(40)])
    from state.asset_records import compute_contribution_id
    apply_ok(cast, *[cast.tx(KEYS["dana"], "review", compute_contribution_id(big, bytes([i]) * 32), True, i + 1)
                     for i in range(40)])
    assert pool(cast, big).members == 40
    m_small = register(cast, "eve", "model", [(small, 500_000)], price=1_000, name="s")
    m_big = register(cast, "eve", "model", [(big, 500_000)], price=1_000, name="b")
    use(cast, "uma", m_small, 1_000)          # first earnings create index entries:
    use(cast, "uma", m_big, 1_000)            # measure the steady state below

    store = cast.ledger.store
    counts = []
    for m in (m_small, m_big):
        reads = []
        real_get = store.get
        monkeypatch.setattr(store, "get", lambda k, _g=real_get: (reads.append(k), _g(k))[1])
        result = apply_ok(cast, cast.tx(KEYS["uma"], "use", m, 1_000))
        monkeypatch.undo()
        asset_keys = [k for k in result.changes if k[:4] in (b"ast/", b"pol/", b"rev/")]
        counts.append((len(reads), len(result.changes), len(asset_keys)))
    assert counts[0] == counts[1] and counts[0][0] > 0 and counts[0][2] > 0, counts


def test_use_of_asset_with_upstream_expansion_of_1024(cast):
    D, L, Y = build_wide_graph(cast, who="eve")
    accepted(cast, "ada", D[0], "ada", 3, curator="eve")
    submit(cast, "eve", "transfer_shares", L[0], ADDR["gus"], 123_457)
    z = register(cast, "finn", "agent", [(y, 300_000) for y in Y] + [(m, 7_000) for m in L[:12]],
                 price=987_654_321)
    assert record(cast, z).expansion == 1_024
    expected, pools = {}, {}
    reference_payout(view(cast), z, 987_654_321 - 987_654_321 * 50_000 // PPM, expected, pools)
    assets = [z] + D + L + Y
    vaults = {a: get_rights(view(cast), a).vault for a in assets}
    pool_before = pool(cast, D[0]).balance
    use_fee = compute_use_fee(1_024, FEE)        # 32 x min_fee: the use reaches 1,024 assets
    before = balances(cast, "uma")["uma"]
    use(cast, "uma", z, 987_654_321, fee=use_fee)
    got = {a: get_rights(view(cast), a).vault - vaults[a] for a in assets}
    assert {a: v for a, v in got.items() if v} == expected
    assert pool(cast, D[0]).balance - pool_before == pools[D[0]]
    # every uopen accounted for: vaults + pool + protocol fee == price
    assert sum(got.values()) + pools[D[0]] + 987_654_321 * 50_000 // PPM == 987_654_321
    assert before - balances(cast, "uma")["uma"] == 987_654_321 + use_fee
    # gus holds 123,457 shares of L[0]: it accrued floor(its shares * what arrived / 1e6)
    assert holder_accrued(cast, "gus", L[0]) == expected[L[0]] * 123_457 // PPM
