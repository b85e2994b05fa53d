"""node/poa/chain.py reads exactly a datanet's accepted contributions from state."""
from __future__ import annotations

import pytest
import trio

from asset_helpers import accepted, cast_chain, content, contribute, create_datanet, review
from node.poa.chain import ChainDataError, read_accepted_contributions


def read_all(chain, datanet):
    async def read(key):
        return chain.ledger.store.get(key)
    return trio.run(read_accepted_contributions, read, datanet)


def test_read_accepted_contributions_skips_pending_rejected_and_other_datanets(make):
    chain = cast_chain(make)
    notes = create_datanet(chain)
    other = create_datanet(chain, name="other")
    ada = accepted(chain, "ada", notes, "ada", 600_000)
    contribute(chain, "bao", notes, "bao")                           # pending
    spam = contribute(chain, "eve", notes, "spam")
    review(chain, "dana", spam, accept=False)
    chidi = accepted(chain, "chidi", notes, "chidi", 100_000)
    accepted(chain, "gus", other, "gus", 1)
    got = read_all(chain, notes)
    assert [(c.contribution_id, c.content_hash) for c in got] == [(ada, content("ada")), (chidi, content("chidi"))]


def test_read_accepted_contributions_refuses_a_non_datanet(make):
    chain = cast_chain(make)
    notes = create_datanet(chain)
    ada = accepted(chain, "ada", notes, "ada", 1)
    with pytest.raises(ChainDataError, match="not a datanet"):
        read_all(chain, ada)
