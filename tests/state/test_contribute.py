"""contribute(datanet, content_hash, size, metadata_uri): the sender escrows the bond."""
from __future__ import annotations

from asset_helpers import (  # noqa: F401
    ADDR, holders, BOND, KEYS, accepted, cast, content, contribute, create_datanet, record, register,
)
from ledger_helpers import START_BALANCE, assert_rejected, balance, view
from state.asset_records import AssetKind, Status, compute_contribution_id
from state.devchain import seeded_key
from state.errors import Code
from state.graph import get_contributions
from state.tx import TOTAL_SHARES


def test_contribute_escrows_the_bond(cast):
    d = create_datanet(cast, bond=BOND)
    c = contribute(cast, "ada", d, "x-ray-1", size=5_000)
    rec = record(cast, c)
    assert rec.kind == AssetKind.CONTRIBUTION and rec.creator == ADDR["ada"]
    assert (rec.datanet, rec.content_hash, rec.extra[2]) == (d, content("x-ray-1"), 5_000)
    assert rec.status == Status.PENDING and rec.weight == 0
    assert rec.escrow == BOND
    assert holders(cast, c) == [[ADDR["ada"], TOTAL_SHARES]]
    assert balance(cast, ADDR["ada"]) == START_BALANCE - BOND - cast.ledger.params.min_fee


def test_contribute_is_listed_in_its_datanet(cast):
    d = create_datanet(cast)
    ids = [contribute(cast, who, d, f"item-{i}") for i, who in enumerate(["ada", "bao", "chidi"])]
    assert get_contributions(view(cast), d) == ids
    assert get_contributions(view(cast), d, start=1, limit=1) == ids[1:2]


def test_contribute_with_zero_bond(cast):
    d = create_datanet(cast, bond=0)
    c = contribute(cast, "ada", d, "free")
    assert record(cast, c).escrow == 0
    assert balance(cast, ADDR["ada"]) == START_BALANCE - cast.ledger.params.min_fee


def test_contribute_same_content_to_two_datanets(cast):
    d1, d2 = create_datanet(cast, name="one"), create_datanet(cast, name="two")
    c1, c2 = contribute(cast, "ada", d1, "same"), contribute(cast, "ada", d2, "same")
    assert c1 != c2 and record(cast, c1).datanet == d1 and record(cast, c2).datanet == d2


def test_contribute_many_listed_across_pages(cast):
    d = create_datanet(cast, bond=0)
    raws = [cast.tx(KEYS["bao"], "contribute", d, content(f"c{i}"), 1, "") for i in range(70)]
    from ledger_helpers import apply_ok
    apply_ok(cast, *raws)
    ids = get_contributions(view(cast), d)
    assert ids == [compute_contribution_id(d, content(f"c{i}")) for i in range(70)]


def test_invalid_unknown_datanet(cast):
    raw = cast.tx(KEYS["ada"], "contribute", b"\x07" * 32, content("x"), 1, "")
    assert_rejected(cast, raw, Code.UNKNOWN_ASSET, charged=True)


def test_invalid_not_a_datanet(cast):
    d = create_datanet(cast)
    c = accepted(cast, "ada", d, "x", 10)
    m = register(cast, "eve", "model", [(d, 1)])
    for target in (c, m):
        assert_rejected(cast, cast.tx(KEYS["ada"], "contribute", target, content("y"), 1, ""),
                        Code.WRONG_ASSET_KIND, charged=True)


def test_invalid_duplicate_content(cast):
    d = create_datanet(cast)
    contribute(cast, "ada", d, "x")
    # the same content by anyone else is refused, so a copy cannot share the pool
    assert_rejected(cast, cast.tx(KEYS["bao"], "contribute", d, content("x"), 1, ""), Code.ASSET_EXISTS)


def test_invalid_insufficient_funds_for_bond(make):
    poor = seeded_key("poor")
    chain = make(accounts=[(KEYS["dana"], START_BALANCE), (poor, 1_000 + BOND - 1)])
    d = create_datanet(chain)
    raw = chain.tx(poor, "contribute", d, content("x"), 1, "")
    assert_rejected(chain, raw, Code.INSUFFICIENT_FUNDS, charged=True)


def test_invalid_content_hash_length(cast):
    d = create_datanet(cast)
    assert_rejected(cast, cast.tx(KEYS["ada"], "contribute", d, b"\x01" * 31, 1, ""), Code.OUT_OF_RANGE)


def test_invalid_negative_size(cast):
    d = create_datanet(cast)
    assert_rejected(cast, cast.tx(KEYS["ada"], "contribute", d, content("x"), -5, ""), Code.OUT_OF_RANGE)


def test_invalid_wrong_type(cast):
    assert_rejected(cast, cast.tx(KEYS["ada"], "contribute", "datanet", content("x"), 1, ""), Code.WRONG_TYPE)


def test_invalid_extra_field(cast):
    d = create_datanet(cast)
    assert_rejected(cast, cast.tx(KEYS["ada"], "contribute", d, content("x"), 1, "", 9), Code.EXTRA_FIELD)
