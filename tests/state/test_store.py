"""The LevelDB store: heights, reads, history, records, bad input, and the app hash against
an independent reference implementation of the tree's rules (docs/store.md)."""
import random
import tempfile
from hashlib import sha256

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from state.proof import verify_proof
from state.store import Store, StoreError
from state.tree import EMPTY_ROOT


# --- reference: the tree's rules written as plainly as possible ----------------------------
def _nibble(kh: bytes, depth: int) -> int:
    return int(kh.hex()[depth], 16)


def _ref_subtree(leaves, depth):
    """(kind, ref) of the canonical subtree of (keyhash, valuehash) pairs; None if empty."""
    if not leaves:
        return None
    if len(leaves) == 1:
        return 2, leaves[0][0] + leaves[0][1]
    groups = [[] for _ in range(16)]
    for kh, vh in leaves:
        groups[_nibble(kh, depth)].append((kh, vh))
    kinds = bytearray(16)
    refs = b""
    for i, group in enumerate(groups):
        sub = _ref_subtree(group, depth + 1)
        if sub is not None:
            kinds[i], ref = sub
            refs += ref
    return 1, sha256(b"\x01" + bytes(kinds) + refs).digest()


def reference_root(state: dict) -> bytes:
    leaves = [(sha256(k).digest(), sha256(v).digest()) for k, v in state.items()]
    top = _ref_subtree(leaves, 0)
    if top is None:
        return bytes(32)
    kind, ref = top
    return sha256(b"\x00" + ref).digest() if kind == 2 else ref


def _mine_shared_prefix_keys() -> list[bytes]:
    """Keys whose hashes share long prefixes, so that nodes with a single (internal) child
    occur, plus keys that branch off such a chain at each depth above it."""
    candidates = [b"p%d" % i for i in range(30_000)]
    hexes = {k: sha256(k).hexdigest() for k in candidates}
    by_prefix: dict[str, list[bytes]] = {}
    for k in candidates:
        by_prefix.setdefault(hexes[k][:4], []).append(k)
    pairs = [ks[:2] for ks in by_prefix.values() if len(ks) >= 2][:3]
    found: list[bytes] = []
    for pair in pairs:
        found += pair
        prefix = hexes[pair[0]][:4]
        for j in (1, 2, 3):  # one key sharing exactly j nibbles with the pair
            found.append(next(k for k in candidates if hexes[k][:j] == prefix[:j]
                              and hexes[k][j] != prefix[j]))
    return found


DEEP_KEYS = _mine_shared_prefix_keys()
KEY_POOL = [b"", b"a", b"b", b"acct/1", b"acct/2", b"x" * 40] + [b"k%d" % i for i in range(24)] \
    + DEEP_KEYS


def test_deep_keys_really_share_prefixes():
    hexes = sorted(sha256(k).hexdigest() for k in DEEP_KEYS)
    assert len(DEEP_KEYS) == 15
    assert sum(a[:4] == b[:4] for a, b in zip(hexes, hexes[1:])) >= 3
    assert sum(a[:3] == b[:3] for a, b in zip(hexes, hexes[1:])) >= 6


# --- basics ------------------------------------------------------------------------------
def test_fresh_store_is_empty(tmp_path):
    with Store(tmp_path / "db") as store:
        assert store.height == 0
        assert store.app_hash == EMPTY_ROOT
        assert store.get(b"a") is None
        with pytest.raises(StoreError) as e:
            store.app_hash_at(0)
        assert e.value.code == "unknown_height"


def test_a_store_open_twice_names_the_reason(tmp_path):
    with Store(tmp_path / "db"):
        with pytest.raises(StoreError) as e:
            Store(tmp_path / "db")
        assert e.value.code == "open_failed"


