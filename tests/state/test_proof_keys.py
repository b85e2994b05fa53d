"""state/proof_keys.py names, for each proven query, exactly the key the ledger's own
reader of that table reads: a proof of that key proves what the ledger would read."""
from __future__ import annotations

import pytest

from state import proof_keys
from state.accounts import get_account
from state.asset_index import PAGE_SIZE, iter_list
from state.asset_records import MEMBERS, get_asset, get_earned, get_pool
from state.codec import encode_value
from state.graph import StateView
from state.poa_records import get_attributor, get_escrow, get_use_escrows

A, B = b"\x0a" * 32, b"\x0b" * 20


def keys_read(getter, values: dict[bytes, object] | None = None) -> list[bytes]:
    """The keys `getter(view)` reads, in order, over a state holding `values`."""
    values = values or {}
    seen: list[bytes] = []

    def read(key: bytes) -> bytes | None:
        seen.append(key)
        return encode_value(values[key]) if key in values else None
    getter(StateView(read))
    return seen


@pytest.mark.parametrize("proof_key, getter", [
    (proof_keys.account(B), lambda v: get_account(v, B)),
    (proof_keys.asset(A), lambda v: get_asset(v, A)),
    (proof_keys.earnings(B, A), lambda v: get_earned(v, B, A)),
    (proof_keys.pool(A), lambda v: get_pool(v, A)),
    (proof_keys.escrow(A), lambda v: get_escrow(v, A)),
    (proof_keys.use_escrows(A), lambda v: get_use_escrows(v, A)),
    (proof_keys.attributor(A), lambda v: get_attributor(v, A)),
], ids=["account", "asset", "earnings", "pool", "escrow", "use_escrows", "attributor"])
def test_each_proof_key_is_the_key_the_ledgers_reader_reads(proof_key, getter):
    assert keys_read(getter) == [proof_key]


@pytest.mark.parametrize("count", [0, 1, PAGE_SIZE, PAGE_SIZE + 1, 3 * PAGE_SIZE - 1])
def test_the_member_list_keys_are_its_length_then_every_page_in_order(count):
    ids = [bytes([i % 256]) * 32 for i in range(count)]
    pages = proof_keys.datanet_member_pages(A, count)
    assert len(pages) == -(-count // PAGE_SIZE) and len(set(pages)) == len(pages)
    values = {proof_keys.datanet_members(A): count,
              **{k: ids[i * PAGE_SIZE:(i + 1) * PAGE_SIZE] for i, k in enumerate(pages)}}
    got: list = []
    assert keys_read(lambda v: got.extend(iter_list(v, MEMBERS, A)), values) == \
        [proof_keys.datanet_members(A)] + pages
    assert got == ids
