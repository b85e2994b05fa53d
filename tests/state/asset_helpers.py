"""Helpers for the asset and attribution tests: a cast of named accounts and one-line
builders that submit a tx in its own block, assert it succeeded and return the new id."""
from __future__ import annotations

import hashlib

from ledger_helpers import START_BALANCE, addr, apply_ok, view
from state.asset_records import compute_asset_id, compute_contribution_id, get_asset, get_earned, get_pool
from state.attribution import get_accrued
from state.devchain import DevChain, seeded_key
from state.revenue import get_accrued_shares, iter_holders
from state.tx import PPM, tx_id

NAMES = ("ada", "bao", "chidi", "dana", "eve", "finn", "gus", "uma")
KEYS = {n: seeded_key(n) for n in NAMES}
ADDR = {n: addr(k) for n, k in KEYS.items()}
BOND = 1_000_000


def cast_chain(make, **kw) -> DevChain:
    """A chain where every name in NAMES holds START_BALANCE."""
    return make(accounts=[(k, START_BALANCE) for k in KEYS.values()], **kw)


def content(label: str) -> bytes:
    return hashlib.sha256(label.encode()).digest()


def submit(chain: DevChain, who: str, kind: str, *fields, fee: int | None = None):
    """Apply one tx in its own block, assert it succeeded; return (tx result, raw tx)."""
    raw = chain.tx(KEYS[who], kind, *fields, fee=fee)
    result = apply_ok(chain, raw)
    return result.tx_results[0], raw


def create_datanet(chain, who="dana", *, share_ppm=600_000, bond=BOND, curators=("dana",), name="notes") -> bytes:
    _, raw = submit(chain, who, "create_datanet", name, "ipfs://datanet", share_ppm, bond,
                    [ADDR[c] for c in curators])
    return compute_asset_id(tx_id(raw))


def contribute(chain, who: str, datanet: bytes, label: str, size: int = 1000) -> bytes:
    submit(chain, who, "contribute", datanet, content(label), size, f"ipfs://{label}")
    return compute_contribution_id(datanet, content(label))


def review(chain, curator: str, contribution: bytes, accept: bool = True, weight: int = 1) -> None:
    submit(chain, curator, "review", contribution, accept, weight if accept else 0)


def accepted(chain, who: str, datanet: bytes, label: str, weight: int, curator: str = "dana") -> bytes:
    c = contribute(chain, who, datanet, label)
    review(chain, curator, c, True, weight)
    return c


def register(chain, who: str, kind: str, sources, price: int = 0, name: str = "m") -> bytes:
    _, raw = submit(chain, who, f"register_{kind}", name, "ipfs://" + name, price,
                    [[s, w] for s, w in sources])
    return compute_asset_id(tx_id(raw))


def use(chain, who: str, asset: bytes, max_price: int, fee: int | None = None):
    return submit(chain, who, "use", asset, max_price, fee=fee)[0]


def balances(chain, *names) -> dict[str, int]:
    from ledger_helpers import balance
    return {n: balance(chain, ADDR[n]) for n in names}


def earned(chain, who: str, asset: bytes) -> int:
    return get_earned(view(chain), ADDR[who], asset)


def accrued(chain, contribution: bytes) -> int:
    """What a contribution accrued in its datanet's pool (not yet moved to its holders)."""
    return get_accrued(view(chain), contribution)


def holder_accrued(chain, who: str, asset: bytes) -> int:
    """What `who` accrued as a holder of `asset` and could claim now."""
    return get_accrued_shares(view(chain), asset, ADDR[who])


def holders(chain, asset: bytes) -> list[list]:
    """The asset's share table, [[address, shares], ...] sorted by address."""
    return sorted([a, n] for a, n in iter_holders(view(chain), asset, 1_000))


def claim(chain, who: str, asset: bytes) -> int:
    """`who` claims on `asset`; returns what it was paid."""
    result, _ = submit(chain, who, "claim", asset)
    return sum(e[3] for e in result.events if e[0] == "earn" and e[1] == ADDR[who])


def record(chain, asset: bytes):
    return get_asset(view(chain), asset)


def pool(chain, datanet: bytes):
    return get_pool(view(chain), datanet)


def submit_all(chain, who: str, kind: str, fields_list) -> list[bytes]:
    """Apply several txs of one sender in one block, assert all succeeded; return them."""
    raws = [chain.tx(KEYS[who], kind, *fields) for fields in fields_list]
    apply_ok(chain, *raws)
    return raws


def build_wide_graph(chain, who: str = "eve"):
    """Models whose upstream expansions are known: 16 datanets D (1 each), 16 models L
    citing every D (17 each), 3 models Y citing every L (1 + 16 * 17 = 273 each).
    Returns (D, L, Y) id lists."""
    d_raws = submit_all(chain, who, "create_datanet",
                        [(f"d{i}", "", 500_000, 0, [ADDR[who]]) for i in range(16)])
    D = [compute_asset_id(tx_id(r)) for r in d_raws]
    l_raws = submit_all(chain, who, "register_model",
                        [(f"l{i}", "", 0, [[d, 60_000] for d in D]) for i in range(16)])
    L = [compute_asset_id(tx_id(r)) for r in l_raws]
    y_raws = submit_all(chain, who, "register_model",
                        [(f"y{i}", "", 0, [[m, 60_000] for m in L]) for i in range(3)])
    Y = [compute_asset_id(tx_id(r)) for r in y_raws]
    return D, L, Y


def reference_payout(view_, asset, amount, out, pools):
    """An independent, recursive statement of the rule (for the 1,024-node graph): `out`
    gets what reaches each asset's holders, `pools` what enters each datanet's pool."""
    from state.asset_records import get_asset, get_pool
    rec = get_asset(view_, asset)
    rest = amount
    for s, w in rec.sources:
        part = amount * w // PPM
        rest -= part
        if part:
            reference_payout(view_, s, part, out, pools)
    if rec.kind == 1 and get_pool(view_, asset).total_weight:
        part = rest * rec.contributor_share_ppm // PPM
        pools[asset] = pools.get(asset, 0) + part
        rest -= part
    if rest:
        out[asset] = out.get(asset, 0) + rest


import pytest  # noqa: E402


@pytest.fixture
def cast(make):
    """A DevChain where ada, bao, chidi, dana, eve, finn, gus and uma are funded."""
    return cast_chain(make)


# --- the market ----------------------------------------------------------------------------
def place(chain, who: str, asset: bytes, side: str, shares: int, price: int, *, expires_in: int = 1_000,
          fee: int | None = None):
    """`who` places an order (expiring `expires_in` blocks from now); returns (order id, result)."""
    from state.order_book import compute_order_id
    result, raw = submit(chain, who, "place_order", asset, side, shares, price,
                         chain.ledger.height + 1 + expires_in, fee=fee)
    return compute_order_id(tx_id(raw)), result


def order(chain, order_id: bytes):
    from state.order_book import get_order
    return get_order(view(chain), order_id)


def position(chain, who: str, asset: bytes):
    from state.revenue import get_position
    return get_position(view(chain), asset, ADDR[who])


def book(chain, asset: bytes, side: str, limit: int = 100) -> list[tuple[int, int, int]]:
    """(price, shares, orders) per level, best first."""
    from state.order_book import iter_levels
    return list(iter_levels(view(chain), asset, side, limit))
