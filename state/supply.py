"""The supply invariant: every uopen is held by someone, and the total changes only by
explicit burns (slashes).

    sum over all state of holdings(key, value)  ==  genesis_supply - burned

Each table that holds uopen registers a function (key, value) -> amount held. The ledger
core registers accounts, bonds, unbonding entries and the fee pool; state/assets.py
registers its escrows, pools and accrued amounts with `register_holdings` at import.
Fees collected during a block live in the execution context only and are paid out by the
end of the block, so between blocks they are always in some balance or in the fee pool.
"""
from __future__ import annotations

from typing import Callable, Iterable

from state.codec import decode_value
from state.keys import ACCOUNT, BURNED, FEE_POOL, GENESIS_SUPPLY, UNBONDING, VALIDATOR

HoldingsFn = Callable[[bytes, bytes], int]

# key prefix -> amount held by the value stored under a key with that prefix
HOLDINGS: dict[bytes, HoldingsFn] = {
    ACCOUNT: lambda k, v: decode_value(v)[0],
    VALIDATOR: lambda k, v: decode_value(v)[1],
    UNBONDING: lambda k, v: sum(e[1] for e in decode_value(v)),
    FEE_POOL: lambda k, v: decode_value(v),
}


def register_holdings(prefix: bytes, fn: HoldingsFn) -> None:
    """Declare that values under `prefix` hold uopen. Prefixes must not overlap."""
    for p in HOLDINGS:
        if p != prefix and (p.startswith(prefix) or prefix.startswith(p)):
            raise ValueError(f"holdings prefix {prefix!r} overlaps {p!r}")
    HOLDINGS[prefix] = fn


def compute_holdings(items: Iterable[tuple[bytes, bytes]]) -> dict[bytes, int]:
    """Total held per registered prefix over all state items."""
    import state.app  # noqa: F401 -- importing the app registers the asset tables
    totals = {p: 0 for p in HOLDINGS}
    prefixes = sorted(HOLDINGS, key=len, reverse=True)
    for k, v in items:
        for p in prefixes:
            if k.startswith(p):
                totals[p] += HOLDINGS[p](k, v)
                break
    return totals


def check_supply_invariant(state: dict[bytes, bytes]) -> int:
    """Raise AssertionError (with the breakdown) unless holdings == genesis - burned.
    Returns the total supply."""
    totals = compute_holdings(state.items())
    total = sum(totals.values())
    expected = decode_value(state[GENESIS_SUPPLY]) - decode_value(state[BURNED])
    if total != expected:
        detail = ", ".join(f"{p.decode(errors='replace')}={n}" for p, n in totals.items())
        raise AssertionError(f"supply {total} != genesis - burned = {expected} ({detail})")
    return total
