"""create_datanet(name, metadata_uri, contributor_share_ppm, contribution_bond, curators)."""
from __future__ import annotations

from asset_helpers import ADDR, KEYS, holders, cast, create_datanet, record, submit  # noqa: F401
from ledger_helpers import START_BALANCE, assert_rejected, balance
from state.asset_records import AssetKind, compute_asset_id
from state.errors import Code
from state.tx import TOTAL_SHARES, tx_id


def test_create_datanet_records_terms_and_gives_creator_all_shares(cast):
    d = create_datanet(cast, "dana", share_ppm=250_000, bond=42, curators=("dana", "gus"))
    rec = record(cast, d)
    assert rec.kind == AssetKind.DATANET and rec.creator == ADDR["dana"]
    assert holders(cast, d) == [[ADDR["dana"], TOTAL_SHARES]]
    assert (rec.contributor_share_ppm, rec.contribution_bond) == (250_000, 42)
    assert rec.curators == [ADDR["dana"], ADDR["gus"]]
    assert rec.expansion == 1 and rec.sources == [] and rec.escrow == 0
    # creating a datanet costs only the fee
    assert balance(cast, ADDR["dana"]) == START_BALANCE - cast.ledger.params.min_fee


def test_create_datanet_id_is_derived_from_the_tx_id(cast):
    _, raw = submit(cast, "dana", "create_datanet", "a", "", 0, 0, [ADDR["dana"]])
    _, raw2 = submit(cast, "dana", "create_datanet", "a", "", 0, 0, [ADDR["dana"]])
    a, b = compute_asset_id(tx_id(raw)), compute_asset_id(tx_id(raw2))
    assert a != b and record(cast, a) is not None and record(cast, b) is not None


def test_create_datanet_curators_need_not_include_creator(cast):
    d = create_datanet(cast, "dana", curators=("eve",))
    assert record(cast, d).curators == [ADDR["eve"]]


def test_create_datanet_with_zero_bond_and_full_contributor_share(cast):
    d = create_datanet(cast, "dana", share_ppm=1_000_000, bond=0)
    assert (record(cast, d).contributor_share_ppm, record(cast, d).contribution_bond) == (1_000_000, 0)


def _tx(cast, *fields):
    return cast.tx(KEYS["dana"], "create_datanet", *fields)


def test_invalid_no_curator(cast):
    assert_rejected(cast, _tx(cast, "d", "", 0, 0, []), Code.OUT_OF_RANGE, charged=True)


def test_invalid_contributor_share_above_100_percent(cast):
    assert_rejected(cast, _tx(cast, "d", "", 1_000_001, 0, [ADDR["dana"]]), Code.OUT_OF_RANGE, charged=False)


def test_invalid_negative_bond(cast):
    assert_rejected(cast, _tx(cast, "d", "", 0, -1, [ADDR["dana"]]), Code.OUT_OF_RANGE, charged=False)


def test_invalid_bond_overflow(cast):
    assert_rejected(cast, _tx(cast, "d", "", 0, 2**63, [ADDR["dana"]]), Code.OUT_OF_RANGE, charged=False)


def test_invalid_too_many_curators(cast):
    curators = [bytes([i]) * 20 for i in range(17)]
    assert_rejected(cast, _tx(cast, "d", "", 0, 0, curators), Code.TOO_MANY_ITEMS, charged=False)


def test_invalid_duplicate_curator(cast):
    assert_rejected(cast, _tx(cast, "d", "", 0, 0, [ADDR["dana"], ADDR["dana"]]), Code.DUPLICATE_ITEM)


def test_invalid_bad_curator_address(cast):
    assert_rejected(cast, _tx(cast, "d", "", 0, 0, [b"\x01" * 19]), Code.BAD_ADDRESS)


def test_invalid_empty_name(cast):
    assert_rejected(cast, _tx(cast, "", "", 0, 0, [ADDR["dana"]]), Code.OUT_OF_RANGE)


def test_invalid_name_too_long(cast):
    assert_rejected(cast, _tx(cast, "n" * 65, "", 0, 0, [ADDR["dana"]]), Code.STRING_TOO_LONG)


def test_invalid_uri_too_long(cast):
    assert_rejected(cast, _tx(cast, "d", "u" * 257, 0, 0, [ADDR["dana"]]), Code.STRING_TOO_LONG)


def test_invalid_wrong_type(cast):
    assert_rejected(cast, _tx(cast, "d", "", "600000", 0, [ADDR["dana"]]), Code.WRONG_TYPE)


def test_invalid_missing_field(cast):
    assert_rejected(cast, _tx(cast, "d", "", 0, 0), Code.MISSING_FIELD)
