"""register_model(name, metadata_uri, price, sources): built on datanets, accepted
contributions and models; at most 16 sources, weights summing to <= 1,000,000, and an
upstream expansion (counted with repetition) of at most 1,024."""
from __future__ import annotations

from asset_helpers import (  # noqa: F401
    ADDR, holders, KEYS, accepted, build_wide_graph, cast, contribute, create_datanet, record, register, review,
    submit,
)
from ledger_helpers import assert_rejected, view
from state.asset_records import AssetKind, compute_asset_id
from state.errors import Code
from state.graph import get_downstream, get_upstream
from state.tx import TOTAL_SHARES, tx_id


def test_register_model_on_datanet_contribution_and_parent_model(cast):
    d = create_datanet(cast)
    c = accepted(cast, "ada", d, "x", 10)
    parent = register(cast, "eve", "model", [(d, 500_000)], price=7)
    m = register(cast, "gus", "model", [(parent, 250_000), (c, 100_000), (d, 50_000)], price=123, name="child")
    rec = record(cast, m)
    assert rec.kind == AssetKind.MODEL and rec.creator == ADDR["gus"] and rec.price == 123
    assert rec.sources == [[parent, 250_000], [c, 100_000], [d, 50_000]]     # registration order
    assert holders(cast, m) == [[ADDR["gus"], TOTAL_SHARES]]
    assert rec.expansion == 1 + 2 + 1 + 1
    tree = get_upstream(view(cast), m)
    assert [(n.asset_id, n.path_ppm, depth) for n, depth in tree.walk()] == [
        (m, 1_000_000, 0), (parent, 250_000, 1), (d, 125_000, 2), (c, 100_000, 1), (d, 50_000, 1)]


def test_register_model_without_sources(cast):
    m = register(cast, "eve", "model", [], price=5)
    assert record(cast, m).sources == [] and record(cast, m).expansion == 1


def test_register_model_weights_sum_to_exactly_one_million(cast):
    d1, d2 = create_datanet(cast, name="a"), create_datanet(cast, name="b")
    m = register(cast, "eve", "model", [(d1, 999_999), (d2, 1)])
    assert record(cast, m).sources == [[d1, 999_999], [d2, 1]]


def test_register_model_with_16_sources(cast):
    ds = [create_datanet(cast, name=f"d{i}") for i in range(16)]
    m = register(cast, "eve", "model", [(d, 62_500) for d in ds])
    assert len(record(cast, m).sources) == 16 and record(cast, m).expansion == 17


def test_register_model_id_from_tx_and_listed_downstream(cast):
    d = create_datanet(cast)
    _, raw = submit(cast, "eve", "register_model", "m", "", 0, [[d, 1]])
    m = compute_asset_id(tx_id(raw))
    m2 = register(cast, "gus", "model", [(m, 10)])
    tree, truncated = get_downstream(view(cast), d)
    assert not truncated
    assert [(n.asset_id, depth) for n, depth in tree.walk()] == [(d, 0), (m, 1), (m2, 2)]


def test_register_model_expansion_exactly_at_cap(cast):
    D, L, Y = build_wide_graph(cast)
    assert [record(cast, x).expansion for x in (D[0], L[0], Y[0])] == [1, 17, 273]
    # 1 + 3 * 273 + 12 * 17 = 1,024: counted with repetition (the D appear 816 times)
    z = register(cast, "eve", "model", [(y, 1_000) for y in Y] + [(m, 1_000) for m in L[:12]])
    assert record(cast, z).expansion == 1_024
    assert sum(1 for _ in get_upstream(view(cast), z).walk()) == 1_024


def _model(cast, sources, who="eve", price=0):
    return cast.tx(KEYS[who], "register_model", "m", "", price, [[s, w] for s, w in sources])


def test_invalid_expansion_too_large(cast):
    D, L, Y = build_wide_graph(cast)
    raw = _model(cast, [(y, 1_000) for y in Y] + [(m, 1_000) for m in L[:12]] + [(D[0], 1_000)])
    assert_rejected(cast, raw, Code.EXPANSION_TOO_LARGE, charged=True)


def test_invalid_too_many_sources(cast):
    ds = [create_datanet(cast, name=f"d{i}") for i in range(17)]
    assert_rejected(cast, _model(cast, [(d, 1) for d in ds]), Code.TOO_MANY_ITEMS, charged=False)


def test_invalid_unknown_source(cast):
    d = create_datanet(cast)
    assert_rejected(cast, _model(cast, [(d, 1), (b"\x05" * 32, 1)]), Code.UNKNOWN_ASSET, charged=True)


def test_invalid_edge_to_agent(cast):
    m = register(cast, "eve", "model", [])
    a = register(cast, "finn", "agent", [(m, 1)])
    assert_rejected(cast, _model(cast, [(a, 1)]), Code.WRONG_EDGE_KIND, charged=True)


def test_invalid_pending_contribution_source(cast):
    d = create_datanet(cast)
    c = contribute(cast, "ada", d, "x")
    assert_rejected(cast, _model(cast, [(c, 1)]), Code.NOT_ACCEPTED, charged=True)


def test_invalid_rejected_contribution_source(cast):
    d = create_datanet(cast)
    c = contribute(cast, "ada", d, "x")
    review(cast, "dana", c, False)
    assert_rejected(cast, _model(cast, [(c, 1)]), Code.NOT_ACCEPTED)


def test_invalid_weights_exceed_total(cast):
    d1, d2 = create_datanet(cast, name="a"), create_datanet(cast, name="b")
    assert_rejected(cast, _model(cast, [(d1, 600_000), (d2, 400_001)]), Code.WEIGHTS_EXCEED_TOTAL)


def test_invalid_duplicate_source(cast):
    d = create_datanet(cast)
    assert_rejected(cast, _model(cast, [(d, 1), (d, 2)]), Code.DUPLICATE_ITEM)


def test_invalid_zero_weight(cast):
    d = create_datanet(cast)
    assert_rejected(cast, _model(cast, [(d, 0)]), Code.OUT_OF_RANGE)


def test_invalid_negative_price(cast):
    assert_rejected(cast, _model(cast, [], price=-1), Code.OUT_OF_RANGE)


def test_invalid_source_not_a_pair(cast):
    d = create_datanet(cast)
    raw = cast.tx(KEYS["eve"], "register_model", "m", "", 0, [[d, 1, 2]])
    assert_rejected(cast, raw, Code.WRONG_TYPE)
