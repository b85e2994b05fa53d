"""use(asset, max_price): pay the asset's price; protocol_fee_ppm of it (floor) goes to the
block's validators and the rest flows up the attribution graph (amounts: test_attribution.py)."""
from __future__ import annotations

from asset_helpers import (  # noqa: F401
    ADDR, KEYS, accepted, balances, build_wide_graph, cast, claim, create_datanet, earned, holder_accrued,
    register, submit, submit_all, use,
)
from ledger_helpers import START_BALANCE, assert_rejected, view
from state.attribution import compute_use_fee, compute_use_flows
from state.devchain import seeded_key
from state.errors import Code
from state.params import Params


def test_use_model_pays_price_to_holders_and_fee_to_validators(cast):
    m = register(cast, "eve", "model", [], price=2_000_000)
    before = balances(cast, "uma", "eve")
    result = use(cast, "uma", m, 2_000_000)
    after = balances(cast, "uma", "eve")
    fee = cast.ledger.params.min_fee
    protocol_fee = 2_000_000 * 50_000 // 1_000_000
    assert before["uma"] - after["uma"] == 2_000_000 + fee
    assert after["eve"] == before["eve"] and holder_accrued(cast, "eve", m) == 2_000_000 - protocol_fee
    assert ("use", m, ADDR["uma"], 2_000_000, protocol_fee) in result.events
    assert ("accrue", m, 2_000_000 - protocol_fee) in result.events
    assert claim(cast, "eve", m) == 2_000_000 - protocol_fee


def test_use_protocol_fee_reaches_validators(cast):
    """The protocol fee joins the block's fees, paid to the last commit's signers."""
    m = register(cast, "eve", "model", [], price=10_000_000)
    from ledger_helpers import balance
    from state.keys import FEE_POOL

    def validators_and_fee_pool() -> int:
        return sum(balance(cast, v.operator) for v in cast.validators) + (view(cast).get_record(FEE_POOL) or 0)
    before = validators_and_fee_pool()
    use(cast, "uma", m, 10_000_000)
    assert validators_and_fee_pool() - before == 500_000 + cast.ledger.params.min_fee


def test_use_charges_the_price_not_max_price(cast):
    m = register(cast, "eve", "model", [], price=100)
    before = balances(cast, "uma")["uma"]
    use(cast, "uma", m, 10**12)
    assert before - balances(cast, "uma")["uma"] == 100 + cast.ledger.params.min_fee


def test_use_free_asset(cast):
    m = register(cast, "eve", "model", [], price=0)
    result = use(cast, "uma", m, 0)
    assert ("use", m, ADDR["uma"], 0, 0) in result.events
    assert earned(cast, "eve", m) == 0


def test_use_own_agent(cast):
    a = register(cast, "finn", "agent", [], price=1_000)
    before = balances(cast, "finn")["finn"]
    use(cast, "finn", a, 1_000)
    claim(cast, "finn", a)
    # finn pays 1,000 and gets 950 back as the sole holder
    assert before - balances(cast, "finn")["finn"] == 50 + 2 * cast.ledger.params.min_fee


def test_use_with_zero_protocol_fee(make):
    from asset_helpers import cast_chain
    chain = cast_chain(make, params=Params(protocol_fee_ppm=0))
    m = register(chain, "eve", "model", [], price=777)
    use(chain, "uma", m, 777)
    assert holder_accrued(chain, "eve", m) == 777


def test_use_flows_preview_matches_execution(cast):
    d = create_datanet(cast)
    accepted(cast, "ada", d, "x", 3)
    m = register(cast, "eve", "model", [(d, 333_333)], price=0)
    a = register(cast, "finn", "agent", [(m, 777_777), ], price=123_457)
    fee, flows = compute_use_flows(view(cast), a, 123_457)
    result = use(cast, "uma", a, 123_457)
    paid = {f.recipient: f.amount for f in flows if f.to == "holders"}
    assert paid and paid == {e[1]: e[2] for e in result.events if e[0] == "accrue"}
    assert fee + sum(f.amount for f in flows) == 123_457
    assert [f.path for f in flows if f.to == "pool"] == [(a, m, d)]


def _use(cast, who, asset, max_price):
    return cast.tx(KEYS[who], "use", asset, max_price)


