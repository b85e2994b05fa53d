"""review(contribution, accept, weight): by a curator of the contribution's datanet."""
from __future__ import annotations

from asset_helpers import (  # noqa: F401
    ADDR, BOND, KEYS, NAMES, balances, cast, contribute, create_datanet, earned, holder_accrued, pool, record,
    review, submit,
)
from ledger_helpers import assert_rejected, view
from state.asset_records import Status
from state.errors import Code
from state.revenue import get_rights


def test_review_accept_returns_bond_and_joins_pool(cast):
    d = create_datanet(cast, bond=BOND)
    c = contribute(cast, "ada", d, "x")
    before = balances(cast, "ada", "dana")
    review(cast, "dana", c, True, 250_000)
    after = balances(cast, "ada", "dana")
    assert after["ada"] - before["ada"] == BOND
    assert after["dana"] - before["dana"] == -cast.ledger.params.min_fee
    rec = record(cast, c)
    assert (rec.status, rec.weight, rec.escrow) == (Status.ACCEPTED, 250_000, 0)
    p = pool(cast, d)
    assert (p.total_weight, p.members, p.balance) == (250_000, 1, 0)


def test_review_accept_by_any_listed_curator(cast):
    d = create_datanet(cast, curators=("dana", "gus"))
    c1, c2 = contribute(cast, "ada", d, "x"), contribute(cast, "bao", d, "y")
    review(cast, "gus", c1, True, 3)
    review(cast, "dana", c2, True, 1_000_000)
    assert pool(cast, d).total_weight == 1_000_003


def test_review_bond_returns_to_contributor_even_after_shares_were_sold(cast):
    d = create_datanet(cast)
    c = contribute(cast, "ada", d, "x")
    submit(cast, "ada", "transfer_shares", c, ADDR["gus"], 1_000_000)
    before = balances(cast, "ada", "gus")
    review(cast, "dana", c, True, 10)
    after = balances(cast, "ada", "gus")
    assert (after["ada"] - before["ada"], after["gus"] - before["gus"]) == (BOND, 0)


def test_review_reject_forfeits_bond_to_datanet_holders(cast):
    d = create_datanet(cast, bond=1_000_003)
    # dana keeps 600,000 shares, gus 250,000, eve 150,000
    submit(cast, "dana", "transfer_shares", d, ADDR["gus"], 250_000)
    submit(cast, "dana", "transfer_shares", d, ADDR["eve"], 150_000)
    c = contribute(cast, "ada", d, "spam")
    before = balances(cast, *NAMES)
    review(cast, "dana", c, False)
    after = balances(cast, *NAMES)
    delta = {n: after[n] - before[n] for n in NAMES if after[n] != before[n]}
    fee = cast.ledger.params.min_fee
    # the bond goes to the datanet's holders' accumulator: 1,000,003 * 0.6 = 600,001.8 ->
    # 600,001; * 0.25 = 250,000.75 -> 250,000; * 0.15 = 150,000.45 -> 150,000; dust 2 stays
    assert delta == {"dana": -fee}
    assert [holder_accrued(cast, n, d) for n in ("dana", "gus", "eve")] == [600_001, 250_000, 150_000]
    assert record(cast, c).status == Status.REJECTED and record(cast, c).escrow == 0
    assert get_rights(view(cast), d).vault == 1_000_003
    assert pool(cast, d).total_weight == 0


def test_review_reject_with_zero_bond_pays_nothing(cast):
    d = create_datanet(cast, bond=0)
    c = contribute(cast, "ada", d, "x")
    review(cast, "dana", c, False)
    assert record(cast, c).status == Status.REJECTED and earned(cast, "dana", d) == 0


def _review(cast, who, c, accept=True, weight=1):
    return cast.tx(KEYS[who], "review", c, accept, weight)


def test_invalid_unknown_contribution(cast):
    assert_rejected(cast, _review(cast, "dana", b"\x09" * 32), Code.UNKNOWN_ASSET, charged=True)


def test_invalid_not_a_contribution(cast):
    d = create_datanet(cast)
    assert_rejected(cast, _review(cast, "dana", d), Code.WRONG_ASSET_KIND, charged=True)


def test_invalid_not_curator(cast):
    d = create_datanet(cast, "dana", curators=("gus",))
    c = contribute(cast, "ada", d, "x")
    # neither the datanet's creator nor the contributor may review: only its curators
    for who in ("dana", "ada"):
        assert_rejected(cast, _review(cast, who, c), Code.NOT_CURATOR, charged=True)


def test_invalid_curator_of_another_datanet(cast):
    d1 = create_datanet(cast, curators=("dana",), name="one")
    d2 = create_datanet(cast, curators=("gus",), name="two")
    c = contribute(cast, "ada", d1, "x")
    assert d2 != d1
    assert_rejected(cast, _review(cast, "gus", c), Code.NOT_CURATOR)


def test_invalid_double_review_after_accept(cast):
    d = create_datanet(cast)
    c = contribute(cast, "ada", d, "x")
    review(cast, "dana", c, True, 5)
    assert_rejected(cast, _review(cast, "dana", c, True, 7), Code.ALREADY_REVIEWED, charged=True)
    assert_rejected(cast, _review(cast, "dana", c, False, 0), Code.ALREADY_REVIEWED, charged=True)


def test_invalid_double_review_after_reject(cast):
    d = create_datanet(cast)
    c = contribute(cast, "ada", d, "x")
    review(cast, "dana", c, False)
    assert_rejected(cast, _review(cast, "dana", c, True, 7), Code.ALREADY_REVIEWED)


def test_invalid_accept_with_zero_weight(cast):
    d = create_datanet(cast)
    c = contribute(cast, "ada", d, "x")
    assert_rejected(cast, _review(cast, "dana", c, True, 0), Code.OUT_OF_RANGE, charged=False)


def test_invalid_weight_above_one_million(cast):
    d = create_datanet(cast)
    c = contribute(cast, "ada", d, "x")
    assert_rejected(cast, _review(cast, "dana", c, True, 1_000_001), Code.OUT_OF_RANGE, charged=False)


def test_invalid_reject_with_weight(cast):
    d = create_datanet(cast)
    c = contribute(cast, "ada", d, "x")
    assert_rejected(cast, _review(cast, "dana", c, False, 5), Code.OUT_OF_RANGE, charged=False)


def test_invalid_accept_not_boolean(cast):
    d = create_datanet(cast)
    c = contribute(cast, "ada", d, "x")
    assert_rejected(cast, _review(cast, "dana", c, 1, 5), Code.WRONG_TYPE, charged=False)
