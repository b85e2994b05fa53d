"""Revenue rights by accumulator: any number of holders, O(1) per arrival, settlement
before any share movement, the top holder kept in an ordered set."""
from __future__ import annotations

import pytest

from asset_helpers import ADDR, KEYS, cast, claim, earned, holder_accrued, register, submit, use  # noqa: F401
from ledger_helpers import view
from state import ordered_set
from state.accounts import set_account
from state.asset_records import AssetKind, new_built_asset, set_asset
from state.attribution import process_use
from state.context import BlockInfo, Context
from state.params import Params
from state.revenue import (get_rights, get_top_holder, iter_holders, process_flush_ranks, process_issue_shares,
                           process_move_shares)
from state.tx import decode_tx, sign_tx

MODEL = b"\x4d" * 32
CREATOR = b"\x01" * 20


def _state_with_holders(n: int) -> dict[bytes, bytes]:
    """Committed state: a model at price 1,000 whose 1,000,000 shares are spread over `n`
    holders, and a funded user."""
    state: dict[bytes, bytes] = {}
    ctx = Context(state.get, BlockInfo("keys", 1, 0, Params()))
    set_asset(ctx, MODEL, new_built_asset(AssetKind.MODEL, CREATOR, "m", "", 1_000, [], 1))
    process_issue_shares(ctx, MODEL, CREATOR)
    for i in range(2, n + 1):
        process_move_shares(ctx, MODEL, CREATOR, i.to_bytes(20, "big"), 1)
    key = _user_key()
    set_account(ctx, _address(key), 10**12, 0)
    process_flush_ranks(ctx)
    state.update((k, v) for k, v in ctx.changes().items() if v is not None)
    return state


def _user_key():
    from state.devchain import seeded_key
    return seeded_key("keys-user")


def _address(key) -> bytes:
    from ledger_helpers import addr
    return addr(key)


def _keys_of_a_use(state: dict[bytes, bytes]) -> tuple[list[bytes], list[bytes]]:
    reads: list[bytes] = []
    ctx = Context(lambda k: (reads.append(k), state.get(k))[1], BlockInfo("keys", 2, 0, Params()))
    stx = decode_tx(sign_tx(_user_key(), "keys", 0, 1_000, "use", [MODEL, 1_000]))
    process_use(ctx, stx)
    return sorted(reads), sorted(ctx.changes())


def test_use_with_100000_holders_touches_the_keys_of_one_with_one_holder():
    one, many = _state_with_holders(1), _state_with_holders(100_000)
    top = list(iter_holders(_View(many), MODEL, 3))
    assert top[0] == (CREATOR, 1_000_000 - 99_999) and len(top) == 3
    assert _keys_of_a_use(one) == _keys_of_a_use(many)
    reads, writes = _keys_of_a_use(many)
    assert b"rev/" + MODEL in writes and len(writes) == 2     # the vault record and the payer


class _View:
    def __init__(self, state):
        self.state = state

    def get_record(self, key):
        from state.codec import decode_value
        v = self.state.get(key)
        return None if v is None else decode_value(v)


def test_revenue_belongs_to_whoever_held_the_shares_while_it_arrived(cast):
    m = register(cast, "eve", "model", [], price=1_000)
    use(cast, "uma", m, 1_000)                                  # 950 while eve held it all
    submit(cast, "eve", "transfer_shares", m, ADDR["gus"], 1_000_000)
    use(cast, "uma", m, 1_000)                                  # 950 while gus did
    assert earned(cast, "eve", m) == 950 and holder_accrued(cast, "eve", m) == 0
    assert holder_accrued(cast, "gus", m) == 950
    assert claim(cast, "gus", m) == 950 and get_rights(view(cast), m).vault == 0