def test_invalid_unknown_asset(cast):
    assert_rejected(cast, _use(cast, "uma", b"\x01" * 32, 10), Code.UNKNOWN_ASSET, charged=True)


def test_invalid_use_of_datanet_or_contribution(cast):
    d = create_datanet(cast)
    c = accepted(cast, "ada", d, "x", 1)
    for asset in (d, c):
        assert_rejected(cast, _use(cast, "uma", asset, 10**9), Code.WRONG_ASSET_KIND, charged=True)


def test_invalid_price_above_max(cast):
    m = register(cast, "eve", "model", [], price=1_001)
    assert_rejected(cast, _use(cast, "uma", m, 1_000), Code.PRICE_ABOVE_MAX, charged=True)


def test_invalid_price_raised_above_max(cast):
    """A price raised after the user looked is refused by its max_price."""
    m = register(cast, "eve", "model", [], price=1_000)
    submit(cast, "eve", "set_price", m, 5_000)
    assert_rejected(cast, _use(cast, "uma", m, 1_000), Code.PRICE_ABOVE_MAX)


def test_invalid_insufficient_funds(make):
    poor = seeded_key("poor")
    from asset_helpers import KEYS as K
    chain = make(accounts=[(K["eve"], START_BALANCE), (poor, 1_000 + 4_999)])
    m = register(chain, "eve", "model", [], price=5_000)
    assert_rejected(chain, chain.tx(poor, "use", m, 5_000), Code.INSUFFICIENT_FUNDS, charged=True)


def test_invalid_negative_max_price(cast):
    m = register(cast, "eve", "model", [])
    assert_rejected(cast, _use(cast, "uma", m, -1), Code.OUT_OF_RANGE, charged=False)


def test_invalid_asset_id_length(cast):
    assert_rejected(cast, _use(cast, "uma", b"\x01" * 20, 1), Code.OUT_OF_RANGE, charged=False)


def test_invalid_wrong_type(cast):
    m = register(cast, "eve", "model", [])
    assert_rejected(cast, _use(cast, "uma", m, "10"), Code.WRONG_TYPE, charged=False)


def test_use_fee_scales_with_expansion(cast):
    D, L, Y = build_wide_graph(cast)
    z = register(cast, "finn", "agent", [(y, 1) for y in Y] + [(m, 1) for m in L[:12]], price=10)
    min_fee = cast.ledger.params.min_fee
    assert compute_use_fee(1_024, min_fee) == 32 * min_fee
    use(cast, "uma", z, 10, fee=32 * min_fee)


def test_invalid_fee_too_low_for_expansion(cast):
    D, L, Y = build_wide_graph(cast)
    z = register(cast, "finn", "agent", [(y, 1) for y in Y] + [(m, 1) for m in L[:12]], price=10)
    raw = cast.tx(KEYS["uma"], "use", z, 10, fee=31 * cast.ledger.params.min_fee)
    assert_rejected(cast, raw, Code.FEE_TOO_LOW, charged=True)


def _model_on_pooled_datanets(cast, n):
    """A model citing n datanets that each have an accepted contribution: a use of it
    writes 1 + n revenue records and n pools."""
    raws = submit_all(cast, "dana", "create_datanet", [(f"d{i}", "", 500_000, 0, [ADDR["dana"]]) for i in range(n)])
    from state.asset_records import compute_asset_id
    from state.tx import tx_id
    ds = [compute_asset_id(tx_id(r)) for r in raws]
    for d in ds:
        accepted(cast, "ada", d, "x", 1)
    return register(cast, "eve", "model", [(d, 60_000) for d in ds], price=10**8)


def test_use_fee_scales_with_keys_written(cast):
    m = _model_on_pooled_datanets(cast, 16)       # 17 assets reached, 33 keys written
    use(cast, "uma", m, 10**8, fee=2 * cast.ledger.params.min_fee)
    assert holder_accrued(cast, "eve", m) > 0


def test_invalid_fee_too_low_for_keys_written(cast):
    m = _model_on_pooled_datanets(cast, 16)
    raw = cast.tx(KEYS["uma"], "use", m, 10**8, fee=2 * cast.ledger.params.min_fee - 1)
    assert_rejected(cast, raw, Code.FEE_TOO_LOW, charged=True)