def test_commit_get_get_at_and_records(tmp_path):
    with Store(tmp_path / "db") as store:
        h1 = store.commit(1, {b"a": b"1", b"b": b"2"}, {b"block/1": b"B1"})
        h2 = store.commit(2, {b"a": b"10", b"b": None, b"c": b"3"}, {b"block/2": b"B2"})
        h3 = store.commit(3, {b"b": b"again"}, {})
        assert (store.height, store.app_hash) == (3, h3)
        assert store.get(b"a") == b"10" and store.get(b"b") == b"again"
        assert [store.get_at(b"a", h) for h in (1, 2, 3)] == [b"1", b"10", b"10"]
        assert [store.get_at(b"b", h) for h in (1, 2, 3)] == [b"2", None, b"again"]
        assert [store.get_at(b"c", h) for h in (1, 2, 3)] == [None, b"3", b"3"]
        assert [store.app_hash_at(h) for h in (1, 2, 3)] == [h1, h2, h3]
        assert h1 == reference_root({b"a": b"1", b"b": b"2"})
        assert h2 == reference_root({b"a": b"10", b"c": b"3"})
        assert store.get_record(b"block/1") == b"B1" and store.get_record(b"block/2") == b"B2"
        # records are not state: they do not move the app hash
        assert h3 == reference_root({b"a": b"10", b"b": b"again", b"c": b"3"})


def test_records_can_be_deleted_and_empty_blocks_keep_the_root(tmp_path):
    with Store(tmp_path / "db") as store:
        h1 = store.commit(1, {b"k": b"v"}, {b"r1": b"x", b"r2": b"y"})
        assert store.commit(2, {}, {b"r1": None}) == h1
        assert store.get_record(b"r1") is None and store.get_record(b"r2") == b"y"
        assert store.commit(3, {}) == h1 and store.app_hash_at(3) == h1


def test_records_stay_out_of_the_app_hash(tmp_path):
    with Store(tmp_path / "a") as a, Store(tmp_path / "b") as b:
        assert a.commit(1, {b"k": b"v"}, {b"r": b"1"}) == b.commit(1, {b"k": b"v"}, {})


def test_genesis_at_height_zero_then_strictly_next(tmp_path):
    with Store(tmp_path / "db") as store:
        store.commit(0, {b"g": b"genesis"})
        assert store.app_hash_at(0) == store.app_hash
        for bad in (0, 2, -1, "1", 1.0):
            with pytest.raises(StoreError) as e:
                store.commit(bad, {b"x": b"y"})
            assert e.value.code == "bad_height"
        store.commit(1, {b"x": b"y"})
        assert store.height == 1


def test_first_commit_may_start_above_zero(tmp_path):
    with Store(tmp_path / "db") as store:
        store.commit(7, {b"k": b"v"})
        assert store.height == 7 and store.get_at(b"k", 7) == b"v"
        with pytest.raises(StoreError):
            store.get_at(b"k", 6)


@pytest.mark.parametrize("changes,code", [
    ({"text-key": b"v"}, "bad_key"),
    ({b"k": "text-value"}, "bad_value"),
    ({b"k": 5}, "bad_value"),
    ({b"k" * 2000: b"v"}, "bad_key"),
])
def test_bad_changes_rejected_and_nothing_changes(tmp_path, changes, code):
    with Store(tmp_path / "db") as store:
        h1 = store.commit(1, {b"a": b"1"})
        with pytest.raises(StoreError) as e:
            store.commit(2, {b"b": b"2", **changes})
        assert e.value.code == code
        assert (store.height, store.app_hash, store.get(b"b")) == (1, h1, None)
        assert store.commit(2, {b"b": b"2"}) == reference_root({b"a": b"1", b"b": b"2"})


def test_bad_record_rejected_and_nothing_changes(tmp_path):
    with Store(tmp_path / "db") as store:
        h1 = store.commit(1, {b"a": b"1"})
        with pytest.raises(StoreError) as e:
            store.commit(2, {b"a": b"2"}, {b"r": 7})
        assert e.value.code == "bad_value"
        assert (store.height, store.app_hash, store.get(b"a"), store.get_record(b"r")) == \
            (1, h1, b"1", None)


def test_reads_with_a_non_bytes_key_name_the_reason(tmp_path):
    with Store(tmp_path / "db") as store:
        store.commit(1, {b"a": b"1"})
        for read in (store.get, store.get_record, lambda k: store.get_at(k, 1), store.prove):
            with pytest.raises(StoreError) as e:
                read("a")
            assert e.value.code == "bad_key"