def test_split_shares_never_overpay_the_vault(cast):
    """LEDGER.md's debt = shares * acc // SCALE, taken per holder, would pay 3 out of 2
    here; keeping each holder's sub-unit remainder pays exactly floor(sum of its parts)."""
    from ledger_helpers import apply_ok
    m = register(cast, "eve", "model", [], price=1)
    use(cast, "uma", m, 1)                                      # 1 uopen: acc = 1e12
    submit(cast, "eve", "transfer_shares", m, ADDR["gus"], 500_000)
    use(cast, "uma", m, 1)
    # eve: 1 (all shares) + 0.5 = 1.5 -> 1 in all; gus 0.5 -> 0; 1 left in the vault
    assert (earned(cast, "eve", m), holder_accrued(cast, "eve", m), holder_accrued(cast, "gus", m)) == (1, 0, 0)
    apply_ok(cast, cast.tx(KEYS["uma"], "use", m, 1))
    assert (holder_accrued(cast, "eve", m), holder_accrued(cast, "gus", m)) == (1, 1)
    assert get_rights(view(cast), m).vault == 2


def _swap(ctx, old: bytes, new: bytes) -> None:
    """`old` out and `new` in, applied in key order through one NodeBuffer (as a flush)."""
    nodes = ordered_set.NodeBuffer(ctx)
    ordered_set.process_apply_sorted(nodes, b"t/", sorted([(old, False), (new, True)]))
    nodes.flush()


@pytest.mark.parametrize("make_key", [
    lambda rng: rng.randrange(2**24).to_bytes(3, "big"),                   # spread keys
    lambda rng: rng.randrange(5_000).to_bytes(8, "big"),                   # prices: long shared prefixes
    lambda rng: rng.choice([b"\x0f\x41", b"\x0f\x42", b"\x00\x00"]) + rng.randrange(2**16).to_bytes(2, "big"),
])
def test_ordered_set_least_key_under_inserts_and_removals(make_key):
    import random
    state: dict[bytes, bytes] = {}
    ctx = Context(state.get, BlockInfo("set", 1, 0, Params()))
    rng = random.Random(7)
    keys = sorted({make_key(rng) for _ in range(600)})
    live: set[bytes] = set()
    for k in rng.sample(keys, len(keys)):
        assert ordered_set.insert(ctx, b"t/", k)
        live.add(k)
        assert ordered_set.first(ctx, b"t/") == min(live)
    assert not ordered_set.insert(ctx, b"t/", keys[0])
    assert list(ordered_set.iter_keys(ctx, b"t/", 700)) == sorted(live)
    for k in rng.sample(keys, len(keys)):
        if rng.random() < 0.2:                                   # churn: out and back in
            assert ordered_set.remove(ctx, b"t/", k) and ordered_set.insert(ctx, b"t/", k)
        if rng.random() < 0.3:                                   # replaced by a neighbour and back
            other = bytes(k[:-1]) + bytes([k[-1] ^ 1])
            if other not in live:
                _swap(ctx, k, other)
                assert ordered_set.first(ctx, b"t/") == min(live - {k} | {other})
                assert list(ordered_set.iter_keys(ctx, b"t/", 700)) == sorted(live - {k} | {other})
                _swap(ctx, other, k)
        assert ordered_set.remove(ctx, b"t/", k)
        live.discard(k)
        assert ordered_set.first(ctx, b"t/") == (min(live) if live else None)
        assert not ordered_set.remove(ctx, b"t/", k)
    assert all(v is None for v in ctx.changes().values())      # every node removed again


def test_ordered_set_depth_stays_small_for_shared_prefixes():
    """100,000 prices share 5 of their 8 bytes: path compression skips them, so the best
    one is 4 reads (root, 2 levels for 6,250 leaves, the leaf), not 8."""
    state: dict[bytes, bytes] = {}
    ctx = Context(state.get, BlockInfo("set", 1, 0, Params()))
    for p in range(1, 100_001):
        ordered_set.insert(ctx, b"t/", p.to_bytes(8, "big"))
    reads: list[bytes] = []
    view = Context(lambda k: (reads.append(k), ctx.get(k))[1], BlockInfo("set", 1, 0, Params()))
    assert ordered_set.first(view, b"t/") == (1).to_bytes(8, "big")
    assert len(reads) == 4, reads


def test_top_holder_is_known_without_reading_every_holder(cast):
    m = register(cast, "eve", "model", [], price=10)
    for i, n in enumerate([100_000, 300_000, 300_000]):
        submit(cast, "eve", "transfer_shares", m, bytes([9 - i]) * 20, n)
    # eve 300,000 and two accounts with 300,000: the smallest address of the three
    assert get_top_holder(view(cast), m) == min(ADDR["eve"], b"\x08" * 20, b"\x07" * 20)
