"""The supply invariant: every uopen is held by someone, and the total changes only by
explicit burns (slashes).

    sum over all state of holdings(key, value)  ==  genesis_supply - burned

Each table that holds uopen has a function (key, value) -> amount held, listed in
state/registry.py's HOLDINGS: accounts, bonds, unbonding entries, the fee pool, and the
asset side's escrows, pools, vaults, orders and attribution escrows.
Fees collected during a block live in the execution context only and are paid out by the
end of the block, so between blocks they are always in some balance or in the fee pool.
"""
from __future__ import annotations

from typing import Iterable

from state.codec import decode_value
from state.keys import BURNED, GENESIS_SUPPLY
from state.registry import HOLDINGS


def compute_holdings(items: Iterable[tuple[bytes, bytes]]) -> dict[bytes, int]:
    """Total held per HOLDINGS prefix over all state items."""
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