def test_get_at_and_prove_refuse_uncommitted_heights(tmp_path):
    with Store(tmp_path / "db") as store:
        store.commit(1, {b"a": b"1"})
        for h in (2, -1, 0):
            with pytest.raises(StoreError) as e:
                store.get_at(b"a", h)
            assert e.value.code in ("unknown_height", "bad_height")
            with pytest.raises(StoreError):
                store.prove(b"a", h)


def test_delete_absent_key_is_a_no_op(tmp_path):
    with Store(tmp_path / "db") as store:
        h1 = store.commit(1, {b"a": b"1", b"b": b"2"})
        assert store.commit(2, {b"zzz": None}) == h1
        assert store.get_at(b"zzz", 2) is None


def test_delete_everything_returns_to_the_empty_root(tmp_path):
    with Store(tmp_path / "db") as store:
        keys = {b"k%d" % i: b"v" for i in range(300)}
        store.commit(1, keys)
        store.commit(2, {k: None for k in list(keys)[:150]})
        assert store.app_hash == reference_root(dict(list(keys.items())[150:]))
        assert store.commit(3, {k: None for k in list(keys)[150:]}) == EMPTY_ROOT
        assert store.get(b"k1") is None and store.get_at(b"k1", 1) == b"v"
        assert store.commit(4, {b"again": b"x"}) == reference_root({b"again": b"x"})


# --- the root is a function of the final key/value set only -------------------------------
batches = st.lists(
    st.dictionaries(st.sampled_from(KEY_POOL), st.none() | st.binary(max_size=6), max_size=14),
    min_size=1, max_size=6)


@settings(max_examples=50, deadline=None)
@given(batches, st.integers(0, 3))
def test_root_depends_only_on_final_state_and_matches_reference(blocks, cache_choice):
    cache_size = [0, 3, 50, 2_000_000][cache_choice]  # also exercise nodes read from disk
    model: dict = {}
    history = {}
    with tempfile.TemporaryDirectory() as d:
        with Store(d + "/inc", node_cache_size=cache_size) as inc:
            for height, changes in enumerate(blocks, start=1):
                root = inc.commit(height, changes)
                for k, v in changes.items():
                    if v is None:
                        model.pop(k, None)
                    else:
                        model[k] = v
                assert root == reference_root(model)
                history[height] = (root, dict(model))
            # every key in the pool proves correctly at every height (historical proofs)
            for height, (app_hash, state) in history.items():
                assert inc.app_hash_at(height) == app_hash
                for k in KEY_POOL:
                    value, proof = inc.prove(k, height)
                    assert value == state.get(k) == inc.get_at(k, height)
                    assert verify_proof(app_hash, k, value, proof)
                    assert not verify_proof(app_hash, k, b"forged", proof)
        with Store(d + "/once") as once:
            # the same final set in one batch, inserted in reverse order
            assert once.commit(1, dict(reversed(list(model.items())))) == root


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(KEY_POOL[:8]), st.none() | st.binary(max_size=4), st.booleans()),
                min_size=1, max_size=40), st.integers(1, 4))
def test_get_through_the_value_cache_is_the_latest_committed_value(ops, cache_size):
    """Reads (absent keys too) and commits interleaved, a cache smaller than the keys in
    play: every get is the latest committed value, and a commit that fails before its
    write leaves what the cache answers untouched."""
    model: dict = {}
    with tempfile.TemporaryDirectory() as d, Store(d, value_cache_size=cache_size) as store:
        height = 0
        for key, value, commit in ops:
            assert store.get(key) == model.get(key)
            if commit:
                height += 1
                store.commit(height, {key: value})
                if value is None:
                    model.pop(key, None)
                else:
                    model[key] = value
            else:
                with pytest.raises(StoreError):
                    store.commit(height + 1, {key: value, b"bad": 1})
            assert store.get(key) == model.get(key)
        assert all(store.get(k) == model.get(k) for k in KEY_POOL[:8])


def test_large_random_workload_matches_reference(tmp_path):
    rng = random.Random(5)
    model: dict = {}
    with Store(tmp_path / "db", node_cache_size=500) as store:
        for height in range(1, 7):
            changes = {}
            for _ in range(800):
                k = b"key/%d" % rng.randrange(3000)
                changes[k] = None if rng.random() < 0.15 else rng.randbytes(rng.randrange(1, 30))
            root = store.commit(height, changes)
            for k, v in changes.items():
                if v is None:
                    model.pop(k, None)
                else:
                    model[k] = v
            assert root == reference_root(model)


