"""set_price(asset, price): by the asset's owner = its top share holder (most shares,
ties to the smallest address); only models and agents have prices."""
from __future__ import annotations

from asset_helpers import ADDR, KEYS, cast, create_datanet, record, register, submit  # noqa: F401
from ledger_helpers import assert_rejected
from ledger_helpers import view
from state.revenue import get_top_holder
from state.errors import Code


def test_set_price_by_creator(cast):
    m = register(cast, "eve", "model", [], price=10)
    result, _ = submit(cast, "eve", "set_price", m, 2_500)
    assert record(cast, m).price == 2_500
    assert ("price", m, 2_500) in result.events


def test_set_price_to_zero_and_agent(cast):
    m = register(cast, "eve", "model", [], price=10)
    a = register(cast, "finn", "agent", [(m, 1)], price=10)
    submit(cast, "eve", "set_price", m, 0)
    submit(cast, "finn", "set_price", a, 2**63 - 1)
    assert (record(cast, m).price, record(cast, a).price) == (0, 2**63 - 1)


def test_set_price_passes_to_buyer_of_majority(cast):
    m = register(cast, "eve", "model", [], price=10)
    submit(cast, "eve", "transfer_shares", m, ADDR["gus"], 600_000)
    submit(cast, "gus", "set_price", m, 99)
    assert record(cast, m).price == 99
    assert_rejected(cast, cast.tx(KEYS["eve"], "set_price", m, 1), Code.NOT_OWNER, charged=True)


def test_set_price_tie_goes_to_smallest_address(cast):
    m = register(cast, "eve", "model", [], price=10)
    submit(cast, "eve", "transfer_shares", m, ADDR["gus"], 500_000)
    low, high = sorted(["eve", "gus"], key=lambda n: ADDR[n])
    submit(cast, low, "set_price", m, 77)
    assert record(cast, m).price == 77
    assert_rejected(cast, cast.tx(KEYS[high], "set_price", m, 1), Code.NOT_OWNER)


def test_set_price_top_holder_follows_every_share_movement(cast):
    m = register(cast, "eve", "model", [], price=10)
    a, b = b"\x01" * 20, b"\x02" * 20
    submit(cast, "eve", "transfer_shares", m, b, 500_000)
    assert get_top_holder(view(cast), m) == min(b, ADDR["eve"])
    submit(cast, "eve", "transfer_shares", m, a, 400_000)
    assert get_top_holder(view(cast), m) == b
    submit(cast, "eve", "transfer_shares", m, a, 100_000)     # a: 500,000 = b: the smaller address
    assert get_top_holder(view(cast), m) == a


def test_invalid_unknown_asset(cast):
    assert_rejected(cast, cast.tx(KEYS["eve"], "set_price", b"\x02" * 32, 1), Code.UNKNOWN_ASSET, charged=True)


def test_invalid_not_owner(cast):
    m = register(cast, "eve", "model", [], price=10)
    assert_rejected(cast, cast.tx(KEYS["gus"], "set_price", m, 1), Code.NOT_OWNER, charged=True)


def test_invalid_minority_holder(cast):
    m = register(cast, "eve", "model", [], price=10)
    submit(cast, "eve", "transfer_shares", m, ADDR["gus"], 400_000)
    assert_rejected(cast, cast.tx(KEYS["gus"], "set_price", m, 1), Code.NOT_OWNER)


def test_invalid_datanet_has_no_price(cast):
    d = create_datanet(cast)
    assert_rejected(cast, cast.tx(KEYS["dana"], "set_price", d, 1), Code.WRONG_ASSET_KIND, charged=True)


def test_invalid_negative_price(cast):
    m = register(cast, "eve", "model", [])
    assert_rejected(cast, cast.tx(KEYS["eve"], "set_price", m, -3), Code.OUT_OF_RANGE, charged=False)


def test_invalid_price_overflow(cast):
    m = register(cast, "eve", "model", [])
    assert_rejected(cast, cast.tx(KEYS["eve"], "set_price", m, 2**63), Code.OUT_OF_RANGE, charged=False)
