"""Property: over random transaction sequences (every kind, valid and invalid), the supply
invariant holds after every block: all holdings == genesis supply - burned."""
from __future__ import annotations

import tempfile

from hypothesis import HealthCheck, given, settings

from ledger_helpers import SMALL_PARAMS, make_chain
from state.supply import check_supply_invariant
from workload import Workload, blocks, prelude


def run_plan(chain, plan):
    work = Workload(chain)
    for step in prelude(work):
        result = chain.apply(step())
        assert all(r.ok for r in result.tx_results), [(r.kind, r.code, r.log) for r in result.tx_results]
        work.note_created(result)
        yield result
    for missing, acts in plan:
        txs = [work.tx(a) for a in acts]
        signers = None
        if missing is not None and chain.ledger.height >= 1:
            skip = chain.validators[missing].consensus_address
            vs = chain.ledger.validator_set(chain.ledger.height)
            signers = [m.address for m in vs if m.address != skip]
            if not vs.is_quorum(sum(m.voting_power for m in vs if m.address in signers)):
                signers = None
        result = chain.apply(txs, signers=signers)
        work.note_created(result)
        yield result


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=blocks)
def test_supply_invariant_at_every_block(plan):
    with tempfile.TemporaryDirectory() as d:
        chain = make_chain(d + "/db", params=SMALL_PARAMS)   # checks the invariant per block
        try:
            for _ in run_plan(chain, plan):
                pass
            check_supply_invariant(chain.state)
        finally:
            chain.ledger.store.close()