def test_reopen_gives_same_state_and_continues_identically(tmp_path):
    rng = random.Random(9)
    blocks = [{b"k%d" % rng.randrange(400): (rng.randbytes(8) if rng.random() < 0.9 else None)
               for _ in range(120)} for _ in range(6)]
    with Store(tmp_path / "straight") as straight:
        expected = [straight.commit(h, c) for h, c in enumerate(blocks, 1)]
    for h, changes in enumerate(blocks[:3], 1):
        with Store(tmp_path / "reopened") as s:  # closed and reopened after every block
            assert s.commit(h, changes) == expected[h - 1]
    with Store(tmp_path / "reopened") as s:
        assert (s.height, s.app_hash) == (3, expected[2])
        assert [s.app_hash_at(h) for h in (1, 2, 3)] == expected[:3]
        for h, changes in enumerate(blocks[3:], 4):
            assert s.commit(h, changes) == expected[h - 1]
    with Store(tmp_path / "reopened") as s, Store(tmp_path / "straight") as t:
        for i in range(400):
            k = b"k%d" % i
            assert s.get(k) == t.get(k)
            assert s.get_at(k, 2) == t.get_at(k, 2)
            assert s.prove(k, 4) == t.prove(k, 4)


# --- bulk load (genesis of a large state, benchmarks) -------------------------------------
def test_bulk_load_equals_commit_and_continues_normally(tmp_path):
    state = {b"acct/%d" % i: b"v%d" % (i * 7) for i in range(3000)}
    with Store(tmp_path / "bulk") as bulk, Store(tmp_path / "plain") as plain:
        seen = []
        assert bulk.get(b"acct/5") is None              # read while empty: not kept as absent
        root = bulk.bulk_load(0, iter(state.items()), {b"genesis": b"g"}, progress=seen.append)
        assert root == plain.commit(0, state) == reference_root(state)
        assert seen[-1] == 3000
        assert bulk.get(b"acct/5") == b"v35" and bulk.get_at(b"acct/5", 0) == b"v35"
        assert bulk.get_record(b"genesis") == b"g"
        value, proof = bulk.prove(b"acct/9")
        assert value == b"v63" and verify_proof(root, b"acct/9", value, proof)
        nxt = {b"acct/1": None, b"new": b"n"}
        assert bulk.commit(1, nxt) == plain.commit(1, nxt)
    with Store(tmp_path / "bulk") as reopened:
        assert reopened.height == 1 and reopened.get(b"new") == b"n"


def test_bulk_load_refuses_a_used_store_and_an_interrupted_load(tmp_path):
    with Store(tmp_path / "used") as used:
        used.commit(1, {b"a": b"1"})
        with pytest.raises(StoreError) as e:
            used.bulk_load(2, [(b"b", b"2")])
        assert e.value.code == "not_empty"

    def dies_halfway():
        yield b"a", b"1"
        raise RuntimeError("killed")

    with Store(tmp_path / "half") as half:
        with pytest.raises(RuntimeError):
            half.bulk_load(0, dies_halfway())
    with pytest.raises(StoreError) as e:
        Store(tmp_path / "half")
    assert e.value.code == "incomplete_bulk_load"


def test_warm_cache_after_reopen_loads_the_latest_tree(tmp_path):
    state = {b"k%d" % i: b"v" for i in range(2000)}
    with Store(tmp_path / "db") as store:
        store.commit(1, state)
        expected = store.commit(2, {b"k1": b"changed", b"k2": None})
    with Store(tmp_path / "db") as reopened:
        cached = reopened.warm_cache()
        assert cached > 100  # ~2000 keys over 16-ary nodes: a few hundred internal nodes
        final = {**state, b"k1": b"changed", b"k3": b"x"}
        del final[b"k2"]
        assert reopened.commit(3, {b"k3": b"x"}) == reference_root(final)
        assert reopened.app_hash_at(2) == expected
