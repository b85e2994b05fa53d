"""transfer_shares(asset, to, shares): sell or give revenue rights of any asset."""
from __future__ import annotations

from asset_helpers import (  # noqa: F401
    ADDR, KEYS, accepted, accrued, balances, cast, claim, create_datanet, earned, holder_accrued, holders,
    register, submit, use,
)
from ledger_helpers import apply_ok, assert_rejected
from state.errors import Code


def test_transfer_shares_part(cast):
    m = register(cast, "eve", "model", [])
    result, _ = submit(cast, "eve", "transfer_shares", m, ADDR["gus"], 250_000)
    assert holders(cast, m) == sorted([[ADDR["eve"], 750_000], [ADDR["gus"], 250_000]])
    assert ("shares", m, ADDR["eve"], ADDR["gus"], 250_000) in result.events


def test_transfer_shares_all_removes_sender(cast):
    d = create_datanet(cast)
    submit(cast, "dana", "transfer_shares", d, ADDR["gus"], 1_000_000)
    assert holders(cast, d) == [[ADDR["gus"], 1_000_000]]


def test_transfer_shares_to_existing_holder_merges(cast):
    m = register(cast, "eve", "model", [])
    submit(cast, "eve", "transfer_shares", m, ADDR["gus"], 100)
    submit(cast, "eve", "transfer_shares", m, ADDR["gus"], 200)
    submit(cast, "gus", "transfer_shares", m, ADDR["ada"], 50)
    assert holders(cast, m) == sorted([[ADDR["eve"], 999_700], [ADDR["gus"], 250], [ADDR["ada"], 50]])


def test_transfer_shares_moves_future_revenue(cast):
    m = register(cast, "eve", "model", [], price=1_000)
    submit(cast, "eve", "transfer_shares", m, ADDR["gus"], 1_000_000)
    use(cast, "uma", m, 1_000)
    assert (holder_accrued(cast, "eve", m), holder_accrued(cast, "gus", m)) == (0, 950)


def test_transfer_shares_of_contribution_settles_accrued_first(cast):
    d = create_datanet(cast, share_ppm=1_000_000)
    c = accepted(cast, "ada", d, "x", 10)
    m = register(cast, "eve", "model", [(d, 1_000_000)], price=1_000)
    use(cast, "uma", m, 1_000)                    # 950 into the pool, all accrued by c
    assert accrued(cast, c) == 950
    before = balances(cast, "ada", "gus")
    submit(cast, "ada", "transfer_shares", c, ADDR["gus"], 1_000_000)
    after = balances(cast, "ada", "gus")
    # the 950 accrued while ada held the shares is paid to ada, not sold with them
    assert after["ada"] - before["ada"] == 950 - cast.ledger.params.min_fee
    assert after["gus"] == before["gus"] and accrued(cast, c) == 0
    use(cast, "uma", m, 1_000)
    assert claim(cast, "gus", c) == 950
    assert (earned(cast, "ada", c), earned(cast, "gus", c)) == (950, 950)


def test_transfer_shares_has_no_holder_cap(cast):
    m = register(cast, "eve", "model", [])
    raws = [cast.tx(KEYS["eve"], "transfer_shares", m, i.to_bytes(20, "big"), 1) for i in range(1, 101)]
    apply_ok(cast, *raws)
    assert len(holders(cast, m)) == 101


def test_transfer_shares_settles_the_sender_first(cast):
    m = register(cast, "eve", "model", [], price=1_000)
    use(cast, "uma", m, 1_000)
    submit(cast, "eve", "transfer_shares", m, ADDR["gus"], 400_000)
    assert earned(cast, "eve", m) == 950 and holder_accrued(cast, "gus", m) == 0
    use(cast, "uma", m, 1_000)
    assert (holder_accrued(cast, "eve", m), holder_accrued(cast, "gus", m)) == (570, 380)


def _tx(cast, who, asset, to, shares):
    return cast.tx(KEYS[who], "transfer_shares", asset, to, shares)


def test_invalid_insufficient_shares(cast):
    m = register(cast, "eve", "model", [])
    submit(cast, "eve", "transfer_shares", m, ADDR["gus"], 10)
    assert_rejected(cast, _tx(cast, "gus", m, ADDR["ada"], 11), Code.INSUFFICIENT_SHARES, charged=True)


def test_invalid_non_holder(cast):
    m = register(cast, "eve", "model", [])
    assert_rejected(cast, _tx(cast, "ada", m, ADDR["gus"], 1), Code.INSUFFICIENT_SHARES, charged=True)


def test_invalid_unknown_asset(cast):
    assert_rejected(cast, _tx(cast, "eve", b"\x04" * 32, ADDR["gus"], 1), Code.UNKNOWN_ASSET, charged=True)


def test_invalid_to_self(cast):
    m = register(cast, "eve", "model", [])
    assert_rejected(cast, _tx(cast, "eve", m, ADDR["eve"], 1), Code.SELF_REFERENCE, charged=False)


def test_invalid_zero_shares(cast):
    m = register(cast, "eve", "model", [])
    assert_rejected(cast, _tx(cast, "eve", m, ADDR["gus"], 0), Code.OUT_OF_RANGE, charged=False)


def test_invalid_more_than_all_shares(cast):
    m = register(cast, "eve", "model", [])
    assert_rejected(cast, _tx(cast, "eve", m, ADDR["gus"], 1_000_001), Code.OUT_OF_RANGE, charged=False)


def test_invalid_bad_address(cast):
    m = register(cast, "eve", "model", [])
    assert_rejected(cast, _tx(cast, "eve", m, b"\x01" * 21, 1), Code.BAD_ADDRESS, charged=False)
