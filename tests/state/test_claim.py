"""claim(asset): settle the sender on any asset; for a contribution, what it accrued in
its datanet's pool first moves to its holders (pool -> contribution -> holders)."""
from __future__ import annotations

from asset_helpers import (  # noqa: F401
    ADDR, KEYS, accepted, accrued, balances, cast, claim, contribute, create_datanet, earned, holder_accrued,
    pool, register, review, submit, use,
)
from ledger_helpers import assert_rejected, view
from state.errors import Code
from state.graph import get_earnings


def _pool_graph(cast, weights):
    """Datanet (all of its revenue to the pool) with accepted contributions by ada, bao...
    of the given weights, and a model on it at price 1,000 (950 reaches the pool)."""
    d = create_datanet(cast, share_ppm=1_000_000)
    cs = [accepted(cast, who, d, who, w) for who, w in zip(["ada", "bao", "chidi"], weights)]
    m = register(cast, "eve", "model", [(d, 1_000_000)], price=1_000)
    return d, cs, m


def test_claim_pays_accrued_to_holder(cast):
    d, (c,), m = _pool_graph(cast, [5])
    use(cast, "uma", m, 1_000)
    before = balances(cast, "ada")["ada"]
    result, _ = submit(cast, "ada", "claim", c)
    assert balances(cast, "ada")["ada"] - before == 950 - cast.ledger.params.min_fee
    assert earned(cast, "ada", c) == 950 and accrued(cast, c) == 0
    assert pool(cast, d).balance == 0
    assert ("earn", ADDR["ada"], c, 950) in result.events
    assert get_earnings(view(cast), ADDR["ada"]) == [(c, 950)]


def test_claim_pays_only_the_sender(cast):
    d, (c,), m = _pool_graph(cast, [5])
    submit(cast, "ada", "transfer_shares", c, ADDR["gus"], 400_000)
    use(cast, "uma", m, 1_000)
    before = balances(cast, "ada", "gus")
    submit(cast, "gus", "claim", c)
    after = balances(cast, "ada", "gus")
    assert after["ada"] == before["ada"] and holder_accrued(cast, "ada", c) == 570
    assert after["gus"] - before["gus"] == 380 - cast.ledger.params.min_fee
    assert pool(cast, d).balance == 0          # the whole 950 moved to c's holders


def test_claim_split_among_holders(cast):
    d, (c,), m = _pool_graph(cast, [5])
    submit(cast, "ada", "transfer_shares", c, ADDR["gus"], 300_000)
    use(cast, "uma", m, 1_000)
    claim(cast, "ada", c)
    claim(cast, "gus", c)
    # 950 * 0.7 = 665, 950 * 0.3 = 285
    assert (earned(cast, "ada", c), earned(cast, "gus", c)) == (665, 285)


def test_claim_again_after_more_use(cast):
    d, (c1, c2), m = _pool_graph(cast, [1, 3])
    use(cast, "uma", m, 1_000)
    submit(cast, "ada", "claim", c1)
    use(cast, "uma", m, 1_000)
    submit(cast, "ada", "claim", c1)
    submit(cast, "bao", "claim", c2)
    # each use: 950 / 4 = 237.5 per unit of weight; c1 gets floor(237.5 * 2) = 475 over two
    # claims (237 + 238: the half kept at the first claim is paid at the second)
    assert earned(cast, "ada", c1) == 475 and earned(cast, "bao", c2) == 1_425
    assert pool(cast, d).balance == 0


def test_invalid_nothing_to_claim(cast):
    d, (c,), m = _pool_graph(cast, [5])
    assert_rejected(cast, cast.tx(KEYS["ada"], "claim", c), Code.NOTHING_TO_CLAIM, charged=True)


def test_invalid_claim_twice(cast):
    d, (c,), m = _pool_graph(cast, [5])
    use(cast, "uma", m, 1_000)
    submit(cast, "ada", "claim", c)
    assert_rejected(cast, cast.tx(KEYS["ada"], "claim", c), Code.NOTHING_TO_CLAIM)


def test_claim_any_asset_kind(cast):
    d, (c,), m = _pool_graph(cast, [1])
    a = register(cast, "finn", "agent", [(m, 500_000)], price=2_000)
    use(cast, "uma", a, 2_000)
    # 1,900 at the agent: 950 to the model, whose datanet source takes all of it to the pool
    assert claim(cast, "finn", a) == 950
    assert_rejected(cast, cast.tx(KEYS["eve"], "claim", m), Code.NOTHING_TO_CLAIM, charged=True)
    assert claim(cast, "ada", c) == 950


def test_invalid_pending_contribution_accrues_nothing(cast):
    d = create_datanet(cast)
    c = contribute(cast, "ada", d, "x")
    assert_rejected(cast, cast.tx(KEYS["ada"], "claim", c), Code.NOTHING_TO_CLAIM, charged=True)


def test_invalid_not_a_holder(cast):
    d, (c,), m = _pool_graph(cast, [1])
    use(cast, "uma", m, 1_000)
    assert_rejected(cast, cast.tx(KEYS["gus"], "claim", c), Code.NOTHING_TO_CLAIM, charged=True)
    assert accrued(cast, c) == 950             # the refused claim moved nothing


def test_invalid_unknown_asset(cast):
    assert_rejected(cast, cast.tx(KEYS["ada"], "claim", b"\x06" * 32), Code.UNKNOWN_ASSET, charged=True)


def test_invalid_asset_wrong_type(cast):
    assert_rejected(cast, cast.tx(KEYS["ada"], "claim", 5), Code.WRONG_TYPE, charged=False)
