"""Property: two fresh stores fed the same blocks reach the same app hash at every height,
with or without the signature-verified shortcut, and produce the same results."""
from __future__ import annotations

import tempfile

from hypothesis import HealthCheck, given, settings

from ledger_helpers import SMALL_PARAMS, make_chain
from state.app import Ledger
from state.store import Store
from state.tx import tx_id
from test_supply_property import run_plan
from workload import blocks


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=blocks)
def test_determinism_same_blocks_same_app_hash(plan):
    with tempfile.TemporaryDirectory() as d:
        chain = make_chain(d + "/a", params=SMALL_PARAMS)
        replica = Ledger(Store(d + "/b"), chain.genesis)
        try:
            assert replica.app_hash == chain.ledger.app_hash
            for result in run_plan(chain, plan):
                block = result.block
                # the replica verifies every signature; the builder trusted none either way
                mine = replica.execute_block(block, frozenset(tx_id(t) for t in block.txs[::2]))
                assert [(r.code, r.charged) for r in mine.tx_results] == \
                       [(r.code, r.charged) for r in result.tx_results]
                assert mine.changes == result.changes
                assert replica.commit(mine) == result.app_hash
                assert replica.validator_set(block.height + 2) == chain.ledger.validator_set(block.height + 2)
        finally:
            chain.ledger.store.close()
            replica.store.close()
