"""register_agent(name, metadata_uri, price, sources): built on models and agents."""
from __future__ import annotations

from asset_helpers import (  # noqa: F401
    ADDR, KEYS, accepted, build_wide_graph, cast, create_datanet, record, register,
)
from ledger_helpers import assert_rejected, view
from state.asset_records import AssetKind
from state.errors import Code
from state.graph import get_upstream


def test_register_agent_on_a_model(cast):
    d = create_datanet(cast)
    m = register(cast, "eve", "model", [(d, 400_000)])
    a = register(cast, "finn", "agent", [(m, 300_000)], price=1_000_000, name="triage")
    rec = record(cast, a)
    assert (rec.kind, rec.creator, rec.price, rec.name) == (AssetKind.AGENT, ADDR["finn"], 1_000_000, "triage")
    assert rec.sources == [[m, 300_000]] and rec.expansion == 3


def test_register_agent_on_agents_and_models(cast):
    m = register(cast, "eve", "model", [])
    a1 = register(cast, "finn", "agent", [(m, 100_000)])
    a2 = register(cast, "gus", "agent", [(a1, 200_000), (m, 300_000)])
    assert record(cast, a2).expansion == 1 + 2 + 1
    tree = get_upstream(view(cast), a2)
    assert [(n.asset_id, n.path_ppm) for n, _ in tree.walk()] == [
        (a2, 1_000_000), (a1, 200_000), (m, 20_000), (m, 300_000)]


def test_register_agent_with_16_sources(cast):
    ms = [register(cast, "eve", "model", [], name=f"m{i}") for i in range(16)]
    a = register(cast, "finn", "agent", [(m, 62_500) for m in ms])
    assert record(cast, a).expansion == 17


def test_register_agent_expansion_exactly_at_cap(cast):
    D, L, Y = build_wide_graph(cast)
    a = register(cast, "finn", "agent", [(y, 1) for y in Y] + [(m, 1) for m in L[:12]])
    assert record(cast, a).expansion == 1_024


def _agent(cast, sources, price=0):
    return cast.tx(KEYS["finn"], "register_agent", "a", "", price, [[s, w] for s, w in sources])


def test_invalid_edge_to_datanet(cast):
    d = create_datanet(cast)
    assert_rejected(cast, _agent(cast, [(d, 1)]), Code.WRONG_EDGE_KIND, charged=True)


def test_invalid_edge_to_contribution(cast):
    d = create_datanet(cast)
    c = accepted(cast, "ada", d, "x", 1)
    assert_rejected(cast, _agent(cast, [(c, 1)]), Code.WRONG_EDGE_KIND, charged=True)


def test_invalid_unknown_source(cast):
    assert_rejected(cast, _agent(cast, [(b"\x03" * 32, 1)]), Code.UNKNOWN_ASSET, charged=True)


def test_invalid_expansion_too_large(cast):
    D, L, Y = build_wide_graph(cast)
    raw = _agent(cast, [(y, 1) for y in Y] + [(m, 1) for m in L[:13]])
    assert_rejected(cast, raw, Code.EXPANSION_TOO_LARGE, charged=True)


def test_invalid_too_many_sources(cast):
    ms = [register(cast, "eve", "model", [], name=f"m{i}") for i in range(17)]
    assert_rejected(cast, _agent(cast, [(m, 1) for m in ms]), Code.TOO_MANY_ITEMS, charged=False)


def test_invalid_weights_exceed_total(cast):
    m1, m2 = register(cast, "eve", "model", [], name="a"), register(cast, "eve", "model", [], name="b")
    assert_rejected(cast, _agent(cast, [(m1, 999_999), (m2, 2)]), Code.WEIGHTS_EXCEED_TOTAL)


def test_invalid_price_overflow(cast):
    assert_rejected(cast, _agent(cast, [], price=2**63), Code.OUT_OF_RANGE)


def test_invalid_name_wrong_type(cast):
    raw = cast.tx(KEYS["finn"], "register_agent", b"a", "", 0, [])
    assert_rejected(cast, raw, Code.WRONG_TYPE)
