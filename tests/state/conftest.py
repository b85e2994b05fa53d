"""Fixtures of the ledger tests: `chain` (a DevChain on a fresh store whose supply
invariant is checked after every block) and `make` (a factory for chains with other
parameters). Helpers live in ledger_helpers.py; import them from there, never from
conftest (see ledger_helpers.py for why)."""
from __future__ import annotations

import pytest

from ledger_helpers import make_chain


@pytest.fixture
def chain(tmp_path):
    c = make_chain(tmp_path / "db")
    yield c
    # the tracked copy must be exactly what the store holds
    for k, v in c.state.items():
        assert c.ledger.store.get(k) == v, k
    c.ledger.store.close()


@pytest.fixture
def make(tmp_path):
    """Factory for chains with other parameters: make(params=..., n_validators=...)."""
    made = []

    def factory(**kw):
        c = make_chain(tmp_path / f"db{len(made)}", **kw)
        made.append(c)
        return c
    yield factory
    for c in made:
        c.ledger.store.close()
