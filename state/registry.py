"""The ledger's tables, composed here in one place rather than by import side effects:
which function processes each tx kind, the steps that end every block, and which state
tables hold uopen (the supply invariant, state/supply.py).

Every kind module (accounts, staking, assets, poa) only defines functions; this module is
the one that knows them all, so state/app.py and state/supply.py import it and nothing
imports them back.
"""
from __future__ import annotations

from typing import Callable, Mapping

from state import assets, poa
from state.accounts import process_transfer
from state.asset_records import ASSET, POOL
from state.codec import decode_value
from state.context import Context
from state.keys import ACCOUNT, FEE_POOL, UNBONDING, VALIDATOR
from state.market import process_expiry_sweep
from state.order_book import ORDER, process_flush_open_orders
from state.poa_records import ATTRIBUTOR, ESCROW, get_attributor_holdings, get_escrow_holdings
from state.revenue import RIGHTS, process_flush_ranks
from state.staking import (
    process_create_validator,
    process_evidence,
    process_stake,
    process_unjail,
    process_unstake,
)
from state.tx import SignedTx

ProcessFn = Callable[[Context, SignedTx], None]
HoldingsFn = Callable[[bytes, bytes], int]

# kind -> process function
PROCESSORS: Mapping[str, ProcessFn] = {
    "transfer": process_transfer,
    "create_validator": process_create_validator,
    "stake": process_stake,
    "unstake": process_unstake,
    "unjail": process_unjail,
    "evidence": process_evidence,
    **assets.PROCESSORS,
    **poa.PROCESSORS,
}

# run at the end of every block, after its txs, in this order: the market's expiry sweep,
# settling Proof of Attribution escrows whose windows ended, then the sets kept in step
# once a block: the holders' rank sets (state/revenue.py) and the accounts' open orders
END_BLOCK: tuple[Callable[[Context], None], ...] = (process_expiry_sweep, poa.process_deadlines,
                                                     process_flush_ranks, process_flush_open_orders)


def _disjoint(table: dict[bytes, HoldingsFn]) -> dict[bytes, HoldingsFn]:
    """A key must belong to one table only, or its uopen would count twice."""
    for p in table:
        for q in table:
            if p != q and p.startswith(q):
                raise ValueError(f"holdings prefix {p!r} overlaps {q!r}")
    return table


# key prefix -> amount held by the value stored under a key with that prefix
HOLDINGS: Mapping[bytes, HoldingsFn] = _disjoint({
    ACCOUNT: lambda k, v: decode_value(v)[0],
    VALIDATOR: lambda k, v: decode_value(v)[1],
    UNBONDING: lambda k, v: sum(e[1] for e in decode_value(v)),
    FEE_POOL: lambda k, v: decode_value(v),
    ASSET: assets.get_asset_holdings,
    POOL: assets.get_pool_holdings,
    RIGHTS: assets.get_vault_holdings,
    ORDER: assets.get_order_holdings,
    ESCROW: get_escrow_holdings,
    ATTRIBUTOR: get_attributor_holdings,
})
